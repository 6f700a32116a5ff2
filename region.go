package riskwatch

import (
	"fmt"
	"strings"
)

// Region is an administrative division (区划) by its GB/T 2260 code extended
// to the 12-digit statistical code: 6 digits county, 3 township, 3 village.
// The zero Region is unknown.
type Region struct {
	Code string // 12-digit code as sent, zero-padded; abolished codes kept
}

// successors maps abolished county-level codes to the unit that took them
// over. Township and village codes below them were renumbered without a
// published one-to-one table, so only the county is mapped.
var successors = map[string]string{
	"330103": "330105", // 下城区 → 拱墅区 (2021)
	"330104": "330102", // 江干区 → 上城区 (2021)
}

// ParseRegion reads a division code of 6, 9 or 12 digits, as the feeds send
// them. Shorter codes are padded with zeros: 330681109 is 330681109000.
func ParseRegion(s string) (Region, error) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 6, 9, 12:
	default:
		return Region{}, fmt.Errorf("region code %q: want 6, 9 or 12 digits: %w", s, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Region{}, fmt.Errorf("region code %q: not all digits: %w", s, ErrInvalid)
		}
	}
	if s[:2] < "11" || s[:2] > "82" {
		return Region{}, fmt.Errorf("region code %q: no such province: %w", s, ErrInvalid)
	}
	return Region{Code: s + "000000"[:12-len(s)]}, nil
}

// Known reports whether the region is set.
func (r Region) Known() bool { return r.Code != "" }

// Province is the 6-digit code of the province, e.g. 330000.
func (r Region) Province() string {
	if !r.Known() {
		return ""
	}
	return r.Code[:2] + "0000"
}

// City is the 6-digit code of the prefecture, e.g. 330600; "" for a
// province-level code.
func (r Region) City() string {
	if !r.Known() || r.Code[2:4] == "00" {
		return ""
	}
	if c := r.County(); c != "" {
		return c[:4] + "00" // a successor may sit in another city
	}
	return r.Code[:4] + "00"
}

// County is the 6-digit code of the county-level unit, mapped to its
// successor when it was abolished (330104 江干区 → 330102 上城区); "" for a
// city- or province-level code.
func (r Region) County() string {
	if !r.Known() || r.Code[4:6] == "00" {
		return ""
	}
	if s, ok := successors[r.Code[:6]]; ok {
		return s
	}
	return r.Code[:6]
}

// Abolished reports whether the county-level code was abolished; County then
// gives its successor.
func (r Region) Abolished() bool {
	if !r.Known() {
		return false
	}
	_, ok := successors[r.Code[:6]]
	return ok
}

// Township is the 9-digit code of the township or sub-district, e.g.
// 330681109; "" when the code stops above it.
func (r Region) Township() string {
	if r.County() == "" || r.Code[6:9] == "000" {
		return ""
	}
	return r.Code[:9]
}

// Village is the 12-digit code of the village or community; "" when the code
// stops above it.
func (r Region) Village() string {
	if r.Township() == "" || r.Code[9:] == "000" {
		return ""
	}
	return r.Code
}

// Level names the lowest level the code reaches: province, city, county,
// township or village; "" when unknown.
func (r Region) Level() string {
	switch {
	case r.Village() != "":
		return "village"
	case r.Township() != "":
		return "township"
	case r.County() != "":
		return "county"
	case r.City() != "":
		return "city"
	case r.Known():
		return "province"
	}
	return ""
}

// Places names divisions as people write them, by code: 330681 诸暨市,
// 330681109 枫桥镇, 330681109201 枫源村. Each code has its own name only; a
// division not listed is shown by its code.
type Places map[string]string

// Name is the division's name, a village's with its township's
// (枫桥镇枫源村: village names repeat across townships); codes padded with
// zeros name the division above (330681109000 is 枫桥镇). A division not
// listed keeps its code.
func (p Places) Name(code string) string {
	short := code
	for len(short) > 6 && strings.HasSuffix(short, "000") {
		short = short[:len(short)-3]
	}
	n, ok := p[short]
	if !ok {
		return code
	}
	if len(short) == 12 {
		if t, ok := p[short[:9]]; ok {
			return t + n
		}
	}
	return n
}

// Rename replaces the division codes in s that p lists — runs of 6, 9 or 12
// digits — by their names: detectors write codes, people read names.
func (p Places) Rename(s string) string {
	if len(p) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i; n == 6 || n == 9 || n == 12 {
			if name := p.Name(s[i:j]); name != s[i:j] {
				b.WriteString(s[last:i])
				b.WriteString(name)
				last = j
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
