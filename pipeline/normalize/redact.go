package normalize

import "encoding/binary"

// Personal numbers in free text. Citizens dictate their numbers into the
// content of a work order ("联系电话138 0571 2345"), so the text is scanned by
// hand, in one pass and without regular expressions: runs of digits (ASCII
// or full-width) joined by at most two separators (space, dash, closing
// parenthesis) form a token, and each stretch of whole digit groups in a
// token that reads as a mobile number, a landline with its area code, or a
// resident ID number has its middle digits replaced by '*' in place:
// 13805712345 → 138****2345, 0575-87021234 → 0575-****1234,
// 330681198304125431 → 330681********5431. The rest of the text, full-width
// forms included, is kept byte for byte.

const (
	maxTokenDigits = 48 // a longer run is split; no number to mask is near that long
	maxTokenGroups = 12
)

// maskNumbers appends to dst a copy of src with personal numbers masked. When
// src holds none it returns dst untouched and false, so the common case
// copies nothing.
func maskNumbers(dst, src []byte) ([]byte, bool) {
	var t token
	last := 0
	changed := false
	for i := 0; i < len(src); {
		// Most of a text has no digit at all: skip it eight bytes at a time.
		for i+8 <= len(src) && !mayStartNumber(binary.LittleEndian.Uint64(src[i:])) {
			i += 8
		}
		if i == len(src) {
			break
		}
		if c := src[i]; (c < '0' || c > '9') && c != 0xEF {
			i++
			continue
		}
		if _, w := digitAt(src, i); w == 0 {
			i++
			continue
		}
		end := t.read(src, i)
		if t.n >= 10 && t.match() {
			for k := range t.n {
				if t.mask[k] {
					dst = append(dst, src[last:t.off[k]]...)
					dst = append(dst, '*')
					last = int(t.off[k]) + int(t.w[k])
					changed = true
				}
			}
		}
		i = end
	}
	if !changed {
		return dst, false
	}
	return append(dst, src[last:]...), true
}

// MaskText returns s with its personal numbers masked as in the records'
// free text: for what people type about a matter (case notes, contact
// records, reasons), which must hide the numbers the same way.
func MaskText(s string) string {
	out, masked := maskNumbers(nil, []byte(s))
	if !masked {
		return s
	}
	return string(out)
}

// token is one run of digit groups: the digits as ASCII ('X' for the check
// character of an ID), where each sits in the source, and the groups.
type token struct {
	n    int
	dig  [maxTokenDigits]byte
	off  [maxTokenDigits]int32
	w    [maxTokenDigits]uint8
	mask [maxTokenDigits]bool
	ng   int
	gend [maxTokenGroups]int // digit index one past each group's end
}

func (t *token) add(d byte, off, w int) {
	t.dig[t.n], t.off[t.n], t.w[t.n], t.mask[t.n] = d, int32(off), uint8(w), false
	t.n++
}

// read fills t from the token starting at src[i] and returns where it ends.
func (t *token) read(src []byte, i int) int {
	t.n, t.ng = 0, 0
	for {
		for i < len(src) && t.n < maxTokenDigits {
			d, w := digitAt(src, i)
			if w == 0 {
				break
			}
			t.add(d, i, w)
			i += w
		}
		if t.n == 17 && i < len(src) { // the check character of an ID, split into groups or not
			if x, w := wideX(src, i); w > 0 {
				t.add(x, i, w)
				i += w
				t.gend[t.ng] = t.n
				t.ng++
				return i
			}
		}
		t.gend[t.ng] = t.n
		t.ng++
		if t.n == maxTokenDigits || t.ng == maxTokenGroups {
			return i
		}
		j := i
		for range 2 {
			w := sepAt(src, j)
			if w == 0 {
				break
			}
			j += w
		}
		if j == i {
			return i
		}
		if _, w := digitAt(src, j); w == 0 {
			return i
		}
		i = j
	}
}

func (t *token) groupStart(g int) int {
	if g == 0 {
		return 0
	}
	return t.gend[g-1]
}

// match marks the digits to mask: from each group on, the longest stretch
// of whole groups that reads as a personal number. It reports whether any
// digit was marked.
func (t *token) match() bool {
	found := false
	for s := 0; s < t.ng; {
		start := t.groupStart(s)
		best, from, to := -1, 0, 0
		for e := s; e < t.ng; e++ {
			total := t.gend[e] - start
			if total > 20 {
				break
			}
			if total < 10 {
				continue
			}
			if f, tt, ok := t.classify(s, e); ok {
				best, from, to = e, f, tt
			}
		}
		if best < 0 {
			s++
			continue
		}
		for k := from; k < to; k++ {
			t.mask[k] = true
		}
		found = true
		s = best + 1
	}
	return found
}

// classify reports whether groups s..e read as a personal number, and which
// digits [from, to) to mask.
func (t *token) classify(s, e int) (from, to int, ok bool) {
	start := t.groupStart(s)
	d := t.dig[start:t.gend[e]]
	n := len(d)
	single := s == e
	first := t.gend[s] - start

	// Resident ID: alone it is masked whatever its check digit (a bank
	// reference masked by mistake costs nothing); split into groups it must
	// also check, or a case number like 12345-20200221-00123 would match.
	switch {
	case n == 18 && (single || idCheck(d[:17]) == d[17] && plausibleBirth(d[6:14])):
		return start + 6, start + 14, true
	case n == 15 && single && isDigits(d):
		var b [8]byte
		b[0], b[1] = '1', '9'
		copy(b[2:], d[6:12])
		if plausibleBirth(b[:]) {
			return start + 6, start + 12, true
		}
	}
	if !isDigits(d) {
		return 0, 0, false
	}

	// Country code, as its own group (+86 138…) or glued (+8613805712345).
	p := 0
	natFirst, natSingle := first, single
	switch {
	case !single && first == 2 && d[0] == '8' && d[1] == '6':
		p, natFirst, natSingle = 2, t.gend[s+1]-t.gend[s], s+1 == e
	case !single && first == 4 && string(d[:4]) == "0086":
		p, natFirst, natSingle = 4, t.gend[s+1]-t.gend[s], s+1 == e
	case single && n == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1':
		p, natFirst = 2, n-2
	case single && n == 15 && string(d[:5]) == "00861":
		p, natFirst = 4, n-4
	}
	nat := d[p:]
	if isMobile(nat) && (natSingle || natFirst >= 3) {
		return start + p + 3, start + p + 7, true
	}
	// A landline; after a country code its trunk 0 is usually dropped.
	virt := 0
	var buf [13]byte
	ld := nat
	if p > 0 && len(nat) > 0 && nat[0] != '0' && len(nat) < len(buf) {
		ld, virt = append(append(buf[:0], '0'), nat...), 1
	}
	if area, ok := landlineArea(ld); ok && (natSingle || natFirst == area-virt) {
		return start + p + area - virt, start + p + len(ld) - 4 - virt, true
	}
	return 0, 0, false
}

// mayStartNumber reports whether any of the eight bytes in x is an ASCII
// digit or 0xEF, the lead byte of the full-width digits: the "has between"
// and "has value" tests of Bit Twiddling Hacks. It never misses one; a false
// positive only costs the byte-wise check.
func mayStartNumber(x uint64) bool {
	const (
		ones = 0x0101010101010101
		low7 = 0x7f7f7f7f7f7f7f7f
		high = 0x8080808080808080
	)
	digit := (ones*(127+'9'+1) - x&low7) & ^x & (x&low7 + ones*(127-('0'-1))) & high
	y := x ^ ones*0xEF
	lead := (y - ones) & ^y & high
	return digit|lead != 0
}

// isDigits reports whether d is all ASCII digits.
func isDigits(d []byte) bool {
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// digitAt reads an ASCII or full-width digit at src[i].
func digitAt(src []byte, i int) (byte, int) {
	if i >= len(src) {
		return 0, 0
	}
	if c := src[i]; c >= '0' && c <= '9' {
		return c, 1
	}
	return wideDigit(src, i)
}

// sepAt reads a separator that may sit inside a written number: space,
// dash, a closing parenthesis after an area code, and their full-width forms.
func sepAt(src []byte, i int) int {
	if i >= len(src) {
		return 0
	}
	switch src[i] {
	case ' ', '-', ')':
		return 1
	}
	if w := wideSep(src, i); w > 0 && !(src[i] == 0xEF && src[i+2] == 0x88) { // not （
		return w
	}
	return 0
}
