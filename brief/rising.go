package brief

import "math"

// The rising test: is a count significantly above its own history? The
// expected count is the mean of the previous periods; the spread is theirs
// too — a negative binomial with their variance when it exceeds the mean
// (complaints come in clusters), else a Poisson. A count rises when the
// upper tail P(X ≥ count) is below Alpha and the count is at least
// MinCount, so that 1 → 3 never reads as a rise.
const (
	Alpha    = 0.01
	MinCount = 5
)

// footnote states the test in the brief.
const footnote = "「上升」的判定：以此前%d个%s的平均数为期望、以其离散程度为方差（负二项分布；方差不超过均值时为泊松分布），本期数量的上尾概率 P(X ≥ 本期数) 小于 1%%，且本期不少于 %d 件。只看各项与自身历史相比，不看数量多少。"

// upperTail is P(X ≥ x) for a count whose history has mean m and variance
// v: negative binomial when v > m, Poisson otherwise. A zero mean is taken
// as half a matter per period, so that something new still needs several.
func upperTail(x int, m, v float64) float64 {
	if x <= 0 {
		return 1
	}
	m = math.Max(m, 0.5)
	var logPMF func(k float64) float64
	if v > m {
		r := m * m / (v - m) // size: variance m + m²/r
		lr, lq := math.Log(r/(r+m)), math.Log(m/(r+m))
		lgr, _ := math.Lgamma(r)
		logPMF = func(k float64) float64 {
			a, _ := math.Lgamma(k + r)
			b, _ := math.Lgamma(k + 1)
			return a - lgr - b + r*lr + k*lq
		}
	} else {
		lm := math.Log(m)
		logPMF = func(k float64) float64 {
			b, _ := math.Lgamma(k + 1)
			return k*lm - m - b
		}
	}
	if float64(x) <= m {
		// At or below the mean the tail is large: 1 − P(X < x), summed
		// from below, where the terms are few.
		below := 0.0
		for k := 0; k < x; k++ {
			below += math.Exp(logPMF(float64(k)))
		}
		return math.Max(0, 1-below)
	}
	// Above the mean the terms only fall: sum them until they no longer
	// count (in log space, so that large counts do not underflow).
	sum := 0.0
	for k := x; k < x+100000; k++ {
		t := math.Exp(logPMF(float64(k)))
		sum += t
		if t < sum*1e-12 {
			break
		}
	}
	return math.Min(1, sum)
}

// meanVar is the mean and the sample variance of counts.
func meanVar(counts []int) (float64, float64) {
	if len(counts) == 0 {
		return 0, 0
	}
	s := 0.0
	for _, c := range counts {
		s += float64(c)
	}
	m := s / float64(len(counts))
	if len(counts) < 2 {
		return m, m
	}
	v := 0.0
	for _, c := range counts {
		v += (float64(c) - m) * (float64(c) - m)
	}
	return m, v / float64(len(counts)-1)
}

// rises reports whether x is a significant rise over history, and the
// tail probability.
func rises(x int, history []int) (bool, float64) {
	m, v := meanVar(history)
	p := upperTail(x, m, v)
	return x >= MinCount && float64(x) > m && p < Alpha, p
}
