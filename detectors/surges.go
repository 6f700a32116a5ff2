package detectors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	// One pass reads the range's busy places and categories by window,
	// where each place's data begins, and their hourly counts from the
	// first window's lookback on; each window then takes its own slice of
	// that history (the lookback before its start).
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		end := ws[len(ws)-1].End
		now := make([]map[surgeKey][]risk.Evidence, len(ws))
		codes := map[string]bool{}
		err := eachRow(ctx, conn, surgeNowQuery, func(rows driver.Rows) error {
			var k surgeKey
			var i int64
			var sources, ids []string
			if err := rows.Scan(&k.level, &k.code, &k.category, &i, &sources, &ids); err != nil {
				return err
			}
			if now[i] == nil {
				now[i] = map[surgeKey][]risk.Evidence{}
			}
			ev := evidence(sources, ids)
			slices.SortFunc(ev, func(a, b risk.Evidence) int { return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID)) })
			now[i][k] = ev
			codes[k.code] = true
			return nil
		}, from.Unix(), int64(step.Seconds()), from, end, cfg.MinCount)
		if err != nil || len(codes) == 0 {
			return out, err
		}
		// History begins with a place's data: hours before its first matter
		// are unknown, not quiet (a first deployment, a backfill, a
		// township that joins the feeds). A place is not judged before its
		// data covers quietStart.
		first := map[surgePlace]time.Time{}
		err = eachRow(ctx, conn, surgeFirstQuery, func(rows driver.Rows) error {
			var p surgePlace
			var t time.Time
			if err := rows.Scan(&p.level, &p.code, &t); err != nil {
				return err
			}
			first[p] = t.UTC().Truncate(time.Hour)
			return nil
		}, slices.Collect(maps.Keys(codes)), end)
		if err != nil {
			return nil, err
		}
		history := map[surgeKey]map[time.Time]float64{}
		err = eachRow(ctx, conn, surgeHistoryQuery, func(rows driver.Rows) error {
			var k surgeKey
			var hour time.Time
			var n uint64
			if err := rows.Scan(&k.level, &k.code, &k.category, &hour, &n); err != nil {
				return err
			}
			if history[k] == nil {
				history[k] = map[time.Time]float64{}
			}
			history[k][hour.UTC()] = float64(n)
			return nil
		}, from.Add(-lookback), ws[len(ws)-1].Start, from, end, from.Unix(), int64(step.Seconds()), cfg.MinCount)
		if err != nil {
			return nil, err
		}
		// The windows are judged on every core: the test, not the queries,
		// is most of a range pass (each busy series is scored over its
		// eight weeks, every hour).
		judge := func(i int, w risk.Window) ([]risk.Alert, error) {
			var judged []surgeKey
			for _, k := range slices.SortedFunc(maps.Keys(now[i]), surgeKey.compare) {
				if f, ok := first[surgePlace{k.level, k.code}]; ok && w.Start.Sub(f) >= quietStart {
					judged = append(judged, k)
				}
			}
			// Every busy place × category of the hour is a test: alpha is
			// shared among them (Bonferroni), so that a county with many
			// categories and places is not told of chance blips more often
			// than one with few — alpha bounds the false surges of an hour.
			family := cfg
			family.Alpha = cfg.Alpha / float64(max(len(judged), 1))
			var alerts []risk.Alert
			for _, k := range judged {
				f := first[surgePlace{k.level, k.code}]
				var points []surge.Point
				start := w.Start.Add(-lookback)
				if f.After(start) {
					start = f
				}
				for h := start; h.Before(w.Start); h = h.Add(time.Hour) {
					points = append(points, surge.Point{T: h, V: history[k][h]}) // a missing hour had no matters
				}
				ev := now[i][k]
				s, err := surge.ScoreAt(points, surge.Point{T: w.Start, V: float64(len(ev))}, time.Hour, family)
				if err != nil {
					return nil, fmt.Errorf("score %s %s: %w", k.code, k.category, err)
				}
				if !s.Alert {
					continue
				}
				// A surge too small for the size of its place to be worth
				// watching (a county's 5 calls where 0.2 are usual) is none.
				lv := risk.Level(surge.Level(s.V, s.Expected, s.P, population[k.level]))
				if lv == "" {
					continue
				}
				alerts = append(alerts, risk.Alert{
					Labels:   risk.Labels{"detector": d.Name, "region": k.code, "category": k.category, "level": k.level},
					Window:   w,
					Level:    lv,
					Summary:  fmt.Sprintf("突增：%s %s %s起%d件，常态约%.1f件", k.code, k.category, w.Start.In(risk.CST).Format("01-02 15:04"), int(s.V), s.Expected),
					Numbers:  map[string]float64{"observed": s.V, "expected": s.Expected, "p": s.P, "score": s.Score},
					Evidence: ev,
					Seen:     w.End,
				})
			}
			return narrowest(alerts), nil
		}
		errs := make([]error, len(ws))
		next := make(chan int)
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(ws)) {
			wg.Go(func() {
				for i := range next {
					out[i], errs[i] = judge(i, ws[i])
				}
			})
		}
		for i := range ws {
			next <- i
		}
		close(next)
		wg.Wait()
		return out, errors.Join(errs...)
	}, d.Window)
	return d
}

// surgeKey is a series the surge test judges: a place and a category.
type surgeKey struct{ level, code, category string }

func (k surgeKey) compare(o surgeKey) int {
	return cmp.Or(cmp.Compare(k.level, o.level), cmp.Compare(k.code, o.code), cmp.Compare(k.category, o.category))
}

// surgePlace is a place of a level.
type surgePlace struct{ level, code string }

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

// surgeNowQuery lists, per window of the range (its index: the seconds
// from the range's start over the window's), the places and categories with
// at least min_count matters in it, with their evidence. Each record counts
// once, at the hour it was raised; deleted ones never.
const surgeNowQuery = `
SELECT lv.1 AS level, lv.2 AS code, category, intDiv(toInt64(toUInt32(occurred_at)) - ?, ?) AS slot, groupArray(source), groupArray(id)
FROM events FINAL
ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND lv.2 != ''
GROUP BY level, code, category, slot
HAVING count() >= ?`

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

// surgeHistoryQuery counts matters per hour from the first window's
// lookback to the last window, for the places and categories that may surge
// in a window of the range.
const surgeHistoryQuery = `
SELECT lv.1 AS level, lv.2 AS code, category, toStartOfHour(occurred_at) AS hour, count()
FROM events FINAL
ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND lv.2 != ''
  AND (lv.1, lv.2, category) IN (
      SELECT lv.1, lv.2, category FROM events FINAL
      ARRAY JOIN [('village', village), ('township', township), ('county', county), ('city', city)] AS lv
      WHERE status != 'deleted' AND lv.2 != '' AND occurred_at >= ? AND occurred_at < ?
      GROUP BY lv.1, lv.2, category, intDiv(toInt64(toUInt32(occurred_at)) - ?, ?) HAVING count() >= ?)
GROUP BY level, code, category, hour`
