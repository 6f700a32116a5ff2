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

// TrendConfig tunes the trend detector.
type TrendConfig struct {
	Weeks    int     `yaml:"weeks"`     // weekly counts compared; default 4
	Tail     float64 `yaml:"tail"`      // chance of the last week over the first half at the same rate, at most; default 0.001
	MinLast  int     `yaml:"min_last"`  // matters in the last week, at least; default 5
	MinRatio float64 `yaml:"min_ratio"` // last week over the baseline, at least; default 1.5
}

// Trend (趋势上升) finds a sustained rise over weeks: per township and
// category, the weekly counts of the last Weeks weeks (ending with the
// window); the baseline is the median of the first half of the weeks
// (robust to an old burst); every later week is above it and the last is
// the highest, so one busy week is a surge, not a trend; and the last week
// is beyond chance over the first half (an exact test under Tail, see
// beyondChance), with at least MinLast matters and MinRatio times the
// baseline. Yellow; orange at
// three times the baseline.
//
// It compares only against weeks the feeds covered (trendCoverage): until
// a feed's history of a township and of a category reaches back to the
// first week compared, that feed's matters of the series are left out, and
// a series with no feed left is silent — History says so.
func Trend(conn driver.Conn, cfg TrendConfig) Definition {
	d := Definition{Name: "trend", Schedule: "20 * * * *", Timeout: 5 * time.Minute, Window: time.Hour}
	// One pass reads the feeds' histories and the weekly counts of the
	// whole range by day (by bucket: see trendBuckets); each window sums its
	// own weeks.
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		covs, err := trendCoverages(ctx, conn, ws, cfg.Weeks)
		if err != nil {
			return nil, err
		}
		b := newTrendBuckets(ws, cfg.Weeks)
		type row struct {
			source, region, category string
			n                        float64
		}
		byBucket := map[int64][]row{}
		err = eachRow(ctx, conn, trendQuery, func(rows driver.Rows) error {
			var r row
			var i int64
			var n uint64
			if err := rows.Scan(&r.source, &r.region, &r.category, &i, &n); err != nil {
				return err
			}
			r.n = float64(n)
			byBucket[i] = append(byBucket[i], r)
			return nil
		}, b.origin.Unix(), int64(b.size.Seconds()), ws[0].End.Add(-b.weeks), ws[len(ws)-1].End)
		if err != nil {
			return nil, err
		}
		for wi, w := range ws {
			type key struct{ region, category string }
			counts := map[key][]float64{}
			feeds := map[key][]string{} // the feeds counted in a series
			for i := b.index(w.End.Add(-b.weeks)); i < b.index(w.End); i++ {
				week := int((w.End.Sub(b.start(i)) - time.Second) / (7 * 24 * time.Hour)) // 0: the seven days before the window's end
				for _, r := range byBucket[i] {
					k := key{r.region, r.category}
					if !covs[wi].covers(r.source, r.region, r.category) {
						continue
					}
					if counts[k] == nil {
						counts[k] = make([]float64, cfg.Weeks)
					}
					counts[k][cfg.Weeks-1-week] += r.n // oldest first
					if !slices.Contains(feeds[k], r.source) {
						feeds[k] = append(feeds[k], r.source)
					}
				}
			}
			var alerts []risk.Alert
			for k, c := range counts {
				if !rising(c, cfg) {
					continue
				}
				last, base := c[len(c)-1], baseline(c)
				lv := risk.LevelYellow
				if last/base >= 3 {
					lv = risk.LevelOrange
				}
				weekly := make([]string, len(c))
				for i, v := range c {
					weekly[i] = fmt.Sprint(int(v))
				}
				slices.Sort(feeds[k])
				ev, err := lastWeek(ctx, conn, k.region, k.category, feeds[k], w.End)
				if err != nil {
					return nil, err
				}
				alerts = append(alerts, risk.Alert{
					Evidence: ev,
					Labels:   risk.Labels{"detector": d.Name, "region": k.region, "category": k.category},
					Window:   w,
					Level:    lv,
					Summary:  fmt.Sprintf("趋势上升：%s %s 近%d周每周%s件，持续上升", k.region, k.category, cfg.Weeks, strings.Join(weekly, "、")),
					Numbers:  map[string]float64{"last_week": last, "baseline": base},
					Seen:     w.End,
				})
			}
			slices.SortFunc(alerts, func(a, b risk.Alert) int { return compareLabels(a.Labels, b.Labels) })
			out[wi] = alerts
		}
		return out, nil
	}, d.Window)
	d.History = func(ctx context.Context, w risk.Window) (string, error) {
		covs, err := trendCoverages(ctx, conn, []risk.Window{w}, cfg.Weeks)
		if err != nil {
			return "", err
		}
		return covs[0].note(cfg.Weeks), nil
	}
	return d
}

// rising applies the rule of Trend to weekly counts, oldest first.
func rising(c []float64, cfg TrendConfig) bool {
	last, base := c[len(c)-1], baseline(c)
	for _, v := range c[len(c)/2 : len(c)-1] {
		if v < cfg.MinRatio*base || v >= last {
			return false
		}
	}
	return last >= float64(cfg.MinLast) && last/base >= cfg.MinRatio && beyondChance(c) < cfg.Tail
}

// beyondChance is the chance of a last week at least this far above the
// first half of the weeks if all had the same rate: given the matters of
// both, each falls in the last week with probability 1/(h+1), h the weeks
// of the first half (the exact conditional test of two Poisson rates). A
// baseline of two weeks is itself a noisy estimate; this test counts that,
// where a Poisson tail over the baseline as if it were known does not.
func beyondChance(c []float64) float64 {
	first := c[:len(c)/2]
	last := int(c[len(c)-1])
	n := last
	for _, v := range first {
		n += int(v)
	}
	return surge.BinomialTail(last, n, 1/float64(len(first)+1))
}

// baseline is the median of the first half of the weeks, at least 1: a
// quiet category's first matters are no rise of their own.
func baseline(c []float64) float64 { return max(median(c[:len(c)/2]), 1) }

// coverage is where each feed's history of the townships and categories
// begins: the earliest time it sent a version of one of their matters
// (updateTime, or the matter's raising if later). A backfill or a first
// deployment brings older matters only through their later versions, so
// their raising times would date the history too early; a version's own
// time does not.
type coverage struct {
	first      time.Time // the first week compared begins
	township   map[[2]string]time.Time
	category   map[[2]string]time.Time
	lateSeries map[[2]string]time.Time // series some feed's history is too short for: when they will all be
}

// covers reports whether source's history of township and of category
// reaches back to the first week compared.
func (c coverage) covers(source, township, category string) bool {
	t, okT := c.township[[2]string{source, township}]
	k, okK := c.category[[2]string{source, category}]
	return okT && okK && !t.After(c.first) && !k.After(c.first)
}

// note says, for centre staff, which series are too young to compare.
func (c coverage) note(weeks int) string {
	if len(c.lateSeries) == 0 {
		return ""
	}
	var ready time.Time
	for _, t := range c.lateSeries {
		ready = later(ready, t)
	}
	return fmt.Sprintf("历史不足%d周：%d个乡镇×类别的部分或全部数据来源起始不足%d周，暂不比较（最晚于%s起可比较）",
		weeks, len(c.lateSeries), weeks, ready.In(risk.CST).Format("2006-01-02"))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// trendBuckets cut the event time a range of windows reads into buckets
// that each window's weeks and lookback are made of: a day when the windows
// are days, in general the greatest length dividing both a window and a
// day, aligned on the windows' ends.
type trendBuckets struct {
	origin time.Time     // the start of bucket 0: the first window's lookback
	size   time.Duration // of a bucket
	weeks  time.Duration // compared, before a window's end
}

func newTrendBuckets(ws []risk.Window, weeks int) trendBuckets {
	step, day := ws[0].End.Sub(ws[0].Start), 24*time.Hour
	for day != 0 { // Euclid: the greatest common divisor of step and a day
		step, day = day, step%day
	}
	span := time.Duration(weeks) * 7 * 24 * time.Hour
	return trendBuckets{origin: ws[0].End.Add(-span - trendLookback), size: step, weeks: span}
}

// index is the bucket starting at t, a bucket boundary.
func (b trendBuckets) index(t time.Time) int64 { return int64(t.Sub(b.origin) / b.size) }

func (b trendBuckets) start(i int64) time.Time { return b.origin.Add(time.Duration(i) * b.size) }

// trendCoverages reads where the feeds' histories begin (see coverage)
// for each window of ws, the weeks before its end, in one query. It looks
// back a season before a window's first week: a feed silent on a category
// that long is as good as new to it.
func trendCoverages(ctx context.Context, conn driver.Conn, ws []risk.Window, weeks int) ([]coverage, error) {
	b := newTrendBuckets(ws, weeks)
	type series struct{ source, township, category string }
	type row struct {
		series
		since time.Time
	}
	byBucket := map[int64][]row{}
	err := eachRow(ctx, conn, trendCoverageQuery, func(rows driver.Rows) error {
		var r row
		var i int64
		if err := rows.Scan(&r.source, &r.township, &r.category, &i, &r.since); err != nil {
			return err
		}
		byBucket[i] = append(byBucket[i], r)
		return nil
	}, b.origin.Unix(), int64(b.size.Seconds()), b.origin, ws[len(ws)-1].End)
	if err != nil {
		return nil, fmt.Errorf("trend coverage: %w", err)
	}
	out := make([]coverage, len(ws))
	for wi, w := range ws {
		first := w.End.Add(-b.weeks)
		c := coverage{first: first, township: map[[2]string]time.Time{}, category: map[[2]string]time.Time{}, lateSeries: map[[2]string]time.Time{}}
		since := map[series]time.Time{}
		recent := map[series]bool{} // has matters in the weeks compared
		for i := b.index(first.Add(-trendLookback)); i < b.index(w.End); i++ {
			for _, r := range byBucket[i] {
				if t, ok := since[r.series]; !ok || r.since.Before(t) {
					since[r.series] = r.since
				}
				if !b.start(i).Before(first) {
					recent[r.series] = true
				}
			}
		}
		for s, t := range since {
			for _, k := range []struct {
				m   map[[2]string]time.Time
				key [2]string
			}{{c.township, [2]string{s.source, s.township}}, {c.category, [2]string{s.source, s.category}}} {
				if u, ok := k.m[k.key]; !ok || t.Before(u) {
					k.m[k.key] = t
				}
			}
		}
		for s := range recent {
			if c.covers(s.source, s.township, s.category) {
				continue
			}
			k := [2]string{s.township, s.category}
			since := later(c.township[[2]string{s.source, s.township}], c.category[[2]string{s.source, s.category}])
			c.lateSeries[k] = later(c.lateSeries[k], since.Add(w.End.Sub(first)))
		}
		out[wi] = c
	}
	return out, nil
}

// trendLookback is how far before the first week compared the coverage
// query looks: it bounds the partitions read.
const trendLookback = 90 * 24 * time.Hour

// trendCoverageQuery: per feed, township, category and bucket of event
// time (see trendBuckets), when its history begins (see coverage).
const trendCoverageQuery = `
SELECT source, township, category, intDiv(toInt64(toUInt32(occurred_at)) - ?, ?) AS bucket, min(greatest(updated_at, occurred_at))
FROM event_versions
WHERE township != '' AND occurred_at >= ? AND occurred_at < ?
GROUP BY source, township, category, bucket`

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else if n > 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return 0
}

// lastWeek is the evidence of a trend: the matters of its last week from
// the feeds counted, the first hundred.
func lastWeek(ctx context.Context, conn driver.Conn, township, category string, feeds []string, end time.Time) ([]risk.Evidence, error) {
	var ev []risk.Evidence
	err := eachRow(ctx, conn, `SELECT source, id FROM events FINAL
		WHERE status != 'deleted' AND has(?, source) AND township = ? AND category = ? AND occurred_at >= ? AND occurred_at < ?
		ORDER BY occurred_at, source, id LIMIT 100`, func(rows driver.Rows) error {
		var e risk.Evidence
		var src string
		if err := rows.Scan(&src, &e.ID); err != nil {
			return err
		}
		e.Source = risk.Source(src)
		ev = append(ev, e)
		return nil
	}, feeds, township, category, end.Add(-7*24*time.Hour), end)
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

// trendQuery counts matters per feed, township, category and bucket of
// event time (see trendBuckets).
const trendQuery = `
SELECT source, township, category, intDiv(toInt64(toUInt32(occurred_at)) - ?, ?) AS bucket, count()
FROM events FINAL
WHERE status != 'deleted' AND township != '' AND occurred_at >= ? AND occurred_at < ?
GROUP BY source, township, category, bucket`
