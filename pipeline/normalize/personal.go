package normalize

// Phone numbers, resident ID numbers and names: normalising them, so that a
// person links across feeds whatever the format, and masking them for
// display. The internal forms are generic over string and []byte so that the
// decoders can work on the parser's bytes without copying clear personal
// data into new strings.

type bytesOrString interface{ ~string | ~[]byte }

// phoneMaxDigits bounds the digits NormalizePhone reads: 0086 + 12 digits of
// a landline, with room to spare.
const phoneMaxDigits = 20

// NormalizePhone returns a Chinese phone number as digits only: a mobile
// number (11 digits, 1[3-9]…) or a landline with its area code (0 + 2–3
// digits, then 7–8 digits). It accepts full-width digits, spaces, dashes,
// parentheses and the +86, 0086 and 86 prefixes. ok is false for anything
// else, including numbers masked upstream (with *) and foreign numbers.
func NormalizePhone(s string) (string, bool) {
	var buf [phoneMaxDigits]byte
	d, ok := normalizePhone(buf[:0], s)
	if !ok {
		return "", false
	}
	return string(d), true
}

func normalizePhone[T bytesOrString](dst []byte, s T) ([]byte, bool) {
	plus := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(dst) == phoneMaxDigits {
				return nil, false
			}
			dst = append(dst, c)
			i++
			continue
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '\t' || c == '.':
			i++
			continue
		case c == '+':
			if len(dst) > 0 || plus {
				return nil, false
			}
			plus = true
			i++
			continue
		case c < 0x80:
			return nil, false // letters, '*' of upstream masking, '/' between two numbers
		}
		if d, w := wideDigit(s, i); w > 0 {
			if len(dst) == phoneMaxDigits {
				return nil, false
			}
			dst = append(dst, d)
			i += w
			continue
		}
		switch w := wideSep(s, i); {
		case w > 0:
			i += w
		case i+2 < len(s) && s[i] == 0xEF && s[i+1] == 0xBC && s[i+2] == 0x8B: // ＋
			if len(dst) > 0 || plus {
				return nil, false
			}
			plus = true
			i += 3
		default:
			return nil, false
		}
	}
	d := dst
	intl := false
	switch {
	case len(d) > 4 && string(d[:4]) == "0086":
		d, intl = d[4:], true
	case plus && len(d) > 2 && d[0] == '8' && d[1] == '6':
		d, intl = d[2:], true
	case plus:
		return nil, false // another country
	case len(d) == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1':
		d = d[2:] // 86 without +, before a mobile number only: otherwise ambiguous
	}
	if intl && len(d) > 0 && d[0] != '0' && !isMobile(d) {
		// International form drops the trunk 0 of the area code: +86 575 …
		// Put it back so the number keys like the domestic form.
		d = append(append(dst[:0], '0'), d...)
	} else {
		d = append(dst[:0], d...)
	}
	if isMobile(d) {
		return d, true
	}
	if _, ok := landlineArea(d); ok {
		return d, true
	}
	return nil, false
}

// isMobile reports whether d is 11 digits 1[3-9]….
func isMobile(d []byte) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// landlineArea returns the length of the area code (with its 0) of a
// landline of digits d: 3 for 010 and 02x, 4 for the others; the local
// number has 7 or 8 digits and starts with 2–9.
func landlineArea(d []byte) (int, bool) {
	if len(d) < 10 || len(d) > 12 || d[0] != '0' || d[1] == '0' {
		return 0, false
	}
	area := 4
	if d[1] == '1' || d[1] == '2' {
		area = 3
	}
	local := len(d) - area
	if local < 7 || local > 8 || d[area] < '2' {
		return 0, false
	}
	return area, true
}

// MaskPhone returns a phone number masked for display: 13805712345 →
// 138****2345, 0575-87021234 → 0575****1234; "" when s is not a usable
// number, so that nothing unmasked is ever shown.
func MaskPhone(s string) string {
	var buf [phoneMaxDigits]byte
	d, ok := normalizePhone(buf[:0], s)
	if !ok {
		return ""
	}
	return string(appendMaskPhone(nil, d))
}

// appendMaskPhone appends a normalised number masked: the four digits after
// the mobile prefix, or the local number but its last four digits (always
// four stars, so the mask does not tell a 7-digit local number from an
// 8-digit one).
func appendMaskPhone(dst, d []byte) []byte {
	keep := 3
	if area, ok := landlineArea(d); ok {
		keep = area
	}
	dst = append(dst, d[:keep]...)
	dst = append(dst, "****"...)
	return append(dst, d[len(d)-4:]...)
}

// NormalizeID returns a resident ID number (GB 11643) in its 18-character
// form: full-width digits are read, a lower-case x becomes X, and a 15-digit
// ID of the first generation is converted (19 inserted before the year, the
// check digit computed). ok is false when the length, the birth date or the
// check digit is wrong.
func NormalizeID(s string) (string, bool) {
	var id [18]byte
	if ok, checked := normalizeID(&id, s); !ok || !checked {
		return "", false
	}
	return string(id[:]), true
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheck returns the check character of the first 17 digits of an ID.
func idCheck(d []byte) byte {
	sum := 0
	for i, w := range idWeights {
		sum += int(d[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// normalizeID reads an ID into id. ok reports the form (15 digits, or 17
// digits and a digit or X) and a plausible birth date; checked reports that
// the check digit is right too.
func normalizeID[T bytesOrString](id *[18]byte, s T) (ok, checked bool) {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if n == len(id) {
			return false, false
		}
		if c >= '0' && c <= '9' {
			id[n] = c
			n++
			i++
			continue
		}
		if x, w := wideX(s, i); w > 0 && n == 17 {
			id[n] = x
			n++
			i += w
			continue
		}
		d, w := wideDigit(s, i)
		if w == 0 {
			if w = wideSpace(s, i); w == 0 {
				return false, false
			}
		} else {
			id[n] = d
			n++
		}
		i += w
	}
	switch n {
	case 15: // an X is read only as the 18th character
		// 6 digits region, yymmdd, 3 digits sequence: born in the 1900s.
		copy(id[8:17], id[6:15])
		id[6], id[7] = '1', '9'
		id[17] = idCheck(id[:17])
	case 18:
	default:
		return false, false
	}
	if !plausibleBirth(id[6:14]) {
		return false, false
	}
	return true, idCheck(id[:17]) == id[17]
}

// plausibleBirth checks the yyyymmdd of an ID: a bad date means a typo that
// the check digit happened to miss, or not an ID at all.
func plausibleBirth(d []byte) bool {
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	year := int(d[0]-'0')*1000 + int(d[1]-'0')*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	month := int(d[4]-'0')*10 + int(d[5]-'0')
	day := int(d[6]-'0')*10 + int(d[7]-'0')
	return year >= 1880 && year <= 2100 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year)
}

// MaskName masks a name for display, keeping the first character and, from
// three characters on, the last: 王建国 → 王*国, 周丽 → 周*, 欧阳小明 → 欧**明.
func MaskName(s string) string {
	if trimSpace(s) == "" {
		return ""
	}
	return string(appendMaskName(nil, s))
}

func appendMaskName[T bytesOrString](dst []byte, s T) []byte {
	s = trimSpace(s)
	runes, firstEnd, lastStart := 0, len(s), 0
	for i := 0; i < len(s); i++ {
		if s[i]&0xC0 != 0x80 { // a rune starts here
			runes++
			if runes == 2 {
				firstEnd = i
			}
			lastStart = i
		}
	}
	switch runes {
	case 0:
		return dst
	case 1:
		return append(dst, '*')
	}
	dst = append(dst, s[:firstEnd]...)
	for range max(runes-2, 1) {
		dst = append(dst, '*')
	}
	if runes > 2 {
		dst = append(dst, s[lastStart:]...)
	}
	return dst
}

// anonymousNames are what upstream writes instead of a name.
var anonymousNames = map[string]bool{
	"匿名": true, "匿名用户": true, "无名氏": true, "不详": true, "未知": true,
	"保密": true, "不愿透露": true, "无": true,
}

// nameKind tells a real name from what upstream writes for an anonymous or
// masked one.
type nameKind uint8

const (
	nameNone      nameKind = iota // empty
	nameClear                     // a name in clear: mask it, seal it
	nameMasked                    // masked upstream (王**, ＊) or a pseudonym (钱某)
	nameAnonymous                 // 匿名 and its like: nothing to show
)

func classifyName(s []byte) nameKind {
	switch {
	case len(s) == 0:
		return nameNone
	case anonymousNames[string(s)]:
		return nameAnonymous
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || i+2 < len(s) && s[i] == 0xEF && s[i+1] == 0xBC && s[i+2] == 0x8A { // * or ＊
			return nameMasked
		}
	}
	// 钱某, 王某某: the conventional pseudonym of a person named in a document.
	if len(s) >= 6 && string(s[len(s)-3:]) == "某" {
		return nameMasked
	}
	return nameClear
}

// wideDigit reads a full-width digit ０–９ (EF BC 90–99) at s[i].
func wideDigit[T bytesOrString](s T, i int) (byte, int) {
	if i+2 < len(s) && s[i] == 0xEF && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99 {
		return '0' + s[i+2] - 0x90, 3
	}
	return 0, 0
}

// wideX reads the check character X of an ID in any case and width.
func wideX[T bytesOrString](s T, i int) (byte, int) {
	switch {
	case s[i] == 'X' || s[i] == 'x':
		return 'X', 1
	case i+2 < len(s) && s[i] == 0xEF && (s[i+1] == 0xBC && s[i+2] == 0xB8 || s[i+1] == 0xBD && s[i+2] == 0x98): // Ｘ ｘ
		return 'X', 3
	}
	return 0, 0
}

// wideSpace reads an ideographic space (U+3000).
func wideSpace[T bytesOrString](s T, i int) int {
	if i+2 < len(s) && s[i] == 0xE3 && s[i+1] == 0x80 && s[i+2] == 0x80 {
		return 3
	}
	return 0
}

// wideSep reads a non-ASCII separator seen in phone numbers: ideographic
// space, full-width hyphen and parentheses, and the dashes U+2010–2015.
func wideSep[T bytesOrString](s T, i int) int {
	if w := wideSpace(s, i); w > 0 {
		return w
	}
	if i+2 >= len(s) {
		return 0
	}
	switch {
	case s[i] == 0xEF && s[i+1] == 0xBC && (s[i+2] == 0x8D || s[i+2] == 0x88 || s[i+2] == 0x89): // － （ ）
		return 3
	case s[i] == 0xE2 && s[i+1] == 0x80 && s[i+2] >= 0x90 && s[i+2] <= 0x95: // ‐ ‑ ‒ – — ―
		return 3
	}
	return 0
}

// trimSpace trims ASCII white space and ideographic spaces.
func trimSpace[T bytesOrString](s T) T {
	for len(s) > 0 {
		if c := s[0]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			s = s[1:]
		} else if wideSpace(s, 0) > 0 {
			s = s[3:]
		} else {
			break
		}
	}
	for len(s) > 0 {
		if c := s[len(s)-1]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			s = s[:len(s)-1]
		} else if len(s) >= 3 && wideSpace(s, len(s)-3) > 0 {
			s = s[:len(s)-3]
		} else {
			break
		}
	}
	return s
}
