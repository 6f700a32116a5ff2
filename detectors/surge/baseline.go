package surge

import (
	"math"
	"slices"
	"time"
)

// cst is the centres' time zone, Asia/Shanghai, as a fixed offset: China
// has kept UTC+8 without daylight saving since 1991, and a fixed zone needs
// no tzdata on the servers.
var cst = time.FixedZone("CST", 8*60*60)

const (
	day  = 24 * time.Hour
	week = 7 * day

	// fullSeasons is how many past occurrences of a season (weeks for
	// day-of-week × hour, days for hour-of-day) its own centre needs to be
	// trusted alone; with fewer it is blended with the coarser level.
	fullSeasons = 4
	// trim is the fraction cut from each end before averaging: up to a
	// quarter of a season's past may be surges or holidays without moving
	// the centre.
	trim = 0.25
	// trimEfficiency is the midmean's efficiency against the mean for
	// near-normal data: n samples inform it like 0.8·n.
	trimEfficiency = 0.8

	// Dispersion is estimated from seasons with at least
	// minDispersionSamples past values, when there are minResiduals of them.
	minDispersionSamples = 4
	minResiduals         = 20
	// The dispersion estimate drops residuals beyond 3 standard deviations
	// (past surges); truncating a normal there keeps 0.9733 of its variance.
	dispersionCut       = 9
	truncatedVariance   = 0.9733
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
}

type level struct {
	keys int
	key  func(local time.Time) int
}

var (
	weekHour = level{7 * 24, func(t time.Time) int { return int(t.Weekday())*24 + t.Hour() }}
	hourDay  = level{24, func(t time.Time) int { return t.Hour() }}
	weekDay  = level{7, func(t time.Time) int { return int(t.Weekday()) }}
	overall  = level{1, func(time.Time) int { return 0 }}
)

func newSeasons(step time.Duration, cfg Config) *seasons {
	s := &seasons{step: step, window: time.Duration(cfg.LookbackSeasons) * max(week, step)}
	slot := time.Hour
	switch {
	case step < day:
		s.levels = []level{weekHour, hourDay, overall}
	case step < week:
		s.levels = []level{weekDay, overall}
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
	return max(4, int((2*week+s.step-1)/s.step))
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(cst).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, cst)
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
	type part struct{ c, w, n float64 }
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
		parts[np] = part{trimmedMean(x), w, n}
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
	mu, v := last.c, 1/(trimEfficiency*last.n)
	for i := np - 2; i >= 0; i-- {
		p := parts[i]
		mu = p.w*p.c + (1-p.w)*mu
		v = p.w*p.w/(trimEfficiency*p.n) + (1-p.w)*(1-p.w)*v
	}
	return mu, 1 / v
}

// trimmedMean sorts x and returns the mean of its middle half (the midmean):
// robust to past surges and holidays, and unlike the median not stuck at 0
// or 1 on sparse counts.
func trimmedMean(x []float64) float64 {
	slices.Sort(x)
	n := len(x)
	g := min(int(math.Round(trim*float64(n))), (n-1)/2)
	sum := 0.0
	for _, v := range x[g : n-g] {
		sum += v
	}
	return sum / float64(n-2*g)
}

// dispersion estimates φ, the ratio of the variance of the counts to their
// mean (1 for Poisson), from the residuals of past values around their
// season's centre, pooled over every season. group(l, k) returns the values
// of key k at level l (reusable slice). It uses the finest level with
// enough seasons of minDispersionSamples, so weekday/weekend differences
// are not mistaken for noise once there are four weeks of history.
//
// Robustness: a start from the median squared residual, then two rounds of
// the Pearson estimate Σ(v-c)²/Σc over residuals within 3 standard
// deviations, so that past surges do not make the series look noisy
// and thus excuse the next one.
func (s *seasons) dispersion(group func(level, key int) []float64) float64 {
	var d2, m []float64
	for l, lv := range s.levels {
		d2, m = d2[:0], m[:0]
		for k := range lv.keys {
			x := group(l, k)
			if len(x) < minDispersionSamples {
				continue
			}
			c := trimmedMean(x)
			n := float64(len(x))
			corr := n / (n - 1) // the centre was fitted to these values
			for _, v := range x {
				d2 = append(d2, (v-c)*(v-c)*corr)
				m = append(m, max(c, minDispersionCentre))
			}
		}
		if len(d2) >= minResiduals {
			break
		}
	}
	if len(d2) < minResiduals {
		return 1
	}
	r2 := make([]float64, len(d2))
	for i := range d2 {
		r2[i] = d2[i] / m[i]
	}
	slices.Sort(r2)
	phi := max(1, r2[len(r2)/2]/medianChiSquare1)
	for range 2 {
		var num, den float64
		for i := range d2 {
			if d2[i] <= dispersionCut*phi*m[i] {
				num += d2[i]
				den += m[i]
			}
		}
		if den == 0 {
			break
		}
		phi = max(1, num/den/truncatedVariance)
	}
	return phi
}

// test scores one observation against its baseline. The baseline is itself
// an estimate from neff samples, so the predictive variance is
// φ·mu·(1 + 1/neff): a negative binomial, which for a well-known Poisson
// season tends to the Poisson test.
func test(p Point, mu, neff, phi float64, cfg Config) Scored {
	if neff <= 0 {
		return Scored{Point: p, Expected: mu, P: 1}
	}
	// A season that was always 0 still has a small rate: never test
	// against exactly 0, which would make any single count infinitely
	// surprising.
	m := max(mu, 0.5/neff)
	pv := upperTail(p.V, m, phi*(1+1/neff))
	return Scored{
		Point:    p,
		Expected: mu,
		P:        pv,
		Score:    1 - pv,
		Alert:    pv < cfg.Alpha && p.V-mu >= cfg.MinExcess && p.V >= cfg.MinCount,
	}
}
