// Package intent finds words of extreme intent (极端言行) in the free text of
// hotline work orders, petitions and grid reports: threats of self-harm and
// violence, blocking roads and gates, banners, going to Beijing or the
// province to petition, and gatherings.
//
// A lexicon of phrases per class is compiled into one Aho–Corasick automaton;
// Find scans the text once and then applies the context rules to the few
// phrases found: exclusions (跳楼价 is a price, 北京路 a street, 堵车 traffic),
// negations (不会跳楼, 没有要自杀) and, for contextual terms, a cue that must
// follow (去北京 fires only with 上访, 反映, 讨说法 ... after it). A quoted or
// conditional threat still fires (说要跳楼, 再不解决就去北京上访), and so does
// a dissuasion (劝其不要跳楼), since it tells of a threat.
//
// The package is pure: no I/O, no clock, no logging (the text may hold
// personal data). A Lexicon is immutable and safe for concurrent use.
package intent

import (
	"cmp"
	"slices"
	"sync"
	"unicode/utf8"
)

// Class is the kind of intent a match shows. The values appear in alerts:
// never rename them.
type Class string

// The classes of intent.
const (
	SelfHarm  Class = "self_harm" // 跳楼 自杀 喝农药 割腕 上吊 不想活了 …
	Violence  Class = "violence"  // 同归于尽 杀了他 砍死 放火 报复社会 …
	Blockade  Class = "blockade"  // 堵路 堵门 堵政府大门 围堵 拦车 封路 …
	Banner    Class = "banner"    // 拉横幅 打横幅 举牌 …
	GoingUp   Class = "going_up"  // 去北京上访 进京 到省里上访 越级 …
	Gathering Class = "gathering" // 聚集 集体上访 组织人 静坐 …
)

// Classes lists every class, most severe first.
var Classes = []Class{SelfHarm, Violence, Blockade, GoingUp, Banner, Gathering}

// Severity is 3 for an immediate danger to life (self-harm, violence), 2 for
// a blockade or going up, 1 for a banner or gathering, and 0 for an unknown
// class.
func (c Class) Severity() int {
	switch c {
	case SelfHarm, Violence:
		return 3
	case Blockade, GoingUp:
		return 2
	case Banner, Gathering:
		return 1
	}
	return 0
}

// Match is one phrase of intent found in a text.
type Match struct {
	Class      Class
	Term       string // the lexicon term that matched, as written in the lexicon
	Start, End int    // byte offsets into the text: text[Start:End] is the matched phrase
	Severity   int    // Class.Severity: 3 danger to life, 2 blockade or going up, 1 banner or gathering
}

// Lexicon is a compiled Config. It is immutable and safe for concurrent use.
type Lexicon struct {
	ac       *automaton
	items    []item
	refStart []int32 // refs of pattern p: refs[refStart[p]:refStart[p+1]]
	refs     []ref

	slots int32 // slots a scratch needs: one per part but the last of each "*" phrase

	negations, fillers [][]rune
	maxGap             int32
	maxFiller          int32
	cueWindow          int32

	pool sync.Pool // of *scratch sized for this lexicon
}

// New validates cfg and compiles it. The error lists every problem (unknown
// class, empty or malformed phrase, number out of range, contextual terms
// without cues, no terms at all) and wraps risk.ErrInvalid.
func New(cfg Config) (*Lexicon, error) { return compile(cfg) }

// span is one occurrence of a whole item, in runes of the folded text, with
// the runes of each part.
type span struct {
	item       int32
	start, end int32
	parts      [maxParts][2]int32
}

// slot holds, for one part of a "*" phrase, the latest chain of occurrences
// of that part and the ones before it; gen tells whether it is from this call.
type slot struct {
	gen   uint32
	parts [maxParts][2]int32
}

// scratch is the per-call memory of Find, pooled so that a scan allocates
// only its result.
type scratch struct {
	buf   []rune // folded text; sep at clause boundaries
	off   []int  // byte offset in the text of buf[i]
	terms []span
	excl  []span
	cues  []span
	slots []slot // by item.slot + part; valid when slot.gen == gen
	gen   uint32
}

// Find returns every match in text, ordered by Start then End. Overlapping
// matches of one class are reduced to the longest (an exact phrase before a
// "*" one of the same length); matches of different classes may overlap, as
// each is a signal of its own (集体到省里上访 is a gathering and going up).
func (l *Lexicon) Find(text string) []Match {
	sc := l.pool.Get().(*scratch)
	defer func() {
		if cap(sc.buf) <= 1<<16 { // don't keep the memory of a huge text
			l.pool.Put(sc)
		}
	}()
	l.scan(text, sc)
	if len(sc.terms) == 0 {
		return nil
	}
	return l.resolve(text, sc)
}

// scan folds text into sc.buf and records every whole occurrence of a term,
// exclusion or cue. The parts of a "*" phrase are joined as they occur: a
// part extends the latest chain of the part before it if that ended at most
// maxGap runes earlier, in the same clause.
func (l *Lexicon) scan(text string, sc *scratch) {
	sc.buf, sc.off = sc.buf[:0], sc.off[:0]
	sc.terms, sc.excl, sc.cues = sc.terms[:0], sc.excl[:0], sc.cues[:0]
	if sc.gen++; sc.gen == 0 { // wrapped: forget every slot
		clear(sc.slots)
		sc.gen = 1
	}
	a := l.ac
	lastSep := int32(-1)
	s := int32(0)
	for i := 0; i < len(text); {
		at := i
		r, size := rune(text[i]), 1
		switch {
		case r < utf8.RuneSelf:
		case r&0xf0 == 0xe0 && i+2 < len(text) && text[i+1]&0xc0 == 0x80 && text[i+2]&0xc0 == 0x80:
			// Three bytes, all of CJK: decoded inline, as DecodeRuneInString would.
			r = (r&0x0f)<<12 | rune(text[i+1]&0x3f)<<6 | rune(text[i+2]&0x3f)
			size = 3
			if r < 0x800 || 0xd800 <= r && r <= 0xdfff {
				r, size = utf8.RuneError, 1
			}
		default:
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		if r < 0x4e00 || r > 0x9fff {
			var k foldKind
			if r, k = fold(r); k == skip {
				continue
			} else if k == boundary {
				s = 0
				if n := len(sc.buf); n > 0 && sc.buf[n-1] == sep {
					continue
				}
				lastSep = int32(len(sc.buf))
				sc.buf = append(sc.buf, sep)
				sc.off = append(sc.off, at)
				continue
			}
		}
		pos := int32(len(sc.buf))
		sc.buf = append(sc.buf, r)
		sc.off = append(sc.off, at)
		c := a.class(r)
		if c == 0 {
			s = 0
			continue
		}
		s = a.step(s, c)
		for t := s; t != 0; t = a.states[t].dict {
			if p := a.states[t].out; p >= 0 {
				l.occur(sc, p, pos+1-a.patLen[p], pos+1, lastSep)
			}
		}
	}
}

// occur records pattern p at runes [start, end).
func (l *Lexicon) occur(sc *scratch, p, start, end, lastSep int32) {
	refs := l.refs[l.refStart[p]:l.refStart[p+1]]
	for j := len(refs) - 1; j >= 0; j-- { // later parts first: they need the chain before this occurrence
		rf := refs[j]
		it := &l.items[rf.item]
		if it.parts == 1 {
			sc.add(it.kind, span{item: rf.item, start: start, end: end, parts: [maxParts][2]int32{{start, end}}})
			continue
		}
		var parts [maxParts][2]int32
		if rf.part > 0 {
			prev := &sc.slots[it.slot+rf.part-1]
			if prev.gen != sc.gen {
				continue
			}
			pe := prev.parts[rf.part-1][1]
			if pe > start || start-pe > l.maxGap || lastSep >= pe {
				continue
			}
			parts = prev.parts
		}
		parts[rf.part] = [2]int32{start, end}
		if rf.part < it.parts-1 {
			sc.slots[it.slot+rf.part] = slot{gen: sc.gen, parts: parts}
			continue
		}
		sc.add(it.kind, span{item: rf.item, start: parts[0][0], end: end, parts: parts})
	}
}

func (sc *scratch) add(k kind, sp span) {
	switch k {
	case kindTerm, kindContextual:
		sc.terms = append(sc.terms, sp)
	case kindExclusion:
		sc.excl = append(sc.excl, sp)
	case kindCue:
		sc.cues = append(sc.cues, sp)
	}
}

// resolve applies the context rules to the terms found and converts the
// survivors to matches.
func (l *Lexicon) resolve(text string, sc *scratch) []Match {
	kept := sc.terms[:0]
	for _, t := range sc.terms {
		it := l.items[t.item]
		if l.excluded(t, it.class, sc.excl) || l.negated(sc.buf, t.start, 0) {
			continue
		}
		if it.kind == kindContextual && !l.cued(t, it.class, sc) {
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return nil
	}

	// Longest first; among equals the exact phrase, then the earliest, then
	// lexicon order; then drop what overlaps a kept match of its class.
	slices.SortFunc(kept, func(a, b span) int {
		return cmp.Or(cmp.Compare(b.end-b.start, a.end-a.start),
			cmp.Compare(l.items[a.item].parts, l.items[b.item].parts),
			cmp.Compare(a.start, b.start), cmp.Compare(a.item, b.item))
	})
	out := make([]Match, 0, len(kept))
	for _, t := range kept {
		last := sc.off[t.end-1]
		_, size := utf8.DecodeRuneInString(text[last:])
		m := Match{Class: l.items[t.item].class, Term: l.items[t.item].term, Start: sc.off[t.start], End: last + size}
		if slices.ContainsFunc(out, func(w Match) bool { return w.Class == m.Class && w.Start < m.End && m.Start < w.End }) {
			continue
		}
		m.Severity = m.Class.Severity()
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.Class, b.Class))
	})
	return out
}

// excluded reports whether an exclusion of the class overlaps t without lying
// inside one of t's parts.
func (l *Lexicon) excluded(t span, cl Class, excl []span) bool {
	for _, e := range excl {
		if l.items[e.item].class != cl || e.start >= t.end || t.start >= e.end {
			continue
		}
		inside := false
		for _, p := range t.parts[:l.items[t.item].parts] {
			if p[0] <= e.start && e.end <= p[1] {
				inside = true
				break
			}
		}
		if !inside {
			return true
		}
	}
	return false
}

// cued reports whether a cue of the class starts within cueWindow runes after
// t, in the same clause.
func (l *Lexicon) cued(t span, cl Class, sc *scratch) bool {
	for _, q := range sc.cues {
		if l.items[q.item].class == cl && q.start >= t.end && q.start-t.end <= l.cueWindow &&
			!slices.Contains(sc.buf[t.end:q.start], sep) {
			return true
		}
	}
	return false
}

// negated reports whether a negation ends at rune at, or before a run of
// fillers of at most maxFiller runes that ends there; used counts the filler
// runes already crossed. A one-rune negation must touch the term.
func (l *Lexicon) negated(buf []rune, at, used int32) bool {
	before := buf[:at]
	for _, n := range l.negations {
		if len(n) == 1 && used > 0 {
			continue
		}
		if hasSuffix(before, n) {
			return true
		}
	}
	for _, f := range l.fillers {
		if n := int32(len(f)); used+n <= l.maxFiller && hasSuffix(before, f) && l.negated(buf, at-n, used+n) {
			return true
		}
	}
	return false
}

func hasSuffix(s, suffix []rune) bool {
	return len(s) >= len(suffix) && slices.Equal(s[len(s)-len(suffix):], suffix)
}
