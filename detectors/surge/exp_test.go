package surge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func poissonDraw(r *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	u := r.Float64()
	p := math.Exp(-mean)
	c := p
	k := 0
	for u > c && k < 10000 {
		k++
		p *= mean / float64(k)
		c += p
	}
	return float64(k)
}

var shape = [24]float64{.05, .05, .05, .05, .05, .05, .1, .3, .7, 1, 1, 1, .6, .6, .9, .9, .9, .9, .4, .4, .4, .15, .15, .1}

func TestExp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, cst)
	type key struct{ f int; b string }
	hit := map[key][2]int{}
	var bg, fp int
	for sidx := 0; sidx < 40; sidx++ {
		peak := []float64{2, 5, 10, 20}[sidx%4]
		n := 20 * 168
		series := make([]Point, n)
		mean := make([]float64, n)
		planted := map[int]int{}
		dayEff := 1.0
		for i := range n {
			tt := start.Add(time.Duration(i) * time.Hour)
			if tt.Hour() == 0 {
				dayEff = math.Exp(0.1 * r.NormFloat64())
			}
			m := peak * shape[tt.Hour()] * dayEff
			if wd := tt.Weekday(); wd == time.Saturday || wd == time.Sunday {
				m *= 0.5
			}
			if i/24 >= 70 && i/24 < 77 { m *= 0.3 } // holiday week
			mean[i] = m
			series[i] = Point{tt, poissonDraw(r, m)}
		}
		for range 15 {
			i := 336 + r.IntN(n-336)
			f := 3 + r.IntN(3)
			planted[i] = f
			series[i].V = poissonDraw(r, float64(f)*mean[i])
		}
		sc, err := Score(series, time.Hour, DefaultConfig())
		if err != nil { t.Fatal(err) }
		for i := 336; i < n; i++ {
			if f, ok := planted[i]; ok {
				b := "<2"
				switch m := mean[i]; { case m >= 10: b = ">=10"; case m >= 5: b = "5-10"; case m >= 2: b = "2-5" }
				h := hit[key{f, b}]
				h[1]++
				if sc[i].Alert { h[0]++ }
				hit[key{f, b}] = h
				continue
			}
			bg++
			if sc[i].Alert { fp++; if fp < 30 {t.Logf("fp %v v=%v exp=%.2f mean=%.2f p=%.2g", series[i].T, series[i].V, sc[i].Expected, mean[i], sc[i].P)} }
		}
	}
	t.Logf("bg %d fp %d per10k %.2f", bg, fp, float64(fp)/float64(bg)*1e4)
	for f := 3; f <= 5; f++ { for _, b := range []string{"<2","2-5","5-10",">=10"} { h := hit[key{f,b}]; t.Logf("f=%d base %s: %d/%d", f, b, h[0], h[1]) } }
	_ = fmt.Sprint
}
