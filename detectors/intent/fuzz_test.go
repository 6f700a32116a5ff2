package intent

import (
	"testing"
	"unicode/utf8"
)

// FuzzFind: no panic; every match has a known class, its severity, a
// non-empty term, and offsets in order, inside the text, on rune boundaries
// (as range decodes the text, invalid bytes included), framing valid UTF-8.
func FuzzFind(f *testing.F) {
	for _, tt := range positives {
		f.Add(tt.text)
	}
	for _, tt := range traps {
		f.Add(tt.text)
	}
	f.Add("")
	f.Add("跳\xff楼 堵\x00政府 ＊ *")
	f.Add("不不不会会没有要要要跳楼")
	l := newDefault(f)
	f.Fuzz(func(t *testing.T, text string) {
		boundary := map[int]bool{len(text): true} // where decoding steps land, invalid bytes included
		for i := range text {
			boundary[i] = true
		}
		prev := -1
		for _, m := range l.Find(text) {
			if m.Class.Severity() == 0 || m.Severity != m.Class.Severity() {
				t.Errorf("match %+v: class %q, severity %d", m, m.Class, m.Severity)
			}
			if m.Term == "" {
				t.Errorf("match %+v: empty term", m)
			}
			if m.Start < 0 || m.Start >= m.End || m.End > len(text) {
				t.Fatalf("match %+v: offsets out of text of %d bytes", m, len(text))
			}
			if m.Start < prev {
				t.Errorf("match %+v: starts before the previous match at %d", m, prev)
			}
			prev = m.Start
			if !boundary[m.Start] || !boundary[m.End] {
				t.Errorf("match %+v: offsets not on rune boundaries", m)
			}
			if !utf8.ValidString(text[m.Start:m.End]) {
				t.Errorf("match %+v: text[%d:%d] = %q, not valid UTF-8", m, m.Start, m.End, text[m.Start:m.End])
			}
		}
	})
}
