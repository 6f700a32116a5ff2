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
	Tail     float64 `yaml:"tail"`      // chance of the last week over the first half at the same rate, at most; default 1e-4
	MinLast  int     `yaml:"min_last"`  // matters in the last week, at least; default 5
	MinRatio float64 `yaml:"min_ratio"` // every week of the second half over the baseline, at least; default 1.5
}

// Trend (趋势上升) finds a sustained rise over weeks: per township and
// category, the weekly counts of the last Weeks 7-day weeks before the
// window's end, every hour, so a rise is found within the hour it becomes
// significant; the baseline is the median of the first half of the weeks
// (robust to an old burst); every later week is at least MinRatio times it
// and the last is the highest, so one busy week is a surge, not a trend;
// and the last week is beyond chance over the first half (an exact test
// under Tail, see beyondChance), with at least MinLast matters. Tail is
// small because every series is tested every hour. Yellow; orange at three
// times the baseline.
//
// It compares only against weeks the feeds covered (trendCoverage): until
// a feed's history of a township and of a category reaches back to the
// first week compared, that feed's matters of the series are left out, and
// a series with no feed left is silent — History says so.
func Trend(conn driver.Conn, cfg TrendConfig) Definition {
	d := Definition{Name: "trend", Schedule: "20 * * * *", Timeout: 5 * time.Minute, Window: time.Hour}
	// One pass reads the feeds' histories and the counts of the whole range
	// by hour (by bucket: see trendBuckets); each window updates the weeks
	// of the one before.
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
		type feed struct{ source, region, category string }
		type row struct {
			feed
			n float64
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
		// Each window's weekly counts per feed, township and category come
		// from the last's: a bucket moves a week back as a week boundary
		// passes it (see weekly).
		byFeed := map[feed][]float64{} // oldest week first
		wk := weekly{b: b, weeks: cfg.Weeks}
		for wi, w := range ws {
			wk.advance(w.End, func(i int64, from, to int) {
				for _, r := range byBucket[i] {
					c := byFeed[r.feed]
					if c == nil {
						c = make([]float64, cfg.Weeks)
						byFeed[r.feed] = c
					}
					if from >= 0 {
						c[cfg.Weeks-1-from] -= r.n
					}
					if to < cfg.Weeks {
						c[cfg.Weeks-1-to] += r.n
					}
				}
			})
			type key struct{ region, category string }
			counts := map[key][]float64{}
			feeds := map[key][]string{} // the feeds counted in a series
			for r, c := range byFeed {
				if !slices.ContainsFunc(c, func(v float64) bool { return v != 0 }) || !covs[wi].covers(r.source, r.region, r.category) {
					continue
				}
				k := key{r.region, r.category}
				if counts[k] == nil {
					counts[k] = make([]float64, cfg.Weeks)
				}
				for i, v := range c {
					counts[k][i] += v
				}
				if !slices.Contains(feeds[k], r.source) {
					feeds[k] = append(feeds[k], r.source)
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

// weekly follows the week boundaries of a run of windows, in order: the
// ends of the weeks before a window's end, newest first.
type weekly struct {
	b      trendBuckets
	weeks  int
	bounds []int64 // bucket index of boundary k, the end less k weeks; nil before the first window
}

// advance moves the boundaries to a window ending at end, later than the
// last, and calls move for each bucket that a boundary passed: it leaves
// week from (0 the last week, -1 when it was after every week) for week
// to (weeks: before every week). Boundaries pass in order, newest first,
// so a bucket that crosses two in one step moves twice, in order.
func (w *weekly) advance(end time.Time, move func(i int64, from, to int)) {
	const week = 7 * 24 * time.Hour
	if w.bounds == nil { // empty weeks: every boundary at the oldest
		w.bounds = make([]int64, w.weeks+1)
		for k := range w.bounds {
			w.bounds[k] = w.b.index(end.Add(-time.Duration(w.weeks) * week))
		}
	}
	for k := range w.bounds {
		next := w.b.index(end.Add(-time.Duration(k) * week))
		for i := w.bounds[k]; i < next; i++ {
			move(i, k-1, k)
		}
		w.bounds[k] = next
	}
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
	// Each window's coverage comes from the last's: the earliest version
	// of each feed's township and category over the lookback (a sliding
	// minimum), and the series with matters in the weeks compared.
	townships, categories := map[[2]string]*slidingMin{}, map[[2]string]*slidingMin{}
	recent := map[series]int{} // rows in the weeks compared
	var added, from int64      // the minima hold the rows of the buckets before added; recent those of [from, added)
	out := make([]coverage, len(ws))
	for wi, w := range ws {
		first := w.End.Add(-b.weeks)
		lo, mid, hi := b.index(first.Add(-trendLookback)), b.index(first), b.index(w.End)
		if wi == 0 {
			added, from = lo, mid
		}
		for ; from < mid && from < added; from++ {
			for _, r := range byBucket[from] {
				if recent[r.series]--; recent[r.series] == 0 {
					delete(recent, r.series)
				}
			}
		}
		from = max(from, mid)
		for ; added < hi; added++ {
			for _, r := range byBucket[added] {
				for _, k := range []struct {
					m   map[[2]string]*slidingMin
					key [2]string
				}{{townships, [2]string{r.source, r.township}}, {categories, [2]string{r.source, r.category}}} {
					if k.m[k.key] == nil {
						k.m[k.key] = &slidingMin{}
					}
					k.m[k.key].push(added, r.since)
				}
				if added >= from {
					recent[r.series]++
				}
			}
		}
		c := coverage{first: first, township: map[[2]string]time.Time{}, category: map[[2]string]time.Time{}, lateSeries: map[[2]string]time.Time{}}
		for key, m := range townships {
			if t, ok := m.min(lo); ok {
				c.township[key] = t
			}
		}
		for key, m := range categories {
			if t, ok := m.min(lo); ok {
				c.category[key] = t
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

// slidingMin is the earliest time of the buckets pushed, from a bucket
// on: a queue of the times that can still be the earliest, in the order
// of their buckets (and of their times).
type slidingMin struct {
	q []struct {
		i int64
		t time.Time
	}
}

// push adds bucket i's time t; buckets come in order.
func (m *slidingMin) push(i int64, t time.Time) {
	for len(m.q) > 0 && !m.q[len(m.q)-1].t.Before(t) {
		m.q = m.q[:len(m.q)-1]
	}
	m.q = append(m.q, struct {
		i int64
		t time.Time
	}{i, t})
}

// min is the earliest time of the buckets from lo on, forgetting older
// ones; false when there is none.
func (m *slidingMin) min(lo int64) (time.Time, bool) {
	n := 0
	for n < len(m.q) && m.q[n].i < lo {
		n++
	}
	m.q = m.q[n:]
	if len(m.q) == 0 {
		return time.Time{}, false
	}
	return m.q[0].t, true
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
