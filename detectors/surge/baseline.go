package surge

import (
	"math"
	"slices"
	"time"

	risk "riskwatch"
)

const (
	day  = 24 * time.Hour
	week = 7 * day

	// fullSeasons is how many past occurrences of a season (weeks for
	// day-of-week × hour, days for hour-of-day) its own centre needs to be
	// trusted alone; with fewer it is blended with the coarser level.
	fullSeasons = 4
	// skipAbove and skipBelow are how many scales above or below the
	// centre a past value may lie and still count: beyond, it was a surge,
	// or a holiday or an outage, not the norm. Dips are cut closer: they
	// are common (every holiday) and would make the next ordinary day
	// look high.
	skipAbove = 3
	skipBelow = 2
	// centreEfficiency is the skipped mean's efficiency against the mean
	// on Poisson counts (0.83 at a mean of 1, 0.95 from 10): n samples
	// inform it like 0.9·n.
	centreEfficiency = 0.9

	// Over-dispersion is estimated from the seasons with at least
	// minDispersionSamples past values, when they are at least half the
	// seasons of their level and give minResiduals residuals.
	minDispersionSamples = 4
	minResiduals         = 20
	// The over-dispersion estimate drops residuals beyond 5 standard
	// deviations: past surges. A tighter cut also drops the honest tail of
	// a skewed count and underestimates (by a quarter at 3σ).
	dispersionCut       = 25
	medianChiSquare1    = 0.4549 // median of χ²(1): a robust start
	minDispersionCentre = 0.5    // denominators below this are noise
)

// seasons says how a series with a given step is split into seasons, from
// the finest level to the coarsest (the overall level, one key).
type seasons struct {
	step    time.Duration
	window  time.Duration // lookback: only [at-window, at) is history
	perSlot float64       // points per occurrence of a season (per hour or per day)
	full    float64       // samples for a season to stand alone
	levels  []level
	// Buffers reused from call to call: a seasons is not safe for
	// concurrent use.
	scratch, d2, c, implied []float64
}

type level struct {
	keys int
	key  func(local time.Time) int
}

// Between a weekday's own season and the days' common one lies the kind of
// day: a first Saturday night is more like the other weekend nights than
// like a weeknight (on real counts, the first weekends of a series were
// its false surges).
var (
	weekHour = level{7 * 24, func(t time.Time) int { return int(t.Weekday())*24 + t.Hour() }}
	kindHour = level{2 * 24, func(t time.Time) int { return weekendKey(t)*24 + t.Hour() }}
	hourDay  = level{24, func(t time.Time) int { return t.Hour() }}
	weekDay  = level{7, func(t time.Time) int { return int(t.Weekday()) }}
	dayKind  = level{2, weekendKey}
	overall  = level{1, func(time.Time) int { return 0 }}
)

func weekendKey(t time.Time) int {
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return 1
	}
	return 0
}

func newSeasons(step time.Duration, cfg Config) *seasons {
	s := &seasons{step: step, window: time.Duration(cfg.LookbackSeasons) * max(week, step)}
	slot := time.Hour
	switch {
	case step < day:
		s.levels = []level{weekHour, kindHour, hourDay, overall}
	case step < week:
		s.levels = []level{weekDay, dayKind, overall}
		slot = day
	default: // weekly or coarser: no season, the last LookbackSeasons points
		s.levels = []level{overall}
		slot = step
	}
	s.perSlot = max(1, float64(slot/step))
	s.full = float64(min(fullSeasons, cfg.LookbackSeasons)) * s.perSlot
	return s
}

// warmUp is the number of leading points that are history only.
func (s *seasons) warmUp(cfg Config) int {
	if cfg.WarmUp > 0 {
		return cfg.WarmUp
	}
	return max(4, int((3*day+s.step-1)/s.step))
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(risk.CST).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, risk.CST)
}

// estimate returns the baseline of one point and how many samples' worth of
// information it holds. gather(l) returns the past values of the point's
// season at level l; the slice may be reused by the next call.
//
// A level whose season has fewer than s.full samples is blended with the
// level above it, in proportion to its samples: hour-of-day stands in for a
// day-of-week × hour seen only twice, the overall level for an hour-of-day
// seen only once.
func (s *seasons) estimate(gather func(level int) []float64) (mu, neff float64) {
	type part struct{ c, w, n, spread float64 }
	var parts [4]part
	np := 0
	for l := range s.levels {
		x := gather(l)
		if len(x) == 0 {
			continue
		}
		n := float64(len(x))
		w := 1.0
		if l < len(s.levels)-1 {
			w = min(1, n/s.full)
		}
		c, floor := s.centre(x)
		scale := (c - floor) / skipBelow
		parts[np] = part{c, w, n, scale * scale / max(c, 1)}
		np++
		if w == 1 {
			break
		}
	}
	if np == 0 {
		return 0, 0
	}
	// The coarsest level found stands alone; finer ones pull towards their
	// own centre. v is the variance of the estimate in units of one
	// sample's variance.
	last := parts[np-1]
	mu, v := last.c, 1/(centreEfficiency*last.n)
	for i := np - 2; i >= 0; i-- {
		p := parts[i]
		mu = p.w*p.c + (1-p.w)*mu
		v = p.w*p.w/(centreEfficiency*p.n) + (1-p.w)*(1-p.w)*(v+parts[i+1].spread)
	}
	return mu, 1 / v
}

// centre returns a robust mean of x, which it sorts, and the floor below
// which a value counts as a dip: the mean of the values
// from skipBelow scales below the estimate to skipAbove above it, refined
// three times from the midmean (the mean of the middle half). The scale is the larger of the
// Poisson one, √max(mean, 1), and the spread of x itself (1.4826·MAD), so
// that over-dispersed series do not lose their ordinary values.
//
// Past surges and outages are skipped entirely, so they neither raise nor
// lower the baseline; unlike the midmean or the median, which sit below
// the mean of skewed small counts (the midmean of Poisson(1) samples
// averages 0.86), the estimate stays within a few percent of the mean.
func (s *seasons) centre(x []float64) (mu, floor float64) {
	slices.Sort(x)
	n := len(x)
	g := min(n/4, (n-1)/2)
	for _, v := range x[g : n-g] {
		mu += v
	}
	mu /= float64(n - 2*g)

	med := (x[(n-1)/2] + x[n/2]) / 2
	dev := s.scratch[:0]
	for _, v := range x {
		dev = append(dev, math.Abs(v-med))
	}
	slices.Sort(dev)
	mad := 1.4826 * (dev[(n-1)/2] + dev[n/2]) / 2
	s.scratch = dev

	for range 3 {
		scale := max(math.Sqrt(max(mu, 1)), mad)
		lo, hi := mu-skipBelow*scale, mu+skipAbove*scale
		sum, k := 0.0, 0
		for _, v := range x {
			if lo <= v && v <= hi {
				sum += v
				k++
			}
		}
		if k == 0 {
			break
		}
		mu = sum / float64(k)
	}
	return mu, mu - skipBelow*max(math.Sqrt(max(mu, 1)), mad)
}
