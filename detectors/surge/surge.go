// Package surge finds surges (突增): points of a count series — complaints
// per hour or per day in one place and category — far above the series' own
// seasonal baseline. It is pure: no I/O, no clock.
//
// The baseline of a point is a robust mean of the past values of its
// season within the lookback (LookbackSeasons weeks), seasons in UTC+8:
//
//   - steps under a day: the same day-of-week and hour-of-day, blended with
//     the same hour-of-day, then with the overall level, while the season
//     has been seen fewer than 4 times;
//   - steps of a day up to a week: the same day-of-week, blended with the
//     overall level;
//   - a week or more: the overall level of the last LookbackSeasons points.
//
// The robust mean skips past values more than 3 scales from the rest, so
// earlier surges and holidays neither raise nor lower it. The test is
// count-aware: p = P(X ≥ observed) for a negative binomial with the
// baseline as mean and the series' over-dispersion, estimated robustly once
// a day from the same history (0, i.e. Poisson, at least), widened for the
// uncertainty of the baseline itself.
package surge

import (
	"fmt"
	"math"
	"slices"
	"time"

	risk "riskwatch"
)

// Config tunes the surge test.
type Config struct {
	// Alpha is the largest upper-tail probability that still alerts.
	Alpha float64 `yaml:"alpha"`
	// MinExcess is the least observed−expected that alerts: 0→2 is
	// improbable but not a surge anyone must act on.
	MinExcess float64 `yaml:"min_excess"`
	// MinCount is the least observed count that alerts.
	MinCount float64 `yaml:"min_count"`
	// LookbackSeasons is how many weeks of history the baseline uses (how
	// many points, for weekly or coarser steps).
	LookbackSeasons int `yaml:"lookback_seasons"`
	// WarmUp is how many leading points are history only: score 0, never
	// an alert. 0 means two weeks' worth at the series' step (336 hourly
	// points, 14 daily points; at least 4).
	WarmUp int `yaml:"warm_up"`
}

// DefaultConfig returns the settings the detector runs with unless tuned.
func DefaultConfig() Config {
	return Config{Alpha: 0.001, MinExcess: 3, MinCount: 5, LookbackSeasons: 8}
}

// Validate reports settings that cannot work, wrapping risk.ErrInvalid.
func (c Config) Validate() error {
	switch {
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("surge: alpha %v: want 0 < alpha ≤ 1: %w", c.Alpha, risk.ErrInvalid)
	case !(c.MinExcess >= 0) || math.IsInf(c.MinExcess, 0):
		return fmt.Errorf("surge: min_excess %v: want ≥ 0: %w", c.MinExcess, risk.ErrInvalid)
	case !(c.MinCount >= 0) || math.IsInf(c.MinCount, 0):
		return fmt.Errorf("surge: min_count %v: want ≥ 0: %w", c.MinCount, risk.ErrInvalid)
	case c.LookbackSeasons < 1:
		return fmt.Errorf("surge: lookback_seasons %d: want ≥ 1: %w", c.LookbackSeasons, risk.ErrInvalid)
	case c.WarmUp < 0:
		return fmt.Errorf("surge: warm_up %d: want ≥ 0: %w", c.WarmUp, risk.ErrInvalid)
	}
	return nil
}

// Point is one value of a series: the count of the step starting at T.
type Point struct {
	T time.Time
	V float64
}

// Scored is a point with its verdict.
type Scored struct {
	Point
	Expected float64 // baseline from the point's past; 0 with no history
	P        float64 // P(X ≥ V | baseline); 1 during warm-up
	Score    float64 // 1 − P, in [0, 1]
	Alert    bool    // P < Alpha, V − Expected ≥ MinExcess and V ≥ MinCount
}

// Score scores every point of a regular series against its own past: point
// i sees only points before it, so the result for a prefix never changes
// when points are appended. The series must be sorted, exactly step apart,
// with finite non-negative values; otherwise Score returns an error wrapping
// risk.ErrInvalid that names the first bad point.
func Score(series []Point, step time.Duration, cfg Config) ([]Scored, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("surge: step %v: want > 0: %w", step, risk.ErrInvalid)
	}
	for i, p := range series {
		if !validValue(p.V) {
			return nil, fmt.Errorf("surge: point %d (%s): value %v: want a finite count ≥ 0: %w", i, p.T.Format(time.RFC3339), p.V, risk.ErrInvalid)
		}
		if i == 0 {
			continue
		}
		switch d := p.T.Sub(series[i-1].T); {
		case d <= 0:
			return nil, fmt.Errorf("surge: point %d (%s): not after point %d: %w", i, p.T.Format(time.RFC3339), i-1, risk.ErrInvalid)
		case d != step:
			return nil, fmt.Errorf("surge: point %d (%s): %v after point %d, want step %v: %w", i, p.T.Format(time.RFC3339), d, i-1, step, risk.ErrInvalid)
		}
	}

	s := newSeasons(step, cfg)
	ix := newIndex(series, s)
	warm := s.warmUp(cfg)
	back := int(s.window / step)
	out := make([]Scored, len(series))
	var disp float64 // over-dispersion of the current day
	var dispDay time.Time
	for i, p := range series {
		lo := max(0, i-back)
		mu, neff := s.estimate(func(l int) []float64 { return ix.samples(l, ix.keys[l][i], lo, i) })
		if i < warm {
			out[i] = Scored{Point: p, Expected: mu, P: 1}
			continue
		}
		// The over-dispersion comes from the history before the day
		// starts, as in ScoreAt, so batch and live agree; one pass a day.
		if d := startOfDay(p.T); dispDay.IsZero() || !d.Equal(dispDay) {
			dispDay = d
			since := p.T.Sub(d)
			hi := max(0, i-int(since/step))
			lod := max(0, i-int((since+s.window)/step))
			disp = s.dispersion(func(l, k int) []float64 { return ix.samples(l, k, lod, hi) })
		}
		out[i] = judge(p, mu, neff, disp, cfg)
	}
	return out, nil
}

// ScoreAt scores p against history, as Score scores the same point at the
// end of a series: the live detector's verdict on the newest step. History
// may be in any order and may hold p's step or later ones (ignored); a
// missing step is unknown, not zero, so fill steps without events with 0.
// p is in warm-up, with score 0, until history spans WarmUp steps.
func ScoreAt(history []Point, p Point, step time.Duration, cfg Config) (Scored, error) {
	if err := cfg.Validate(); err != nil {
		return Scored{}, err
	}
	if step <= 0 {
		return Scored{}, fmt.Errorf("surge: step %v: want > 0: %w", step, risk.ErrInvalid)
	}
	if !validValue(p.V) {
		return Scored{}, fmt.Errorf("surge: %s: value %v: want a finite count ≥ 0: %w", p.T.Format(time.RFC3339), p.V, risk.ErrInvalid)
	}
	s := newSeasons(step, cfg)
	mu, neff := s.expected(history, p.T)
	first := p.T
	for _, h := range history {
		if h.T.Before(first) && validValue(h.V) {
			first = h.T
		}
	}
	if int(p.T.Sub(first)/step) < s.warmUp(cfg) {
		return Scored{Point: p, Expected: mu, P: 1}, nil
	}
	d := startOfDay(p.T)
	g := s.groups(history, d.Add(-s.window), d)
	disp := s.dispersion(func(l, k int) []float64 { return g[l][k] })
	return judge(p, mu, neff, disp, cfg), nil
}

// Expected returns the baseline for the step at `at` from history (any
// order; steps at or after `at` are ignored; missing steps are unknown, not
// zero). It is the Expected that Score and ScoreAt report; 0 when history
// has no point within the lookback, or step is not positive.
func Expected(history []Point, at time.Time, step time.Duration, cfg Config) float64 {
	if step <= 0 || cfg.LookbackSeasons < 1 {
		return 0
	}
	mu, _ := newSeasons(step, cfg).expected(history, at)
	return mu
}

func (s *seasons) expected(history []Point, at time.Time) (mu, neff float64) {
	g := s.groups(history, at.Add(-s.window), at)
	lt := at.In(risk.CST)
	return s.estimate(func(l int) []float64 { return g[l][s.levels[l].key(lt)] })
}

// groups returns the values of history within [from, to) by level and key.
func (s *seasons) groups(history []Point, from, to time.Time) [][][]float64 {
	g := make([][][]float64, len(s.levels))
	for l, lv := range s.levels {
		g[l] = make([][]float64, lv.keys)
	}
	for _, p := range history {
		if p.T.Before(from) || !p.T.Before(to) || !validValue(p.V) {
			continue
		}
		lt := p.T.In(risk.CST)
		for l, lv := range s.levels {
			k := lv.key(lt)
			g[l][k] = append(g[l][k], p.V)
		}
	}
	return g
}

func validValue(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// index finds a season's past values in a regular series without scanning
// the whole lookback for every point.
type index struct {
	vals  []float64
	keys  [][]int   // [level][point] → season key
	byKey [][][]int // [level][key] → ascending point indices
	buf   []float64
}

func newIndex(series []Point, s *seasons) *index {
	ix := &index{
		vals:  make([]float64, len(series)),
		keys:  make([][]int, len(s.levels)),
		byKey: make([][][]int, len(s.levels)),
	}
	for l, lv := range s.levels {
		ix.keys[l] = make([]int, len(series))
		ix.byKey[l] = make([][]int, lv.keys)
	}
	for i, p := range series {
		ix.vals[i] = p.V
		lt := p.T.In(risk.CST)
		for l, lv := range s.levels {
			k := lv.key(lt)
			ix.keys[l][i] = k
			ix.byKey[l][k] = append(ix.byKey[l][k], i)
		}
	}
	return ix
}

// samples returns the values of key k at level l at points [lo, hi), in a
// buffer that the next call reuses.
func (ix *index) samples(l, k, lo, hi int) []float64 {
	ids := ix.byKey[l][k]
	a, _ := slices.BinarySearch(ids, lo)
	b, _ := slices.BinarySearch(ids, hi)
	ix.buf = ix.buf[:0]
	for _, j := range ids[a:b] {
		ix.buf = append(ix.buf, ix.vals[j])
	}
	return ix.buf
}
