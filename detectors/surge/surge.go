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
// uncertainty of the baseline itself. A series of minutes is also tested
// on the sum of its last half hour, for rises held over several steps (see
// model.go).
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
	// an alert. 0 means one day's worth at the series' step (24 hourly
	// points, 288 of 5 minutes; at least 4): from then on the baseline
	// blends what it has seen, and its own uncertainty widens the test.
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
	Surprise float64 // −log10 P: 3 at P = 0.001
	Score    float64 // Surprise/(Surprise+3): 0 at P = 1, ½ at P = 0.001, below 1 for any P > 0
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

	vals := make([]float64, len(series))
	for i, p := range series {
		vals[i] = p.V
	}
	return score(series, vals, step, cfg, 0), nil
}

// ScoreAt scores p against history, as Score scores the same point at the
// end of a series: the live detector's verdict on the newest step. History
// may be in any order and may hold p's step or later ones (ignored); a
// missing step is unknown, not zero, so fill steps without events with 0.
// History before the lookback (LookbackSeasons weeks before the earliest
// point that matters) is ignored; p is in warm-up, with score 0, until
// history spans WarmUp steps.
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
	points, vals := grid(history, p, step, cfg)
	return score(points, vals, step, cfg, len(points)-1)[0], nil
}

// Expected returns the baseline for the step at `at` from history (any
// order; steps at or after `at` are ignored; missing steps are unknown, not
// zero). It is the Expected that Score and ScoreAt report; 0 when history
// has no point within the lookback, or step is not positive.
func Expected(history []Point, at time.Time, step time.Duration, cfg Config) float64 {
	if step <= 0 || cfg.LookbackSeasons < 1 {
		return 0
	}
	points, vals := grid(history, Point{T: at}, step, cfg)
	return score(points, vals, step, cfg, len(points)-1)[0].Expected
}

// grid lays history out as the regular series that ends at p, step apart
// and aligned on p: NaN marks an unknown step. It starts at the earliest
// valid point of history before p, or at p.
func grid(history []Point, p Point, step time.Duration, cfg Config) ([]Point, []float64) {
	// Enough history that every point the last one depends on is as in a
	// batch over a longer series: seasons and level of the points whose
	// residuals the tail is fitted on.
	from := p.T.Add(-2*time.Duration(cfg.LookbackSeasons)*max(week, step) - 2*day)
	first := p.T
	for _, h := range history {
		if h.T.Before(first) && !h.T.Before(from) && validValue(h.V) {
			first = h.T
		}
	}
	n := int(p.T.Sub(first)/step) + 1
	points := make([]Point, n)
	vals := make([]float64, n)
	for i := range points {
		points[i] = Point{T: p.T.Add(-time.Duration(n-1-i) * step), V: math.NaN()}
		vals[i] = math.NaN()
	}
	for _, h := range history {
		if !h.T.Before(p.T) || h.T.Before(first) || !validValue(h.V) {
			continue
		}
		d := p.T.Sub(h.T)
		if d%step != 0 {
			continue // not on the series' steps
		}
		i := n - 1 - int(d/step)
		if i >= 0 {
			points[i].V, vals[i] = h.V, h.V
		}
	}
	points[n-1], vals[n-1] = p, p.V
	return points, vals
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

func newIndex(series []Point, vals []float64, s *seasons) *index {
	ix := &index{
		vals:  vals,
		keys:  make([][]int, len(s.levels)),
		byKey: make([][][]int, len(s.levels)),
	}
	n := len(series)
	for l := range s.levels {
		ix.keys[l] = make([]int, n)
	}
	for i, p := range series {
		lt := p.T.In(risk.CST)
		for l, lv := range s.levels {
			ix.keys[l][i] = lv.key(lt)
		}
	}
	// Each level's points by key in one array, bucketed by counting: the
	// index is built for every ScoreAt.
	for l, lv := range s.levels {
		end := make([]int, lv.keys)
		for _, k := range ix.keys[l] {
			end[k]++
		}
		for k := 1; k < lv.keys; k++ {
			end[k] += end[k-1]
		}
		flat := make([]int, n)
		ix.byKey[l] = make([][]int, lv.keys)
		for k := range lv.keys {
			start := 0
			if k > 0 {
				start = end[k-1]
			}
			ix.byKey[l][k] = flat[start:start:end[k]]
		}
		for i, k := range ix.keys[l] {
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
		if v := ix.vals[j]; !math.IsNaN(v) {
			ix.buf = append(ix.buf, v)
		}
	}
	return ix.buf
}
