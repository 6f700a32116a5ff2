package surge

import (
	"math"
	"testing"
)

// tailBySum is P(X ≥ x) for integer x by summing the probability mass below
// x, in logs: slow and obviously right.
func tailBySum(x int, mu, k float64) float64 {
	logPMF := func(j int) float64 {
		fj := float64(j)
		lj, _ := math.Lgamma(fj + 1)
		if k == 1 {
			return fj*math.Log(mu) - mu - lj
		}
		r := mu / (k - 1)
		q := 1 - 1/k
		lrj, _ := math.Lgamma(r + fj)
		lr, _ := math.Lgamma(r)
		return lrj - lr - lj + r*math.Log1p(-q) + fj*math.Log(q)
	}
	below := 0.0
	for j := range x {
		below += math.Exp(logPMF(j))
	}
	if below < 0.5 {
		return 1 - below
	}
	// Far in the tail, sum the tail itself to keep precision.
	tail := 0.0
	for j := x; j < x+100000; j++ {
		p := math.Exp(logPMF(j))
		tail += p
		if p < tail*1e-17 {
			break
		}
	}
	return tail
}

func TestUpperTail(t *testing.T) {
	tests := []struct {
		x     int
		mu, k float64
	}{
		{0, 3, 1}, {1, 3, 1}, {5, 0.2, 1}, {15, 3, 1}, {3, 3, 1}, {40, 10, 1}, {120, 60, 1}, {2, 50, 1},
		{1, 3, 1.5}, {15, 3, 1.2}, {15, 3, 3}, {40, 10, 1.05}, {40, 10, 4}, {400, 100, 2}, {5, 0.05, 1.2}, {3, 20, 2},
	}
	for _, tt := range tests {
		got, want := UpperTail(float64(tt.x), tt.mu, tt.k), tailBySum(tt.x, tt.mu, tt.k)
		if math.Abs(got-want) > 1e-10*want {
			t.Errorf("P(X ≥ %d | mean %v, var/mean %v) = %.12g, want %.12g", tt.x, tt.mu, tt.k, got, want)
		}
	}
}

func TestUpperTailEdges(t *testing.T) {
	tests := []struct {
		name     string
		x, mu, k float64
		lo, hi   float64
	}{
		{"observed 0", 0, 5, 1, 1, 1},
		{"mean 0", 3, 0, 1, 0, 0},
		{"fractional observed between its integers", 7.5, 3, 1, UpperTail(8, 3, 1), UpperTail(7, 3, 1)},
		{"normal approximation", 200_000 + 3*447, 200_000, 1, 0.0011, 0.0015}, // z = 3
	}
	for _, tt := range tests {
		if got := UpperTail(tt.x, tt.mu, tt.k); got < tt.lo || got > tt.hi {
			t.Errorf("%s: P(X ≥ %v | %v, %v) = %v, want in [%v, %v]", tt.name, tt.x, tt.mu, tt.k, got, tt.lo, tt.hi)
		}
	}
}

// TestBinomialTail against sums of exact fractions.
func TestBinomialTail(t *testing.T) {
	for _, c := range []struct {
		x, n    int
		q, want float64
	}{
		{10, 12, 1.0 / 3, 0.0005438044862929281}, // a trend's last week of 10 over 1 and 1
		{15, 20, 0.5, 0.020694732666015625},
		{0, 5, 0.3, 1},
		{6, 5, 0.3, 0},
	} {
		if got := BinomialTail(c.x, c.n, c.q); math.Abs(got-c.want) > 1e-12*max(c.want, 1e-300) && math.Abs(got-c.want) > 1e-15 {
			t.Errorf("BinomialTail(%d, %d, %g) = %g, want %g", c.x, c.n, c.q, got, c.want)
		}
	}
}
