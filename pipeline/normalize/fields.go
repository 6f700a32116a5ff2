package normalize

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Reading JSON fields as upstream really sends them. Essential fields return
// an error; the others return their zero (or -1 for counts) and warn when
// present but unusable. JSON null is taken as absent.

func absent(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// idField reads the record id: a non-empty string after trimming. The bytes may
// live in the parser's buffer.
func (r *rec) idField(field string, v *fastjson.Value) ([]byte, error) {
	if absent(v) {
		return nil, r.invalid("%s missing", field)
	}
	var b []byte
	switch v.Type() {
	case fastjson.TypeString:
		b = trimSpace(v.GetStringBytes())
	case fastjson.TypeNumber: // an id that lost its quotes loses nothing else
		b = v.MarshalTo(nil)
		r.warnf("%s is a JSON number; read as a string", field)
	default:
		return nil, r.invalid("%s is a JSON %s, want a string", field, v.Type())
	}
	switch {
	case len(b) == 0:
		return nil, r.invalid("%s is empty", field)
	case len(b) > 256:
		return nil, r.invalid("%s has %d bytes, want at most 256", field, len(b))
	}
	return b, nil
}

// when reads a time sent as a string or an epoch number.
func when(v *fastjson.Value) (time.Time, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return parseTime(v.GetStringBytes())
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		return ParseTimeNumber(f)
	}
	return time.Time{}, false
}

// mustTime reads an essential time.
func (r *rec) mustTime(field string, v *fastjson.Value) (time.Time, error) {
	if absent(v) {
		return time.Time{}, r.invalid("%s missing", field)
	}
	t, ok := when(v)
	if !ok {
		return time.Time{}, r.invalid("%s %s: unparseable time", field, quoteValue(v))
	}
	return t, nil
}

// optTime reads an optional time; zero when absent, empty or unparseable.
func (r *rec) optTime(field string, v *fastjson.Value) time.Time {
	if absent(v) || v.Type() == fastjson.TypeString && len(trimSpace(v.GetStringBytes())) == 0 {
		return time.Time{}
	}
	t, ok := when(v)
	if !ok {
		r.warnf("%s %s: not a time; dropped", field, quoteValue(v))
	}
	return t
}

// text reads a free-text field; nil when absent or not a string. The bytes
// live in the parser's buffer.
func (r *rec) text(field string, v *fastjson.Value) []byte {
	if absent(v) {
		return nil
	}
	if v.Type() != fastjson.TypeString {
		r.warnf("%s is a JSON %s, want a string; dropped", field, v.Type())
		return nil
	}
	return v.GetStringBytes()
}

// code reads a code or word field, trimmed: a string, or a whole number
// written without quotes (a region code, a status code).
func (r *rec) code(field string, v *fastjson.Value) []byte {
	if absent(v) {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return trimSpace(v.GetStringBytes())
	case fastjson.TypeNumber:
		if f, err := v.Float64(); err == nil && f >= 0 && f < 1e15 && f == math.Trunc(f) {
			return strconv.AppendInt(nil, int64(f), 10)
		}
	}
	r.warnf("%s is a JSON %s, want a string; dropped", field, v.Type())
	return nil
}

// version reads the upstream version; 0 when absent or unusable.
func (r *rec) version(v *fastjson.Value) uint32 {
	if absent(v) {
		return 0
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if f, err := v.Float64(); err == nil && f >= 0 && f <= math.MaxUint32 && f == math.Trunc(f) {
			return uint32(f)
		}
	case fastjson.TypeString:
		if n, ok := digits(trimSpace(v.GetStringBytes())); ok && n <= math.MaxUint32 {
			return uint32(n)
		}
	}
	r.warnf("version %s: not a whole number; 0", quoteValue(v))
	return 0
}

// integer reads a small whole number in [lo, hi], as a JSON number or a
// numeric string; ok is false (with a warning) otherwise.
func (r *rec) integer(field string, v *fastjson.Value, lo, hi int64) (int64, bool) {
	if absent(v) {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if f, err := v.Float64(); err == nil && f >= float64(lo) && f <= float64(hi) && f == math.Trunc(f) {
			return int64(f), true
		}
	case fastjson.TypeString:
		s := trimSpace(v.GetStringBytes())
		if len(s) == 0 {
			return 0, false
		}
		if n, ok := digits(s); ok && n >= lo && n <= hi {
			return n, true
		}
	}
	r.warnf("%s %s: want a whole number from %d to %d; dropped", field, quoteValue(v), lo, hi)
	return 0, false
}

// count reads a number of people: a JSON whole number, a numeric string, or
// with a warning a string like 8人, 约12名, 五; -1 when unknown.
func (r *rec) count(field string, v *fastjson.Value) int32 {
	if absent(v) {
		return -1
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		switch {
		case err != nil || math.IsNaN(f) || f != math.Trunc(f):
			r.warnf("%s %s: not a whole number; unknown", field, quoteValue(v))
		case f < 0:
			r.warnf("%s %s: negative; unknown", field, quoteValue(v))
		case f > math.MaxInt32:
			r.warnf("%s %s: too large; unknown", field, quoteValue(v))
		default:
			return int32(f)
		}
		return -1
	case fastjson.TypeString:
		s := trimSpace(v.GetStringBytes())
		if len(s) == 0 {
			return -1
		}
		if n, ok := digits(s); ok {
			if n > math.MaxInt32 {
				r.warnf("%s %s: too large; unknown", field, quote(s))
				return -1
			}
			return int32(n)
		}
		if s[0] == '-' {
			r.warnf("%s %s: negative; unknown", field, quote(s))
			return -1
		}
		f, ok := parseQuantity(s, false)
		if !ok || f > math.MaxInt32 {
			r.warnf("%s %s: not a count; unknown", field, quote(s))
			return -1
		}
		r.warnf("%s %s: read as %d", field, quote(s), int32(f))
		return int32(f)
	}
	r.warnf("%s is a JSON %s, want a number; unknown", field, v.Type())
	return -1
}

// amount reads money in yuan: a JSON number, a numeric string, or with a
// warning a string like 约16万元; -1 when unknown.
func (r *rec) amount(field string, v *fastjson.Value) float64 {
	if absent(v) {
		return -1
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		switch {
		case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
			r.warnf("%s %s: not a number; unknown", field, quoteValue(v))
		case f < 0:
			r.warnf("%s %s: negative; unknown", field, quoteValue(v))
		default:
			return f
		}
		return -1
	case fastjson.TypeString:
		s := trimSpace(v.GetStringBytes())
		if len(s) == 0 {
			return -1
		}
		if s[0] == '-' {
			r.warnf("%s %s: negative; unknown", field, quote(s))
			return -1
		}
		if isDecimal(s) {
			if f, err := strconv.ParseFloat(string(s), 64); err == nil && !math.IsInf(f, 0) {
				return f
			}
		}
		f, ok := parseQuantity(s, true)
		if !ok {
			r.warnf("%s %s: not an amount; unknown", field, quote(s))
			return -1
		}
		r.warnf("%s %s: read as %g", field, quote(s), f)
		return f
	}
	r.warnf("%s is a JSON %s, want a number; unknown", field, v.Type())
	return -1
}

// flag reads a boolean; true, false, or with a warning 1/0, "true"/"false",
// 是/否.
func (r *rec) flag(field string, v *fastjson.Value) bool {
	if absent(v) {
		return false
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeNumber:
		if f, err := v.Float64(); err == nil && (f == 0 || f == 1) {
			r.warnf("%s is a number; read as %t", field, f == 1)
			return f == 1
		}
	case fastjson.TypeString:
		switch string(trimSpace(v.GetStringBytes())) {
		case "true", "1", "是", "Y", "y":
			r.warnf("%s is a string; read as true", field)
			return true
		case "false", "0", "否", "N", "n", "":
			r.warnf("%s is a string; read as false", field)
			return false
		}
	}
	r.warnf("%s %s: not a boolean; false", field, quoteValue(v))
	return false
}

func isDecimal(s []byte) bool {
	dot := false
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return len(s) > 0
}

// Words around a quantity written by hand: 约8人, 十余名, 近百万元 (not 百).
var (
	quantityPrefixes = [][]byte{[]byte("大约"), []byte("约"), []byte("将近"), []byte("近"), []byte("共计"), []byte("共"), []byte("计"), []byte("超过"), []byte("逾")}
	quantityUnits    = map[rune]bool{'人': true, '名': true, '位': true, '个': true, '户': true, '家': true, '余': true, '多': true, '左': true, '右': true, '元': true}
	chineseDigits    = map[rune]int{'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
)

// parseQuantity reads a hand-written quantity: a number in ASCII or
// full-width digits (a decimal fraction and 万 or 亿 only when money is
// true) or a simple Chinese numeral (一…十, 十一…九十九), between the words
// of quantityPrefixes and quantityUnits.
func parseQuantity(s []byte, money bool) (float64, bool) {
	for _, p := range quantityPrefixes {
		if len(s) > len(p) && string(s[:len(p)]) == string(p) {
			s = s[len(p):]
			break
		}
	}
	var f float64
	n, rest, ok := readNumber(s, money)
	if ok {
		f = n
	} else if k, rest2, ok2 := chineseNumeral(s); ok2 {
		f, rest = float64(k), rest2
	} else {
		return 0, false
	}
	if money && len(rest) > 0 {
		switch r, w := utf8.DecodeRune(rest); r {
		case '万':
			f, rest = f*1e4, rest[w:]
		case '亿':
			f, rest = f*1e8, rest[w:]
		}
	}
	for len(rest) > 0 {
		r, w := utf8.DecodeRune(rest)
		if !quantityUnits[r] || r == '元' && !money {
			return 0, false
		}
		rest = rest[w:]
	}
	return f, true
}

// readNumber reads digits (ASCII or full-width) and, when frac, a decimal
// fraction, from the start of s.
func readNumber(s []byte, frac bool) (float64, []byte, bool) {
	var n, scale float64 = 0, 0
	k := 0
	i := 0
	for i < len(s) {
		d, w := digitAt(s, i)
		if w == 0 {
			if frac && scale == 0 && s[i] == '.' && k > 0 {
				scale = 1
				i++
				continue
			}
			break
		}
		n = n*10 + float64(d-'0')
		if scale > 0 {
			scale *= 10
		}
		k++
		i += w
		if k > 15 {
			return 0, nil, false
		}
	}
	if k == 0 {
		return 0, nil, false
	}
	if scale > 0 {
		n /= scale
	}
	return n, s[i:], true
}

// chineseNumeral reads 一…九, 十, 十一…十九, 二十…九十九 from the start of s.
func chineseNumeral(s []byte) (int, []byte, bool) {
	r, w := utf8.DecodeRune(s)
	n := 0
	if d, ok := chineseDigits[r]; ok {
		n = d
		s = s[w:]
		r, w = utf8.DecodeRune(s)
		if r != '十' {
			return n, s, n > 0
		}
		n *= 10
		if n == 0 {
			return 0, nil, false
		}
	} else if r == '十' {
		n = 10
	} else {
		return 0, nil, false
	}
	s = s[w:] // past 十
	r, w = utf8.DecodeRune(s)
	if d, ok := chineseDigits[r]; ok && d > 0 {
		return n + d, s[w:], true
	}
	return n, s, true
}
