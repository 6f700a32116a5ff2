package surge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	risk "riskwatch"
)

// The synthetic evaluation: series with a known seasonal mean and planted
// surges, scored as the detector scores them.

// weekdayHours is the shape of a weekday's hotline calls by hour (UTC+8),
// relative to the morning peak; weekends are scaled by weekendShare.
var weekdayHours = [24]float64{
	.04, .03, .03, .03, .03, .05, .1, .3, .7, 1, 1, .9,
	.6, .6, .9, .9, .85, .7, .4, .35, .3, .2, .1, .06,
}

const weekendShare = 0.6

func weekend(t time.Time) bool {
	wd := t.In(risk.CST).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// hourly is a weekday-peak-per-hour profile.
func hourly(peak float64) func(t time.Time) float64 {
	return func(t time.Time) float64 {
		m := peak * weekdayHours[t.In(risk.CST).Hour()]
		if weekend(t) {
			m *= weekendShare
		}
		return m
	}
}

// holiday reports the week-long holidays of 2024 and 2025: Spring Festival
// and National Day (Golden Week).
func holiday(t time.Time) bool {
	for _, h := range [][2]string{
		{"2024-02-10", "2024-02-17"}, {"2024-10-01", "2024-10-07"},
		{"2025-01-28", "2025-02-04"}, {"2025-10-01", "2025-10-08"},
	} {
		from, _ := time.ParseInLocation(time.DateOnly, h[0], risk.CST)
		to, _ := time.ParseInLocation(time.DateOnly, h[1], risk.CST)
		if !t.Before(from) && t.Before(to.Add(day)) {
			return true
		}
	}
	return false
}

// scenario is a family of synthetic series.
type scenario struct {
	name   string
	step   time.Duration
	n      int // points per series
	series int
	mean   func(t time.Time) float64 // the background's mean
	// dayNoise is the σ of a lognormal factor per day and series (0: pure
	// Poisson counts).
	dayNoise float64
	// Surges are planted only where the mean is at least surgeFloor:
	// tripling 0.3 calls an hour makes no surge anyone could see.
	surgeFloor float64
}

var scenarios = []scenario{
	{name: "county category, hourly", step: time.Hour, n: 26 * 168, series: 24, mean: hourly(12), surgeFloor: 5},
	// Background only: no hour is busy enough for a 3× surge to be seen.
	{name: "township category, hourly", step: time.Hour, n: 26 * 168, series: 24, mean: hourly(1.5), surgeFloor: math.Inf(1)},
	{
		name: "township category, daily, holidays", step: day, n: 730, series: 96, surgeFloor: 5,
		mean: func(t time.Time) float64 {
			switch {
			case holiday(t):
				return 3
			case weekend(t):
				return 6
			}
			return 15
		},
	},
	// Real days differ (weather, news, a burst water main): ±20% a day
	// makes the counts over-dispersed, which the test must absorb.
	{name: "county category, hourly, noisy days", step: time.Hour, n: 26 * 168, series: 24, mean: hourly(12), dayNoise: 0.2, surgeFloor: 5},
}

// evaluation is what one scenario produced.
type evaluation struct {
	background, falseAlerts int
	planted, found          [6]int // by surge factor
}

func (e *evaluation) add(o evaluation) {
	e.background += o.background
	e.falseAlerts += o.falseAlerts
	for f := range e.planted {
		e.planted[f] += o.planted[f]
		e.found[f] += o.found[f]
	}
}

func (e evaluation) fpPer10k() float64 {
	return 1e4 * float64(e.falseAlerts) / float64(e.background)
}

func (e evaluation) recall() (r float64, found, planted int) {
	for f := range e.planted {
		found += e.found[f]
		planted += e.planted[f]
	}
	return float64(found) / float64(planted), found, planted
}

func (e evaluation) recallText() string {
	r, found, planted := e.recall()
	if planted == 0 {
		return ""
	}
	return fmt.Sprintf("; recall %.3f (%d/%d: 3× %d/%d, 4× %d/%d, 5× %d/%d)", r, found, planted,
		e.found[3], e.planted[3], e.found[4], e.planted[4], e.found[5], e.planted[5])
}

// evaluate plants, at about 1 point in 1,000 after the warm-up (about one
// a week at hourly steps), a surge of 3×, 4× or 5× the background mean: the count is drawn from
// Poisson(f·mean), so a surge is as noisy as any other point. Planted
// surges stay in the history of later points, as real ones do.
func evaluate(tb testing.TB, sc scenario, cfg Config, seed uint64) evaluation {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, risk.CST)
	warm := newSeasons(sc.step, cfg).warmUp(cfg)
	var e evaluation
	for range sc.series {
		series := make([]Point, sc.n)
		factor := make([]int, sc.n)
		noise := 1.0
		for i := range series {
			t := start.Add(time.Duration(i) * sc.step)
			if sc.dayNoise > 0 && t.Equal(startOfDay(t)) {
				noise = math.Exp(sc.dayNoise*r.NormFloat64() - sc.dayNoise*sc.dayNoise/2)
			}
			m := sc.mean(t) * noise
			if i >= warm && sc.mean(t) >= sc.surgeFloor && r.IntN(1000) == 0 {
				factor[i] = 3 + r.IntN(3)
				m *= float64(factor[i])
			}
			series[i] = Point{T: t, V: poisson(r, m)}
		}
		scored, err := Score(series, sc.step, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		for i, s := range scored[warm:] {
			if f := factor[warm+i]; f > 0 {
				e.planted[f]++
				if s.Alert {
					e.found[f]++
				}
				continue
			}
			e.background++
			if s.Alert {
				e.falseAlerts++
			}
		}
	}
	return e
}

// poisson draws by inversion: exact, and fast enough for means below 100.
func poisson(r *rand.Rand, mean float64) float64 {
	u := r.Float64()
	p := math.Exp(-mean)
	cdf := p
	k := 0
	for u > cdf && p > 0 {
		k++
		p *= mean / float64(k)
		cdf += p
	}
	return float64(k)
}

// TestSyntheticEvaluation reports recall and false alerts per 10,000
// background points. A calibrated test at alpha alerts on a fraction of
// background points just under alpha wherever the mean is above ~1 (below,
// min_count decides): up to 10 per 10,000 at the default alpha of 0.001,
// whatever the baseline. Fewer than 1 per 10,000 takes alpha = 1e-4.
func TestSyntheticEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("synthetic evaluation: a million points")
	}
	for _, alpha := range []float64{1e-3, 1e-4} {
		cfg := DefaultConfig()
		cfg.Alpha = alpha
		var poisson evaluation // the pure Poisson scenarios
		for k, sc := range scenarios {
			e := evaluate(t, sc, cfg, uint64(k+1))
			t.Logf("alpha %g, %-37s %.2f false alerts per 10k (%d/%d)%s",
				alpha, sc.name+":", e.fpPer10k(), e.falseAlerts, e.background, e.recallText())
			// Calibration: false alerts at most alpha of the background.
			// Checked at the default only: at 1e-4 one scenario expects a
			// handful, too few to judge alone.
			if got, limit := e.fpPer10k(), alpha*1e4; alpha == DefaultConfig().Alpha && got > limit {
				t.Errorf("%s: false alerts per 10k = %.2f, want ≤ %.0f (alpha)", sc.name, got, limit)
			}
			if sc.dayNoise == 0 {
				poisson.add(e)
			}
		}
		r, found, planted := poisson.recall()
		t.Logf("alpha %g, Poisson scenarios: %.2f false alerts per 10k background points, recall %.3f (%d/%d)",
			alpha, poisson.fpPer10k(), r, found, planted)
		switch alpha {
		case DefaultConfig().Alpha:
			// A 3× hour at a mean of 5 is borderline by nature (15 calls
			// where 5 were expected happen by chance about once in 5,000
			// hours of Poisson counts, more often in real, heavier-tailed
			// ones): the bound is on the surges of 4× and 5×. Early in a
			// series, while the baseline is blended from coarser seasons,
			// even those can hide in its uncertainty.
			if big, found := poisson.planted[4]+poisson.planted[5], poisson.found[4]+poisson.found[5]; float64(found) < 0.9*float64(big) {
				t.Errorf("alpha %g: recall of 4×–5× surges = %d/%d, want ≥ 0.9", alpha, found, big)
			}
		case 1e-4:
			if got := poisson.fpPer10k(); got >= 1 {
				t.Errorf("alpha %g: false alerts per 10k = %.2f, want < 1", alpha, got)
			}
		}
	}
}
