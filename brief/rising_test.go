package brief

import (
	"math"
	"testing"
)

// TestUpperTail checks the tails against values worked out by hand or
// with a table: Poisson(2) P(X ≥ 5) = 1 − e⁻²(1+2+2+4/3+2/3) = 0.052653;
// P(X ≥ 0) = 1; a negative binomial is wider than a Poisson of its mean.
func TestUpperTail(t *testing.T) {
	if got := upperTail(5, 2, 2); math.Abs(got-0.052653) > 1e-5 {
		t.Errorf("Poisson(2) P(X≥5) = %v, want 0.052653", got)
	}
	if got := upperTail(1, 2, 1); math.Abs(got-(1-math.Exp(-2))) > 1e-9 {
		t.Errorf("Poisson(2) P(X≥1) = %v, want %v", got, 1-math.Exp(-2))
	}
	if got := upperTail(0, 2, 2); got != 1 {
		t.Errorf("P(X≥0) = %v, want 1", got)
	}
	// NB with mean 2, variance 6 (r = 1: geometric, p = 1/3 of success
	// per trial): P(X ≥ 5) = (2/3)^5 = 0.131687.
	if got := upperTail(5, 2, 6); math.Abs(got-0.131687) > 1e-5 {
		t.Errorf("NB(mean 2, var 6) P(X≥5) = %v, want 0.131687", got)
	}
	// Large counts stay finite: Poisson(1000) P(X ≥ 1100) ≈ 0.00093.
	if got := upperTail(1100, 1000, 1000); got < 0.0007 || got > 0.0012 {
		t.Errorf("Poisson(1000) P(X≥1100) = %v, want about 0.00093", got)
	}
	for _, tt := range []struct {
		x       int
		history []int
		want    bool
	}{
		{12, []int{2, 3, 2, 4, 3, 2, 3, 3}, true},
		{3, []int{0, 0, 0, 0, 0, 0, 0, 0}, false},     // below MinCount
		{12, []int{2, 20, 1, 15, 0, 18, 3, 9}, false}, // a noisy history: not significant
		{40, []int{35, 41, 38, 44, 39, 36, 42, 40}, false},
	} {
		if got, p := rises(tt.x, tt.history); got != tt.want {
			t.Errorf("rises(%d, %v) = %v (p %.4f), want %v", tt.x, tt.history, got, p, tt.want)
		}
	}
}
