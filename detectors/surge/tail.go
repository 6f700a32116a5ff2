package surge

import "math"

// Tail probabilities of count distributions. The observed value may be
// fractional (benchmark series are not always counts): the incomplete gamma
// and beta functions are continuous in it and exact at integers.

const (
	tailEps  = 1e-14
	tailIter = 10_000
	tiny     = 1e-300
	// Above this the exact series converge slowly and the normal
	// approximation is good to far better than any alpha anyone sets.
	normalAbove = 1e5
)

// UpperTail returns P(X ≥ x) for a count X with mean mu and variance mu·k
// (k ≥ 1): Poisson when k is 1, else the negative binomial with that
// variance (size mu/(k-1)).
func UpperTail(x, mu, k float64) float64 {
	switch {
	case x <= 0:
		return 1
	case mu <= 0:
		return 0
	case x > normalAbove || mu > normalAbove:
		z := (x - 0.5 - mu) / math.Sqrt(mu*k)
		return 0.5 * math.Erfc(z/math.Sqrt2)
	case k-1 < 1e-9:
		return gammaP(x, mu) // P(Poisson(mu) ≥ x) = P(x, mu)
	}
	// P(NB ≥ x) = I_q(x, r) with success-complement q = mu/(r+mu) = 1-1/k.
	return betaI(1-1/k, x, mu/(k-1))
}

// gammaP is the regularised lower incomplete gamma function P(a, x), a > 0.
func gammaP(a, x float64) float64 {
	if x <= 0 {
		return 0
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(-x + a*math.Log(x) - lg)
	if x < a+1 {
		// The series: accurate for the small upper tails we care about.
		sum, del := 1/a, 1/a
		for n := 1; n < tailIter; n++ {
			del *= x / (a + float64(n))
			sum += del
			if math.Abs(del) < math.Abs(sum)*tailEps {
				break
			}
		}
		return min(1, sum*front)
	}
	// Continued fraction for Q(a, x) (modified Lentz).
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < tailIter; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < tailEps {
			break
		}
	}
	return max(0, 1-front*h)
}

// betaI is the regularised incomplete beta function I_x(a, b).
func betaI(x, a, b float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	lab, _ := math.Lgamma(a + b)
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return min(1, front*betaCF(x, a, b)/a)
	}
	return max(0, 1-front*betaCF(1-x, b, a)/b)
}

// betaCF evaluates the continued fraction of I_x(a, b) (modified Lentz).
func betaCF(x, a, b float64) float64 {
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	d = 1 / awayFromZero(d)
	h := d
	// step applies one coefficient of the fraction and returns its factor.
	step := func(aa float64) float64 {
		d = 1 / awayFromZero(1+aa*d)
		c = awayFromZero(1 + aa/c)
		return d * c
	}
	for m := 1; m < tailIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		h *= step(fm * (b - fm) * x / ((qam + m2) * (a + m2)))
		del := step(-(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2)))
		h *= del
		if math.Abs(del-1) < tailEps {
			break
		}
	}
	return h
}

// awayFromZero keeps Lentz's intermediate terms from vanishing.
func awayFromZero(v float64) float64 {
	if math.Abs(v) < tiny {
		return tiny
	}
	return v
}

// BinomialTail is P(X ≥ x) for X binomial with n trials of probability q.
func BinomialTail(x, n int, q float64) float64 {
	if x <= 0 {
		return 1
	}
	lq, lr := math.Log(q), math.Log1p(-q)
	lgn, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for k := x; k <= n; k++ {
		lk, _ := math.Lgamma(float64(k + 1))
		lnk, _ := math.Lgamma(float64(n - k + 1))
		sum += math.Exp(lgn - lk - lnk + float64(k)*lq + float64(n-k)*lr)
	}
	return min(sum, 1)
}
