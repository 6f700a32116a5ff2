package detectors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors/intent"
)

// Extreme (极端言行) reads the text of every record version as it is
// ingested and raises words of self-harm, violence, blocking roads, banners,
// going to Beijing or the province, in context (跳楼价 is a price, 北京路 a
// street: see package intent). Red for danger to life, blockades and going
// up; orange for banners and gatherings. It runs on ingestion time every few
// seconds, not on the event-time watermark: a threat must reach a desk
// seconds after it arrives. Each record is its own scope, and the alert's
// window is the record's own time, so a record found by two runs (the
// lookback overlaps) is one alert.
func Extreme(conn driver.Conn, lex *intent.Lexicon) Definition {
	d := Definition{Name: "extreme_intent", Schedule: "@every 5s", Timeout: 30 * time.Second, Window: 5 * time.Second, IngestTime: true}
	// scan reads the records of query and hands each alert to add.
	scan := func(ctx context.Context, add func(risk.Alert), query string, args ...any) error {
		return eachRow(ctx, conn, query, func(rows driver.Rows) error {
			var source, id, township, county, category, title, text string
			var at time.Time
			if err := rows.Scan(&source, &id, &township, &county, &category, &title, &text, &at); err != nil {
				return err
			}
			matches := lex.Find(title + "\n" + text)
			if len(matches) == 0 {
				return nil
			}
			region := placeOf(township, county)
			lv, words, classes := risk.LevelOrange, []string{}, []string{}
			for _, m := range matches {
				if m.Severity >= 2 {
					lv = risk.LevelRed
				}
				if !slices.Contains(words, m.Term) {
					words = append(words, m.Term)
				}
				if c := classNames[m.Class]; !slices.Contains(classes, c) {
					classes = append(classes, c)
				}
			}
			add(risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": region, "category": category, "subject": source + ":" + id},
				Window:   risk.Window{Start: at, End: at.Add(time.Second)},
				Level:    lv,
				Summary:  fmt.Sprintf("极端言行：%s %s 事项中出现%s（%s）", region, category, strings.Join(classes, "、"), strings.Join(words, "、")),
				Numbers:  map[string]float64{"matches": float64(len(matches))},
				Words:    words,
				Evidence: []risk.Evidence{{Source: risk.Source(source), ID: id}},
				Seen:     at,
			})
			return nil
		}, args...)
	}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		var out []risk.Alert
		err := scan(ctx, func(a risk.Alert) { out = append(out, a) }, extremeQuery, w.Start.Add(-extremeLookback), w.End)
		return out, err
	}
	// A replay reads the range once; each record's alert goes to the hour
	// of event time it was raised in.
	d.Replay, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		out := make([][]risk.Alert, len(windows(from, to, step)))
		err := scan(ctx, func(a risk.Alert) {
			if i := slot(a.Window.Start, from, step); i >= 0 && i < len(out) {
				out[i] = append(out[i], a)
			}
		}, extremeReplayQuery, from, to)
		return out, err
	}, time.Hour)
	return d
}

// extremeLookback re-reads a minute before the window: a big batch becomes
// visible seconds after the ingestion time stamped on its rows.
const extremeLookback = time.Minute

var classNames = map[intent.Class]string{
	intent.SelfHarm: "自伤自杀言行", intent.Violence: "暴力言行", intent.Blockade: "堵路堵门",
	intent.Banner: "拉横幅", intent.GoingUp: "扬言进京赴省上访", intent.Gathering: "聚集",
}

// extremeQuery reads versions by ingestion time. PREWHERE reads only the
// ingested_at column of every partition (4 bytes a row) before the texts of
// the few rows that match; a replay of old matters is scanned like new ones.
// At hundreds of millions of rows this wants a table ordered by ingestion
// time instead.
const extremeQuery = `
SELECT source, id, township, county, category, title, text, occurred_at
FROM event_versions
PREWHERE ingested_at >= ? AND ingested_at < ?
WHERE status != 'deleted'
ORDER BY ingested_at, source, id`

// extremeReplayQuery reads the matters raised in the window as they stand
// now, for backtests over event time: a record deleted upstream, or words a
// newer version took back, are never cited.
const extremeReplayQuery = `
SELECT source, id, township, county, category, title, text, occurred_at
FROM events FINAL
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
ORDER BY occurred_at, source, id`
