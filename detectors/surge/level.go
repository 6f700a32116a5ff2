package surge

// Levels of an alert, as the console and the routing spell them.
const (
	Red    = "red"    // 红: act now
	Orange = "orange" // 橙
	Yellow = "yellow" // 黄
	Blue   = "blue"   // 蓝: watch
)

// Level grades a surge by its size against the size of the place, so that
// the same +10 complaints is red in a village and only worth watching in a
// city. population is the number of residents of the place (≤ 0 when
// unknown: graded as a village, so that missing data never hides a surge).
//
// The excess unit u doubles with each tier of place:
//
//	village   < 10,000 residents      u = 3
//	township  < 200,000               u = 6
//	county    < 2,000,000             u = 12
//	city                              u = 24
//
// and, with ratio = observed / max(expected, 1) and excess = observed −
// expected, the level is the first row that holds:
//
//	red     p < 0.01, ratio ≥ 4,   excess ≥ 4u
//	orange  p < 0.01, ratio ≥ 3,   excess ≥ 2u
//	yellow  p < 0.01, ratio ≥ 2,   excess ≥ u
//	blue    p < 0.01, ratio ≥ 1.5, excess ≥ u/2
//
// and "" otherwise. The p bound only keeps noise out; the alert itself is
// decided by Score with its own alpha.
func Level(observed, expected float64, p float64, population int) string {
	if !(p < 0.01) {
		return ""
	}
	u := 3.0
	switch {
	case population >= 2_000_000:
		u = 24
	case population >= 200_000:
		u = 12
	case population >= 10_000:
		u = 6
	}
	ratio := observed / max(expected, 1)
	excess := observed - expected
	switch {
	case ratio >= 4 && excess >= 4*u:
		return Red
	case ratio >= 3 && excess >= 2*u:
		return Orange
	case ratio >= 2 && excess >= u:
		return Yellow
	case ratio >= 1.5 && excess >= u/2:
		return Blue
	}
	return ""
}
