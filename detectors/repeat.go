package detectors

import (
	"cmp"
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
	// One pass reads, per person with a matter in the range, their matters
	// since the first window's lookback; each window counts its own Days.
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		end := ws[len(ws)-1].End
		err := eachRow(ctx, conn, repeatQuery, func(rows driver.Rows) error {
			var p personMatters
			if err := rows.Scan(&p.key, &p.sources, &p.ids, &p.times, &p.rejected, &p.townships, &p.counties, &p.categories); err != nil {
				return err
			}
			order := p.byTime()
			last := -1
			for _, j := range order {
				i := slot(p.times[j], from, step)
				if i < 0 || i >= len(ws) || i == last {
					continue
				}
				last = i
				if a, ok := p.alert(d.Name, cfg, ws[i], order); ok {
					out[i] = append(out[i], a)
				}
			}
			return nil
		}, ws[0].End.AddDate(0, 0, -cfg.Days), end, cfg.Times, from)
		for i := range out {
			out[i] = samePerson(out[i])
		}
		return out, err
	}, d.Window)
	return d
}

// personMatters is one person's matters, as read: parallel arrays.
type personMatters struct {
	key                                           string
	sources, ids, townships, counties, categories []string
	times                                         []time.Time
	rejected                                      []uint8 // an answer rejected, or upstream's repeat flag
}

// byTime orders the matters by when they were raised.
func (p personMatters) byTime() []int {
	order := make([]int, len(p.ids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(p.times[a].Compare(p.times[b]), cmp.Compare(p.sources[a], p.sources[b]), cmp.Compare(p.ids[a], p.ids[b]))
	})
	return order
}

// alert raises the person's repeat in w, one of their matters in it, when
// they raised Times or more in the Days up to its end.
func (p personMatters) alert(name string, cfg RepeatConfig, w risk.Window, order []int) (risk.Alert, bool) {
	var in []int
	for _, j := range order {
		if !p.times[j].Before(w.End.AddDate(0, 0, -cfg.Days)) && p.times[j].Before(w.End) {
			in = append(in, j)
		}
	}
	if len(in) < cfg.Times {
		return risk.Alert{}, false
	}
	var rejected uint8
	ev := make([]risk.Evidence, len(in))
	for i, j := range in {
		rejected = max(rejected, p.rejected[j])
		ev[i] = risk.Evidence{Source: risk.Source(p.sources[j]), ID: p.ids[j]}
	}
	n, newest := len(in), in[len(in)-1]
	lv := risk.LevelYellow
	switch {
	case n >= 3*cfg.Times:
		lv = risk.LevelRed
	case rejected == 1 || n >= 2*cfg.Times:
		lv = risk.LevelOrange
	}
	region := placeOf(p.townships[newest], p.counties[newest])
	why := ""
	if rejected == 1 {
		why = "，曾对答复不满意或申请复查"
	}
	return risk.Alert{
		Labels:   risk.Labels{"detector": name, "person": p.key},
		Window:   w,
		Level:    lv,
		Summary:  fmt.Sprintf("重复诉求：同一人%d天内反映%d次（最近一次%s，%s）%s", cfg.Days, n, p.categories[newest], region, why),
		Numbers:  map[string]float64{"matters": float64(n), "days": float64(cfg.Days), "rejected_answer": float64(rejected)},
		Category: p.categories[newest],
		Evidence: ev,
		Seen:     p.times[newest],
		Region:   region,
	}, true
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

// repeatQuery: per person, their matters from the first argument on, when
// they are at least Times and one is in the range (from the last
// argument on).
const repeatQuery = `
SELECT k, groupArray(source), groupArray(id), groupArray(occurred_at), groupArray(toUInt8(answer_rejected OR repeat)),
       groupArray(township), groupArray(county), groupArray(category)
FROM (
    SELECT source, id, occurred_at, answer_rejected, repeat, county, township, category, person_keys
    FROM events FINAL
    WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
)
ARRAY JOIN person_keys AS k
GROUP BY k
HAVING count() >= ? AND max(occurred_at) >= ?
ORDER BY k`
