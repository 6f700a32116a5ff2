package detectors

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors/surge"
)

// TrendConfig tunes the trend detector.
type TrendConfig struct {
	Weeks    int     `yaml:"weeks"`     // weekly counts tested; default 8
	Alpha    float64 `yaml:"alpha"`     // one-sided Mann-Kendall level; default 0.05
	Tail     float64 `yaml:"tail"`      // the last week's Poisson tail over the baseline, at most; default 0.001
	MinLast  int     `yaml:"min_last"`  // matters in the last week, at least; default 5
	MinRatio float64 `yaml:"min_ratio"` // last week over the baseline, at least; default 1.5
}

// Trend (趋势上升) finds a sustained rise over weeks: per township and
// category, the weekly counts of the last Weeks weeks (ending with the
// window) go up by the Mann-Kendall test (rank-based, so one odd week
// neither makes nor hides a trend); the baseline is the median of the first
// half of the weeks (robust to an old burst); the week before last is above
// it, so one busy week is a surge, not a trend; and the last week is beyond
// chance over it (Poisson tail under Tail), with at least MinLast matters
// and MinRatio times the baseline. Rank tests alone are weak on eight small
// counts: a rise that starts three weeks ago barely moves them, which the
// count test on the last week catches. Yellow; orange at three times the
// baseline.
func Trend(conn driver.Conn, cfg TrendConfig) Definition {
	d := Definition{Name: "trend", Schedule: "30 6 * * *", Timeout: 5 * time.Minute, Window: 24 * time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		// Weeks before the first matter stored are unknown, not quiet: with
		// less history than Weeks every busy place would look like a rise.
		var first time.Time
		if err := conn.QueryRow(ctx, `SELECT min(occurred_at) FROM events`).Scan(&first); err != nil {
			return nil, fmt.Errorf("query first event: %w", err)
		}
		span := time.Duration(cfg.Weeks) * 7 * 24 * time.Hour
		if first.Unix() <= 0 || first.After(w.End.Add(-span+24*time.Hour)) { // a day's slack for the oldest week
			return nil, nil
		}
		type key struct{ region, category string }
		counts := map[key][]float64{}
		known := map[string]bool{} // townships with matters in the oldest week
		err := eachRow(ctx, conn, trendQuery, func(rows driver.Rows) error {
			var k key
			var week int64
			var n uint64
			if err := rows.Scan(&k.region, &k.category, &week, &n); err != nil {
				return err
			}
			if week < 0 || week >= int64(cfg.Weeks) {
				return nil
			}
			if counts[k] == nil {
				counts[k] = make([]float64, cfg.Weeks)
			}
			counts[k][cfg.Weeks-1-int(week)] = float64(n) // oldest first
			if week == int64(cfg.Weeks-1) {
				known[k.region] = true
			}
			return nil
		}, w.End, w.End.Add(-span), w.End)
		if err != nil {
			return nil, err
		}
		// A township with nothing at all in the oldest week was not in the
		// data yet (a feed that began to cover it): its rise is the data's.
		for k := range counts {
			if !known[k.region] {
				delete(counts, k)
			}
		}
		var out []risk.Alert
		for k, c := range counts {
			last, before := c[len(c)-1], c[len(c)-2]
			base := max(median(c[:len(c)/2]), 1)
			z := mannKendall(c)
			p := 1 - normalCDF(z)
			if p >= cfg.Alpha || before <= base || last < float64(cfg.MinLast) || last/base < cfg.MinRatio ||
				surge.UpperTail(last, base, 1) >= cfg.Tail {
				continue
			}
			lv := risk.LevelYellow
			if last/base >= 3 {
				lv = risk.LevelOrange
			}
			weekly := make([]string, len(c))
			for i, v := range c {
				weekly[i] = fmt.Sprint(int(v))
			}
			ev, err := lastWeek(ctx, conn, k.region, k.category, w.End)
			if err != nil {
				return nil, err
			}
			out = append(out, risk.Alert{
				Evidence: ev,
				Labels:   risk.Labels{"detector": d.Name, "region": k.region, "category": k.category},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("趋势上升：%s %s 近%d周每周%v件，持续上升", k.region, k.category, cfg.Weeks, weekly),
				Numbers:  map[string]float64{"last_week": last, "baseline": base, "z": z, "p": p},
				Seen:     w.End,
			})
		}
		slices.SortFunc(out, func(a, b risk.Alert) int { return compareLabels(a.Labels, b.Labels) })
		return out, nil
	}
	return d
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else if n > 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return 0
}

// lastWeek is the evidence of a trend: the matters of its last week, the
// first hundred.
func lastWeek(ctx context.Context, conn driver.Conn, township, category string, end time.Time) ([]risk.Evidence, error) {
	var ev []risk.Evidence
	err := eachRow(ctx, conn, `SELECT source, id FROM events FINAL
		WHERE status != 'deleted' AND township = ? AND category = ? AND occurred_at >= ? AND occurred_at < ?
		ORDER BY occurred_at LIMIT 100`, func(rows driver.Rows) error {
		var e risk.Evidence
		var src string
		if err := rows.Scan(&src, &e.ID); err != nil {
			return err
		}
		e.Source = risk.Source(src)
		ev = append(ev, e)
		return nil
	}, township, category, end.Add(-7*24*time.Hour), end)
	return ev, err
}

func compareLabels(a, b risk.Labels) int {
	if a["region"] != b["region"] {
		if a["region"] < b["region"] {
			return -1
		}
		return 1
	}
	if a["category"] < b["category"] {
		return -1
	}
	if a["category"] > b["category"] {
		return 1
	}
	return 0
}

// mannKendall returns the Mann-Kendall Z of x (positive for a rise), with
// the variance corrected for ties, which small weekly counts often have.
func mannKendall(x []float64) float64 {
	n := len(x)
	s := 0.0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case x[j] > x[i]:
				s++
			case x[j] < x[i]:
				s--
			}
		}
	}
	ties := map[float64]int{}
	for _, v := range x {
		ties[v]++
	}
	nf := float64(n)
	v := nf * (nf - 1) * (2*nf + 5)
	for _, t := range ties {
		tf := float64(t)
		v -= tf * (tf - 1) * (2*tf + 5)
	}
	v /= 18
	switch {
	case v <= 0:
		return 0
	case s > 0:
		return (s - 1) / math.Sqrt(v)
	case s < 0:
		return (s + 1) / math.Sqrt(v)
	}
	return 0
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// trendQuery counts matters per township, category and week; week 0 is the
// seven days before the window's end.
const trendQuery = `
SELECT township, category, toInt64(intDiv(toInt64(toUInt32(toDateTime(?, 'UTC'))) - toInt64(toUInt32(occurred_at)) - 1, 604800)) AS week, count()
FROM events FINAL
WHERE status != 'deleted' AND township != '' AND occurred_at >= ? AND occurred_at < ?
GROUP BY township, category, week`
