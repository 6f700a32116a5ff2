package detectors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors/surge"
)

// Surge (突增) counts the matters raised each hour in every village,
// township, county and city, per unified category, and tests the window's
// hour against the seasonal baseline of the same place and category over
// the past weeks (package surge: hour of day and day of week, robust to past
// surges and holidays, a count-aware test: 0→2 is not a surge, 3→15 is).
// The level grows with the excess and shrinks with the size of the place.
func Surge(conn driver.Conn, cfg surge.Config) Definition {
	d := Definition{Name: "surge", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	lookback := time.Duration(cfg.LookbackSeasons) * 7 * 24 * time.Hour
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		type key struct{ level, code, category string }
		now := map[key][]risk.Evidence{}
		err := eachRow(ctx, conn, surgeNowQuery, func(rows driver.Rows) error {
			var k key
			var sources, ids []string
			if err := rows.Scan(&k.level, &k.code, &k.category, &sources, &ids); err != nil {
				return err
			}
			now[k] = evidence(sources, ids)
			return nil
		}, w.Start, w.End, cfg.MinCount)
		if err != nil || len(now) == 0 {
			return nil, err
		}
		// History begins with a place's data: hours before its first matter
		// are unknown, not quiet (a first deployment, a backfill, a
		// township that joins the feeds). A place is not judged before its
		// data covers quietStart.
		type place struct{ level, code string }
		var codes []string
		for k := range now {
			codes = append(codes, k.code)
		}
		first := map[place]time.Time{}
		err = eachRow(ctx, conn, surgeFirstQuery, func(rows driver.Rows) error {
			var p place
			var t time.Time
			if err := rows.Scan(&p.level, &p.code, &t); err != nil {
				return err
			}
			first[p] = t.UTC().Truncate(time.Hour)
			return nil
		}, codes, w.Start)
		if err != nil {
			return nil, err
		}
		for k := range now {
			if f, ok := first[place{k.level, k.code}]; !ok || w.Start.Sub(f) < quietStart {
				delete(now, k)
			}
		}
		if len(now) == 0 {
			return nil, nil
		}
		from := w.Start.Add(-lookback)
		history := map[key]map[time.Time]float64{}
		err = eachRow(ctx, conn, surgeHistoryQuery, func(rows driver.Rows) error {
			var k key
			var hour time.Time
			var n uint64
			if err := rows.Scan(&k.level, &k.code, &k.category, &hour, &n); err != nil {
				return err
			}
			if _, ok := now[k]; ok {
				if history[k] == nil {
					history[k] = map[time.Time]float64{}
				}
				history[k][hour.UTC()] = float64(n)
			}
			return nil
		}, from, w.Start, w.Start, w.End, cfg.MinCount)
		if err != nil {
			return nil, err
		}
		var out []risk.Alert
		for k, ev := range now {
			var points []surge.Point
			start := from
			if f := first[place{k.level, k.code}]; f.After(start) {
				start = f
			}
			for h := start; h.Before(w.Start); h = h.Add(time.Hour) {
				points = append(points, surge.Point{T: h, V: history[k][h]}) // a missing hour had no matters
			}
			p := surge.Point{T: w.Start, V: float64(len(ev))}
			s, err := surge.ScoreAt(points, p, time.Hour, cfg)
			if err != nil {
				return nil, fmt.Errorf("score %s %s: %w", k.code, k.category, err)
			}
			if !s.Alert {
				continue
			}
			lv := risk.Level(surge.Level(s.V, s.Expected, s.P, population[k.level]))
			if lv == "" {
				lv = risk.LevelBlue
			}
			out = append(out, risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": k.code, "category": k.category, "level": k.level},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("突增：%s %s %s起%d件，常态约%.1f件", k.code, k.category, w.Start.In(risk.CST).Format("01-02 15:04"), int(s.V), s.Expected),
				Numbers:  map[string]float64{"observed": s.V, "expected": s.Expected, "p": s.P, "score": s.Score},
				Evidence: ev,
				Seen:     w.End,
			})
		}
		return narrowest(out), nil
	}
	return d
}

// ownPrefix is how much of a place's code its children share, by level.
var ownPrefix = map[string]int{"city": 4, "county": 6, "township": 9, "village": 12}

// narrowest drops a surge that a surge of a smaller place in it explains
// whole — the same matters, the same category: a county's only busy
// township need not be told twice, nor a city with one county in the data.
// The smaller place's alert keeps the higher level of the two.
func narrowest(alerts []risk.Alert) []risk.Alert {
	explained := make([]bool, len(alerts))
	for i, a := range alerts {
		n := ownPrefix[a.Labels["level"]]
		j := slices.IndexFunc(alerts, func(b risk.Alert) bool {
			return ownPrefix[b.Labels["level"]] > n && b.Labels["category"] == a.Labels["category"] &&
				strings.HasPrefix(b.Labels["region"], a.Labels["region"][:min(n, len(a.Labels["region"]))]) &&
				len(b.Evidence) == len(a.Evidence)
		})
		if j >= 0 {
			explained[i] = true
			alerts[j].Level = alerts[j].Level.Max(a.Level)
		}
	}
	var out []risk.Alert
	for i, a := range alerts {
		if !explained[i] {
			out = append(out, a)
		}
	}
	return out
}

// population is a typical size of each level of place, for surge.Level,
// until the desk directory knows the real ones.
var population = map[string]int{"village": 3_000, "township": 50_000, "county": 800_000, "city": 5_000_000}

// surgeNowQuery lists the places and categories with at least min_count
// matters in the window, with their evidence. Each record counts once, at
// the hour it was raised; deleted ones never.
const surgeNowQuery = `
SELECT lv.1 AS level, lv.2 AS code, category, groupArray(source), groupArray(id)
FROM events FINAL
ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND lv.2 != ''
GROUP BY level, code, category
HAVING count() >= ?`

// surgeHistoryQuery counts matters per hour before the window, for the
// places and categories that may surge in it.
// quietStart is how much of a place's data the surge test needs before it
// judges the place: an hour is compared with the same hour of the same
// weekday, seen twice.
const quietStart = 14 * 24 * time.Hour

// surgeFirstQuery finds when each place's data begins (deleted records too:
// they show the feed covered the place).
const surgeFirstQuery = `
SELECT lv.1 AS level, lv.2 AS code, min(occurred_at)
FROM events
ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
WHERE has(?, lv.2) AND occurred_at < ?
GROUP BY level, code`

const surgeHistoryQuery = `
SELECT lv.1 AS level, lv.2 AS code, category, toStartOfHour(occurred_at) AS hour, count()
FROM events FINAL
ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND lv.2 != ''
  AND (lv.1, lv.2, category) IN (
      SELECT lv.1, lv.2, category FROM events FINAL
      ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
      WHERE status != 'deleted' AND lv.2 != '' AND occurred_at >= ? AND occurred_at < ?
      GROUP BY lv.1, lv.2, category HAVING count() >= ?)
GROUP BY level, code, category, hour`
