package surge

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
)

// monday is the first hour of a Monday in China time.
var monday = time.Date(2024, 3, 4, 0, 0, 0, 0, risk.CST)

// makeSeries returns n points step apart from start with the given values.
func makeSeries(start time.Time, step time.Duration, n int, value func(i int, t time.Time) float64) []Point {
	s := make([]Point, n)
	for i := range s {
		t := start.Add(time.Duration(i) * step)
		s[i] = Point{T: t, V: value(i, t)}
	}
	return s
}

func flat(v float64) func(int, time.Time) float64 { return func(int, time.Time) float64 { return v } }

// office is a hotline's hourly rhythm: busy weekday mornings, quiet nights,
// weekends at half; counts drawn from Poisson with a fixed seed.
func office(seed uint64) func(int, time.Time) float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	return func(_ int, t time.Time) float64 {
		lt := t.In(risk.CST)
		m := 0.3
		switch h := lt.Hour(); {
		case h >= 9 && h < 12:
			m = 10
		case h >= 8 && h < 18:
			m = 3
		}
		if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
			m /= 2
		}
		return poisson(r, m)
	}
}

// with returns a copy of s with the values at the given times replaced.
func with(s []Point, values map[time.Time]float64) []Point {
	s = slices.Clone(s)
	for i := range s {
		if v, ok := values[s[i].T]; ok {
			s[i].V = v
		}
	}
	return s
}

func indexOf(tb testing.TB, s []Point, t time.Time) int {
	tb.Helper()
	i := slices.IndexFunc(s, func(p Point) bool { return p.T.Equal(t) })
	if i < 0 {
		tb.Fatalf("no point at %s", t)
	}
	return i
}

func TestScoreDecision(t *testing.T) {
	const weeks = 9
	h := func(week int, wd time.Weekday, hour int) time.Time { // an hour of the series
		return monday.AddDate(0, 0, 7*week+int(wd+6)%7).Add(time.Duration(hour) * time.Hour)
	}
	last := h(weeks-1, time.Monday, 10)
	hourly := func(v func(int, time.Time) float64) []Point {
		return makeSeries(monday, time.Hour, int(last.Sub(monday)/time.Hour)+1, v)
	}
	busy := hourly(office(7))

	// Golden Week: 1–7 October, then an ordinary Tuesday.
	golden := time.Date(2024, 10, 1, 0, 0, 0, 0, risk.CST)
	r := rand.New(rand.NewPCG(9, 9))
	daily := makeSeries(golden.AddDate(0, 0, -70), day, 78, func(_ int, t time.Time) float64 {
		switch {
		case !t.Before(golden):
			return poisson(r, 2)
		case t.Weekday() == time.Saturday || t.Weekday() == time.Sunday:
			return poisson(r, 8)
		}
		return poisson(r, 20)
	})
	dayAfter := golden.AddDate(0, 0, 7)

	tests := []struct {
		name   string
		series []Point
		step   time.Duration
		at     time.Time
		want   bool
	}{
		{"0 to 2 is no surge", with(hourly(flat(0)), map[time.Time]float64{last: 2}), time.Hour, last, false},
		{"3 to 15 is a surge", with(hourly(flat(3)), map[time.Time]float64{last: 15}), time.Hour, last, true},
		{"3 to 7 is no surge", with(hourly(flat(3)), map[time.Time]float64{last: 7}), time.Hour, last, false},
		{"normal Monday morning", with(busy, map[time.Time]float64{last: 14}), time.Hour, last, false},
		{"Monday-morning count at 3 am", with(busy, map[time.Time]float64{h(weeks-1, time.Monday, 3): 14}), time.Hour, h(weeks-1, time.Monday, 3), true},
		{"surge", with(busy, map[time.Time]float64{h(weeks-2, time.Monday, 10): 40}), time.Hour, h(weeks-2, time.Monday, 10), true},
		{"surge a week after a surge", with(busy, map[time.Time]float64{h(weeks-2, time.Monday, 10): 40, last: 40}), time.Hour, last, true},
		{"surge after two surges", with(busy, map[time.Time]float64{h(weeks-3, time.Monday, 10): 40, h(weeks-2, time.Monday, 10): 40, last: 40}), time.Hour, last, true},
		{"surge after a surging day", with(busy, map[time.Time]float64{h(weeks-2, time.Monday, 9): 40, h(weeks-2, time.Monday, 10): 40, h(weeks-2, time.Monday, 11): 40, last: 40}), time.Hour, last, true},
		{"Golden Week", daily, day, golden.AddDate(0, 0, 6), false},
		{"the day after Golden Week", with(daily, map[time.Time]float64{dayAfter: 24}), day, dayAfter, false},
		{"a surge the day after Golden Week", with(daily, map[time.Time]float64{dayAfter: 60}), day, dayAfter, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Score(tt.series, tt.step, DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			s := got[indexOf(t, tt.series, tt.at)]
			t.Logf("observed %v, expected %.2f, p %.2g", s.V, s.Expected, s.P)
			if s.Alert != tt.want {
				t.Errorf("alert at %s (observed %v, expected %.2f, p %.2g) = %v, want %v", tt.at.Format(time.DateTime), s.V, s.Expected, s.P, s.Alert, tt.want)
			}
		})
	}
}

func TestScoreFlatSeriesNeverAlerts(t *testing.T) {
	for _, v := range []float64{0, 1, 5, 40} {
		got, err := Score(makeSeries(monday, time.Hour, 6*168, flat(v)), time.Hour, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.Alert || s.Score > 0.5 {
				t.Fatalf("flat %v: at %s score %v alert %v, want score ≤ 0.5 and no alert", v, s.T, s.Score, s.Alert)
			}
		}
	}
}

func TestScoreWarmUp(t *testing.T) {
	tests := []struct {
		name   string
		step   time.Duration
		warmUp int
		want   int // points that are history only
	}{
		{"hourly, default", time.Hour, 0, 72},
		{"daily, default", day, 0, 4},
		{"5 minutes, default", 5 * time.Minute, 0, 864},
		{"weekly, default", week, 0, 4},
		{"hourly, one day", time.Hour, 24, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.WarmUp = tt.warmUp
			// Flat at 3 with a spike at the last warm-up point and the
			// first scored one.
			s := makeSeries(monday, tt.step, tt.want+10, func(i int, _ time.Time) float64 {
				if i == tt.want-1 || i == tt.want {
					return 60
				}
				return 3
			})
			got, err := Score(s, tt.step, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range got[:tt.want] {
				if s.Score != 0 || s.P != 1 || s.Alert {
					t.Fatalf("point %d in warm-up: score %v p %v alert %v, want 0 1 false", i, s.Score, s.P, s.Alert)
				}
			}
			if s := got[tt.want]; !s.Alert {
				t.Errorf("spike after warm-up (expected %.2f, p %.2g): alert = false, want true", s.Expected, s.P)
			}
		})
	}
}

func TestScoreInvalid(t *testing.T) {
	good := makeSeries(monday, time.Hour, 10, flat(1))
	tests := []struct {
		name   string
		series []Point
		step   time.Duration
		cfg    func(*Config)
		want   string
	}{
		{"gap", slices.Delete(slices.Clone(good), 4, 5), time.Hour, nil, "point 4"},
		{"unsorted", func() []Point { s := slices.Clone(good); s[3], s[4] = s[4], s[3]; return s }(), time.Hour, nil, "point 3"},
		{"reversed", func() []Point { s := slices.Clone(good); slices.Reverse(s); return s }(), time.Hour, nil, "point 1 (2024-03-04T08:00:00+08:00): not after point 0"},
		{"duplicate", slices.Insert(slices.Clone(good), 5, good[4]), time.Hour, nil, "point 5 (2024-03-04T04:00:00+08:00): not after point 4"},
		{"negative", with(good, map[time.Time]float64{good[6].T: -1}), time.Hour, nil, "point 6"},
		{"NaN", with(good, map[time.Time]float64{good[2].T: math.NaN()}), time.Hour, nil, "point 2"},
		{"infinite", with(good, map[time.Time]float64{good[2].T: math.Inf(1)}), time.Hour, nil, "point 2"},
		{"wrong step", good, 30 * time.Minute, nil, "point 1"},
		{"zero step", good, 0, nil, "step"},
		{"alpha 0", good, time.Hour, func(c *Config) { c.Alpha = 0 }, "alpha"},
		{"alpha NaN", good, time.Hour, func(c *Config) { c.Alpha = math.NaN() }, "alpha"},
		{"negative min_excess", good, time.Hour, func(c *Config) { c.MinExcess = -1 }, "min_excess"},
		{"negative min_count", good, time.Hour, func(c *Config) { c.MinCount = -1 }, "min_count"},
		{"no lookback", good, time.Hour, func(c *Config) { c.LookbackSeasons = 0 }, "lookback_seasons"},
		{"negative warm-up", good, time.Hour, func(c *Config) { c.WarmUp = -1 }, "warm_up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := Score(tt.series, tt.step, cfg)
			if !errors.Is(err, risk.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one naming %q wrapping ErrInvalid", err, tt.want)
			}
		})
	}
	if _, err := Score(nil, time.Hour, DefaultConfig()); err != nil {
		t.Errorf("empty series: got error %v, want none", err)
	}
}

// The live detector's verdict on the newest step must be the batch verdict.
func TestScoreAtMatchesScore(t *testing.T) {
	tests := []struct {
		name   string
		series []Point
		step   time.Duration
	}{
		{"hourly", with(makeSeries(monday, time.Hour, 10*168, office(3)), map[time.Time]float64{monday.Add(1000 * time.Hour): 50}), time.Hour},
		{"daily", makeSeries(monday, day, 120, office(4)), day},
		{"5 minutes", makeSeries(monday, 5*time.Minute, 3*2016, office(5)), 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			batch, err := Score(tt.series, tt.step, cfg)
			if err != nil {
				t.Fatal(err)
			}
			shuffled := slices.Clone(tt.series)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			for i := 0; i < len(tt.series); i += 1 + len(tt.series)/97 {
				want := batch[i]
				p := tt.series[i]
				if got := Expected(tt.series[:i], p.T, tt.step, cfg); !near(got, want.Expected) {
					t.Errorf("Expected at %d = %v, want %v", i, got, want.Expected)
				}
				// Later points and order make no difference.
				got, err := ScoreAt(shuffled, p, tt.step, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !near(got.Expected, want.Expected) || !near(got.P, want.P) || got.Alert != want.Alert {
					t.Errorf("ScoreAt at %d = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

func TestSeasonsAreChinaTime(t *testing.T) {
	// Busy at 09:00 China time only; the same instants in three zones.
	busyAt9 := func(_ int, t time.Time) float64 {
		if t.In(risk.CST).Hour() == 9 {
			return 10
		}
		return 1
	}
	s := makeSeries(monday, time.Hour, 4*168, busyAt9)
	var ref []Scored
	for _, zone := range []*time.Location{time.UTC, risk.CST, time.FixedZone("EST", -5*3600)} {
		z := slices.Clone(s)
		for i := range z {
			z[i].T = z[i].T.In(zone)
		}
		got, err := Score(z, time.Hour, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			if got[i].Expected != ref[i].Expected || got[i].P != ref[i].P {
				t.Fatalf("%s: point %d expected %v p %v, want %v %v as in UTC", zone, i, got[i].Expected, got[i].P, ref[i].Expected, ref[i].P)
			}
		}
	}
	next := monday.AddDate(0, 0, 28)
	for _, tt := range []struct {
		at   time.Time
		want float64
	}{
		{time.Date(2024, 4, 1, 1, 0, 0, 0, time.UTC), 10}, // 09:00 in China
		{time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC), 1},  // 17:00 in China
	} {
		if !tt.at.After(next) && tt.at.Before(next.Add(day)) {
			t.Fatalf("test time %s outside the day after the series", tt.at)
		}
		if got := Expected(s, tt.at, time.Hour, DefaultConfig()); got != tt.want {
			t.Errorf("Expected at %s = %v, want %v", tt.at.Format(time.RFC3339), got, tt.want)
		}
	}
}

func TestExpectedWithoutHistory(t *testing.T) {
	if got := Expected(nil, monday, time.Hour, DefaultConfig()); got != 0 {
		t.Errorf("Expected with no history = %v, want 0", got)
	}
	old := makeSeries(monday, time.Hour, 24, flat(5))
	if got := Expected(old, monday.AddDate(0, 0, 100), time.Hour, DefaultConfig()); got != 0 {
		t.Errorf("Expected with history beyond the lookback = %v, want 0", got)
	}
	got, err := ScoreAt(old, Point{monday.AddDate(0, 0, 100), 50}, time.Hour, DefaultConfig())
	if err != nil || got.Alert || got.Score != 0 {
		t.Errorf("ScoreAt with history beyond the lookback = %+v, %v; want score 0, no alert", got, err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v, want nil", err)
	}
}

// A series of minutes surges when a rise is held, not only when one step is
// extreme: half an hour at +2 standard deviations a step alerts by its
// end, though no step of it would alone; one extreme step alerts, and does
// not make the half hour after it, a little above the mean, a surge.
func TestScoreHeldRise(t *testing.T) {
	const mean = 10
	step := 5 * time.Minute
	r := rand.New(rand.NewPCG(7, 1))
	base := makeSeries(monday, step, 4*2016, func(int, time.Time) float64 { return poisson(r, mean) })
	riseAt := monday.Add(22 * 24 * time.Hour).Add(10 * time.Hour)
	spikeAt := riseAt.Add(24 * time.Hour)
	values := map[time.Time]float64{spikeAt: 60}
	for k := range 6 {
		values[riseAt.Add(time.Duration(k)*step)] = 17 // +2.2 Poisson sd
		values[spikeAt.Add(time.Duration(k+1)*step)] = mean + 4
	}
	series := with(base, values)
	cfg := DefaultConfig()
	scored, err := Score(series, step, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rise := indexOf(t, series, riseAt)
	alerted := -1
	for i := rise; i < rise+6; i++ {
		if scored[i].Alert {
			alerted = i
			break
		}
	}
	if alerted < rise+2 {
		t.Errorf("held rise of 6 steps at 17 (mean 10): first alert at step %d of it, want one from its third step (a step alone is no surge); verdicts %+v", alerted-rise, scored[rise:rise+6])
	}
	spike := indexOf(t, series, spikeAt)
	if !scored[spike].Alert {
		t.Errorf("spike of 60 (mean 10): %+v, want an alert", scored[spike])
	}
	for i := spike + 1; i <= spike+6; i++ {
		if scored[i].Alert {
			t.Errorf("step %d after a spike, at +1.3 sd: %+v, want no alert", i-spike, scored[i])
		}
	}
}
