package normalize

import (
	"math"
	"time"

	risk "riskwatch"
)

// cstOffset is risk.CST's offset in seconds: the zone of every upstream
// time that carries none.
var _, cstOffset = time.Time{}.In(risk.CST).Zone()

// Plausible times: a year outside 2000–2100 (China time) is a typo or a
// unit mix-up (seconds read as milliseconds), not a date to store.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(cstOffset) * time.Second)
	maxTime = time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(cstOffset) * time.Second)
)

func plausible(t time.Time) (time.Time, bool) {
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// ParseTime reads an upstream time and returns it in UTC. It accepts
//
//	2020-02-21 09:30:15   2020-02-21 09:30   2020/02/21 09:30   2020/2/1 9:30:15
//	2020-02-21            2020-02-21T09:30:15+08:00   2020-02-21T01:30:15Z
//	2020-02-21T09:30:15.123+08:00 (any fraction, zone as Z, ±hh:mm, ±hhmm or ±hh)
//	1582248615000 (epoch milliseconds, 13 digits)   1582248615 (epoch seconds, 10 digits)
//	20200221, 202002210930, 20200221093015 (compact, 8, 12 or 14 digits)
//
// A time without a zone is China Standard Time (UTC+8). ok is false for
// anything else and for years outside 2000–2100.
func ParseTime(s string) (time.Time, bool) { return parseTime(s) }

// ParseTimeNumber reads a time sent as a JSON number: epoch milliseconds,
// or epoch seconds when the number is below 10^11 (a time in milliseconds
// that small is before 1974, so the two cannot be confused).
func ParseTimeNumber(n float64) (time.Time, bool) {
	if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 || n > 1e15 {
		return time.Time{}, false
	}
	if n < 1e11 {
		sec, frac := math.Modf(n)
		return plausible(time.Unix(int64(sec), int64(frac*1e9)))
	}
	return plausible(time.UnixMilli(int64(n)))
}

func parseTime[T bytesOrString](s T) (time.Time, bool) {
	s = trimSpace(s)
	if len(s) == 0 {
		return time.Time{}, false
	}
	if n, ok := digits(s); ok {
		return parseDigits(s, n)
	}
	p := timeParser[T]{s: s}
	year := p.number(4, 4)
	sep := p.peek()
	if sep != '-' && sep != '/' && sep != '.' {
		return time.Time{}, false
	}
	p.i++
	month := p.number(1, 2)
	if !p.skip(sep) {
		return time.Time{}, false
	}
	day := p.number(1, 2)
	hour, minute, sec, nsec := 0, 0, 0, 0
	offset := cstOffset
	if !p.done() {
		if c := p.peek(); c == 'T' || c == 't' {
			p.i++
		} else if !p.spaces() {
			return time.Time{}, false
		}
		hour = p.number(1, 2)
		if !p.skip(':') {
			return time.Time{}, false
		}
		minute = p.number(1, 2)
		if p.skip(':') {
			sec = p.number(1, 2)
			if p.skip('.') || p.skip(',') {
				nsec = p.fraction()
			}
		}
		p.spaces()
		if !p.done() {
			offset = p.zone()
		}
	}
	if p.bad || !p.done() || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return plausible(t.Add(-time.Duration(offset) * time.Second))
}

// digits reads s when it is all ASCII digits (at most 18 of them).
func digits[T bytesOrString](s T) (int64, bool) {
	if len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// parseDigits reads an all-digit time: by its length an epoch or a compact
// local time.
func parseDigits[T bytesOrString](s T, n int64) (time.Time, bool) {
	switch len(s) {
	case 13:
		return plausible(time.UnixMilli(n))
	case 10:
		return plausible(time.Unix(n, 0))
	case 8, 12, 14:
		// yyyymmdd[hhmm[ss]]: reuse the separated parser's checks.
		var b [19]byte
		out := append(b[:0], s[0:4]...)
		out = append(append(out, '-'), s[4:6]...)
		out = append(append(out, '-'), s[6:8]...)
		if len(s) >= 12 {
			out = append(append(out, ' '), s[8:10]...)
			out = append(append(out, ':'), s[10:12]...)
		}
		if len(s) == 14 {
			out = append(append(out, ':'), s[12:14]...)
		}
		return parseTime(out)
	}
	return time.Time{}, false
}

// timeParser walks a time string; any malformed part sets bad, so the
// caller checks once at the end.
type timeParser[T bytesOrString] struct {
	s   T
	i   int
	bad bool
}

func (p *timeParser[T]) done() bool { return p.i >= len(p.s) }

func (p *timeParser[T]) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *timeParser[T]) skip(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *timeParser[T]) spaces() bool {
	start := p.i
	for p.peek() == ' ' {
		p.i++
	}
	return p.i > start
}

// number reads lo to hi ASCII digits.
func (p *timeParser[T]) number(lo, hi int) int {
	n, k := 0, 0
	for k < hi && !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
		k++
	}
	if k < lo {
		p.bad = true
	}
	return n
}

// fraction reads fractional seconds as nanoseconds; digits past the ninth
// are dropped.
func (p *timeParser[T]) fraction() int {
	ns, k := 0, 0
	for !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		if k < 9 {
			ns = ns*10 + int(p.s[p.i]-'0')
			k++
		}
		p.i++
	}
	if k == 0 {
		p.bad = true
	}
	for ; k < 9; k++ {
		ns *= 10
	}
	return ns
}

// zone reads Z or ±hh[[:]mm] and returns the offset in seconds east of UTC.
func (p *timeParser[T]) zone() int {
	c := p.peek()
	if c == 'Z' || c == 'z' {
		p.i++
		return 0
	}
	if c != '+' && c != '-' {
		p.bad = true
		return 0
	}
	p.i++
	h := p.number(2, 2)
	m := 0
	if p.skip(':') || !p.done() {
		m = p.number(2, 2)
	}
	if h > 14 || m > 59 {
		p.bad = true
	}
	off := (h*60 + m) * 60
	if c == '-' {
		off = -off
	}
	return off
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
