package surge

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	risk "riskwatch"
)

// NAB's real count series (../shared/benchmarks/nab beside the checkout):
// the calibration of the test on data no one here generated.

// nabFiles are the benchmark's count series, with their step.
var nabFiles = []struct {
	name string
	step time.Duration
}{
	{"realTweets/Twitter_volume_AAPL.csv", 5 * time.Minute},
	{"realTweets/Twitter_volume_AMZN.csv", 5 * time.Minute},
	{"realTweets/Twitter_volume_CRM.csv", 5 * time.Minute},
	{"realTweets/Twitter_volume_CVS.csv", 5 * time.Minute},
	{"realTweets/Twitter_volume_FB.csv", 5 * time.Minute},
	{"realKnownCause/nyc_taxi.csv", 30 * time.Minute},
}

// nabDir finds the benchmark: $RISKWATCH_NAB_DIR, else shared/benchmarks/nab
// beside the repository root (the directory holding go.mod) or beside any
// directory above it, as in a worktree.
func nabDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("RISKWATCH_NAB_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; {
		cand := filepath.Join(filepath.Dir(d), "shared", "benchmarks", "nab")
		if _, err := os.Stat(filepath.Join(cand, "labels", "combined_windows.json")); err == nil {
			return cand
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	tb.Fatalf("NAB benchmark not found beside %s or any directory above it: want ../shared/benchmarks/nab beside the checkout, or set RISKWATCH_NAB_DIR", wd)
	return ""
}

// nabSeries reads one file's points, its timestamps as written (UTC+8, as
// `riskwatch series` reads them) and its labelled windows.
type nabSeries struct {
	points  []Point
	stamps  []string
	windows [][2]time.Time
}

func (s nabSeries) inWindow(t time.Time) bool {
	for _, w := range s.windows {
		if !t.Before(w[0]) && !t.After(w[1]) {
			return true
		}
	}
	return false
}

func readNAB(tb testing.TB, dir, name string) nabSeries {
	tb.Helper()
	f, err := os.Open(filepath.Join(dir, "data", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	var s nabSeries
	for _, r := range recs[1:] {
		t, err := time.ParseInLocation(time.DateTime, r[0], risk.CST)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		s.points = append(s.points, Point{T: t, V: v})
		s.stamps = append(s.stamps, r[0])
	}
	b, err := os.ReadFile(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var labels map[string][][2]string
	if err := json.Unmarshal(b, &labels); err != nil {
		tb.Fatal(err)
	}
	ws, ok := labels[name]
	if !ok {
		tb.Fatalf("%s: no windows in combined_windows.json", name)
	}
	for _, w := range ws {
		var tw [2]time.Time
		for k := range w {
			if tw[k], err = time.ParseInLocation("2006-01-02 15:04:05.000000", w[k], risk.CST); err != nil {
				tb.Fatal(err)
			}
		}
		s.windows = append(s.windows, tw)
	}
	return s
}

// TestNABFalseFlagRate bounds the share of points outside NAB's labelled
// windows (after warm-up) that the test flags at the default alpha: at most
// twice alpha on every file. It also logs the share below other levels.
func TestNABFalseFlagRate(t *testing.T) {
	if testing.Short() {
		t.Skip("NAB calibration: 90,000 points")
	}
	dir := nabDir(t)
	cfg := DefaultConfig()
	levels := []float64{0.1, 0.01, 0.001, 1e-4}
	for _, nf := range nabFiles {
		s := readNAB(t, dir, nf.name)
		sc, err := Score(s.points, nf.step, cfg)
		if err != nil {
			t.Fatalf("%s: %v", nf.name, err)
		}
		warm := newSeasons(nf.step, cfg).warmUp(cfg)
		n, alerts := 0, 0
		below := make([]int, len(levels))
		for _, x := range sc[warm:] {
			if s.inWindow(x.T) {
				continue
			}
			n++
			for k, l := range levels {
				if x.P < l {
					below[k]++
				}
			}
			if x.Alert {
				alerts++
			}
		}
		rate := float64(alerts) / float64(n)
		line := fmt.Sprintf("%-36s %d points outside windows, flagged %.5f", nf.name, n, rate)
		for k, l := range levels {
			line += fmt.Sprintf(", p < %g: %.5f", l, float64(below[k])/float64(n))
		}
		t.Log(line)
		// In whole points: 2 × alpha of 13,450 points allows 27 flags.
		if float64(alerts) > math.Ceil(2*cfg.Alpha*float64(n)) {
			t.Errorf("%s: flagged %.5f of the points outside windows, want ≤ %g (2 × alpha)", nf.name, rate, 2*cfg.Alpha)
		}
	}
}

// TestScoreAtIsScoreOnNAB checks on real counts that ScoreAt, which works
// out only what the newest step's verdict needs (the live detector's and
// the backtests' path, once per busy series and hour), gives exactly the
// batch verdict of Score, which works out every step's: at the benchmark's
// own steps (with the half-hour sum test) and summed by hour, as the
// detector counts; at the first alerts and at points spread over each
// series.
func TestScoreAtIsScoreOnNAB(t *testing.T) {
	if testing.Short() {
		t.Skip("NAB: 90,000 points")
	}
	dir := nabDir(t)
	cfg := DefaultConfig()
	alerts := map[time.Duration]int{}
	for _, nf := range nabFiles {
		s := readNAB(t, dir, nf.name)
		var hourly []Point
		for _, p := range s.points {
			h := p.T.Truncate(time.Hour)
			if n := len(hourly); n > 0 && hourly[n-1].T.Equal(h) {
				hourly[n-1].V += p.V
			} else {
				hourly = append(hourly, Point{T: h, V: p.V})
			}
		}
		for _, c := range []struct {
			series []Point
			step   time.Duration
		}{{s.points, nf.step}, {hourly, time.Hour}} {
			batch, err := Score(c.series, c.step, cfg)
			if err != nil {
				t.Fatalf("%s: %v", nf.name, err)
			}
			stride, alerted := 1+len(c.series)/10, 0
			for i, want := range batch {
				if want.Alert {
					alerted++
				}
				if !(want.Alert && alerted <= 10) && i%stride != 0 {
					continue
				}
				got, err := ScoreAt(c.series[:i], c.series[i], c.step, cfg)
				if err != nil {
					t.Fatal(err)
				}
				// ScoreAt reads history back to its horizon: beyond it (the
				// taxi counts by hour), the batch starts there too.
				horizon := c.series[i].T.Add(-2*time.Duration(cfg.LookbackSeasons)*week - 2*day)
				if lo, _ := slices.BinarySearchFunc(c.series, horizon, func(p Point, t time.Time) int { return p.T.Compare(t) }); lo > 0 {
					short, err := Score(c.series[lo:i+1], c.step, cfg)
					if err != nil {
						t.Fatal(err)
					}
					want = short[len(short)-1]
				}
				if got != want {
					t.Errorf("%s, step %v, point %d: ScoreAt %+v, Score %+v", nf.name, c.step, i, got, want)
				}
				if got.Alert {
					alerts[c.step]++
				}
			}
		}
	}
	// The verdicts compared include alerts, hourly ones too.
	if alerts[time.Hour] == 0 || alerts[5*time.Minute] == 0 {
		t.Errorf("alerts among the points compared: %v, want some at every step", alerts)
	}
}
