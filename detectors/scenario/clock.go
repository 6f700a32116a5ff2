package scenario

import (
	"strconv"
	"time"

	risk "riskwatch"
)

// clock is how one upstream gateway writes times (contracts/README.md). A
// record keeps its gateway's clock in every version.
type clock uint8

const (
	clockDash       clock = iota // 2025-10-13 09:30:15
	clockSlash                   // 2025/10/13 09:30: minutes only
	clockOffset                  // 2025-10-13T09:30:15+08:00
	clockZulu                    // 2025-10-13T01:30:15Z
	clockMillis                  // 1760319015000, a JSON number
	clockMillisText              // "1760319015000"
)

// format writes t, or nil (the field left out) when t is zero.
func (c clock) format(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	switch c {
	case clockSlash:
		return t.In(risk.CST).Format("2006/01/02 15:04")
	case clockOffset:
		return t.In(risk.CST).Format(time.RFC3339)
	case clockZulu:
		return t.UTC().Format(time.RFC3339)
	case clockMillis:
		return t.UnixMilli()
	case clockMillisText:
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	return t.In(risk.CST).Format(time.DateTime)
}

// trunc is t as the clock can write it: what the pipeline will store.
func (c clock) trunc(t time.Time) time.Time {
	if c == clockSlash {
		return t.Truncate(time.Minute)
	}
	return t
}

// gateway draws a clock with the mix of the feeds' gateways. Versionless
// records never get minute precision: their versions are ordered by
// updateTime alone.
func (g *gen) gateway(versioned bool) clock {
	for {
		c := clock(weighted(g.r, []float64{60, 10, 10, 5, 10, 5}))
		if versioned || c != clockSlash {
			return c
		}
	}
}
