package detectors

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// RepeatConfig tunes the repeat detector.
type RepeatConfig struct {
	Times int `yaml:"times"` // matters of one person that make a repeat; default 3
	Days  int `yaml:"days"`  // looking back this many days; default 30
}

// Repeat (重复诉求) finds a person — by the keyed hash of their ID or phone
// number, so across all feeds — who raised Times or more matters within
// Days, one of them in the window. Yellow; orange when an answer was
// rejected (不满意, 未解决, 复查, 复核, 重办) or upstream marks a repeat
// petition, or at twice Times; red at three times Times.
func Repeat(conn driver.Conn, cfg RepeatConfig) Definition {
	d := Definition{Name: "repeat", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		alerts, err := queryAlerts(ctx, conn, repeatQuery, func(rows driver.Rows) (risk.Alert, error) {
			var key, township, county, category string
			var n uint64
			var sources, ids []string
			var rejected uint8
			var last time.Time
			if err := rows.Scan(&key, &n, &sources, &ids, &rejected, &township, &county, &category, &last); err != nil {
				return risk.Alert{}, err
			}
			lv := risk.LevelYellow
			switch {
			case int(n) >= 3*cfg.Times:
				lv = risk.LevelRed
			case rejected == 1 || int(n) >= 2*cfg.Times:
				lv = risk.LevelOrange
			}
			region := placeOf(township, county)
			why := ""
			if rejected == 1 {
				why = "，曾对答复不满意或申请复查"
			}
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "person": key},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("重复诉求：同一人%d天内反映%d次（最近一次%s，%s）%s", cfg.Days, n, category, region, why),
				Numbers:  map[string]float64{"matters": float64(n), "days": float64(cfg.Days), "rejected_answer": float64(rejected)},
				Evidence: evidence(sources, ids),
				Seen:     last,
				Region:   region,
			}, nil
		}, w.End.AddDate(0, 0, -cfg.Days), w.End, cfg.Times, w.Start)
		if err != nil {
			return nil, err
		}
		return samePerson(alerts), nil
	}
	return d
}

// samePerson drops an alert whose evidence another alert already holds: a
// person known by ID and phone has two keys and the same matters.
func samePerson(alerts []risk.Alert) []risk.Alert {
	slices.SortStableFunc(alerts, func(a, b risk.Alert) int { return len(b.Evidence) - len(a.Evidence) })
	var kept []risk.Alert
	for _, a := range alerts {
		if !slices.ContainsFunc(kept, func(k risk.Alert) bool { return subset(a.Evidence, k.Evidence) }) {
			kept = append(kept, a)
		}
	}
	return kept
}

func subset(a, b []risk.Evidence) bool {
	for _, e := range a {
		if !slices.Contains(b, e) {
			return false
		}
	}
	return true
}

const repeatQuery = `
SELECT k, count() AS n, groupArray(source), groupArray(id), max(answer_rejected OR repeat),
       argMax(township, occurred_at), argMax(county, occurred_at), argMax(category, occurred_at), max(occurred_at) AS last
FROM (
    SELECT source, id, occurred_at, answer_rejected, repeat, county, township, category, person_keys
    FROM events FINAL
    WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
)
ARRAY JOIN person_keys AS k
GROUP BY k
HAVING n >= ? AND last >= ?
ORDER BY k`
