package intent

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// Text and lexicon pass through the same fold: full-width ASCII becomes
// half-width and ASCII letters lower case; spaces, quotes and decoration marks
// are dropped, so that "跳 楼", "跳·楼" and "“跳楼”" read as 跳楼; every other
// punctuation mark, line break or invalid byte becomes sep, a clause boundary
// that no phrase, gap or cue window crosses.

const sep rune = 0 // clause boundary in the folded text; never in a pattern

type foldKind uint8

const (
	keep foldKind = iota
	skip
	boundary
)

// asciiKind classifies the ASCII range once; letters and digits keep.
var asciiKind = func() (t [utf8.RuneSelf]foldKind) {
	for r := range rune(utf8.RuneSelf) {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			t[r] = keep
		case r == ' ', r == '\t', r == '\v', r == '\f',
			r == '"', r == '\'', r == '`', r == '*', r == '-', r == '_', r == '~', r == '^':
			t[r] = skip // spaces and marks people put inside words
		default:
			t[r] = boundary // . , ! ? ; : ( ) / \n \r, controls, ...
		}
	}
	return t
}()

// fold maps one rune of text (or lexicon) to its folded form and kind.
func fold(r rune) (rune, foldKind) {
	if r >= 0x4e00 && r <= 0x9fff { // CJK Unified Ideographs: nearly all of the text
		return r, keep
	}
	if r >= 0xff01 && r <= 0xff5e { // full-width ASCII: １２３ ＡＢＣ ！
		r -= 0xff01 - 0x21
	}
	if r < utf8.RuneSelf {
		k := asciiKind[r]
		if k == keep && r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r, k
	}
	if r >= 0x3000 && r <= 0x303f { // CJK punctuation: 、。《》【】「」…
		switch r {
		case 0x3000, 0x300c, 0x300d, 0x300e, 0x300f: // ideographic space, corner quotes
			return r, skip
		case 0x3005, 0x3006, 0x3007: // 々 〆 〇
			return r, keep
		}
		return sep, boundary
	}
	switch r {
	case utf8.RuneError:
		return sep, boundary
	case 0x00a0, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, // spaces, zero-width
		0x00b7, 0x30fb, 0x2022, 0x2027, 0x2219, // middle dots, bullets
		0x2018, 0x2019, 0x201c, 0x201d, // quotes
		0x2013, 0x2014, 0x2015, 0xffe3: // dashes between characters, ￣
		return r, skip
	}
	switch {
	case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r):
		return r, keep
	case unicode.IsSpace(r), unicode.Is(unicode.So, r), unicode.Is(unicode.Sk, r):
		return r, skip // emoji and symbols dropped like spaces: "跳😭楼" is still 跳楼
	}
	return sep, boundary
}

// foldPhrase folds a lexicon phrase the way Find folds text. ok is false when
// the phrase has a boundary inside, since text is never matched across one.
func foldPhrase(s string) (rs []rune, ok bool) {
	for _, r := range s {
		f, k := fold(r)
		switch k {
		case keep:
			rs = append(rs, f)
		case boundary:
			return nil, false
		}
	}
	return rs, true
}

// automaton is an Aho–Corasick automaton over folded runes. Runes that occur
// in no pattern map to class 0, which sends the scan back to the root; the
// root's transitions are a dense table, other states keep sorted edge lists.
type automaton struct {
	cjk    []uint16          // class of a CJK ideograph r: cjk[r-0x4e00], one load for most runes
	pages  [256]*[256]uint16 // class of another BMP rune: pages[r>>8][r&0xff]
	astral map[rune]uint16   // class of a rune above the BMP

	root      []int32   // root transition by class (0: stay at the root)
	states    []acState // one per state, and a last one closing the edges
	edgeClass []uint16
	edgeTo    []int32

	patLen []int32 // length in runes of each pattern
}

// acState keeps together what a step reads of one state.
type acState struct {
	edges int32 // edges of state s: states[s].edges : states[s+1].edges
	fail  int32
	out   int32 // pattern ending at the state, or -1
	dict  int32 // nearest state on the fail chain with an output, or 0
}

var zeroPage = new([256]uint16)

func (a *automaton) class(r rune) uint16 {
	if i := uint32(r) - 0x4e00; i < uint32(len(a.cjk)) {
		return a.cjk[i]
	}
	if r < 0x10000 {
		return a.pages[r>>8][r&0xff]
	}
	return a.astral[r]
}

// buildAutomaton compiles patterns (folded, non-empty, distinct); pattern i is
// reported as i.
func buildAutomaton(patterns [][]rune) *automaton {
	a := &automaton{astral: map[rune]uint16{}}
	for i := range a.pages {
		a.pages[i] = zeroPage
	}
	nclass := uint16(0)
	for _, p := range patterns {
		for _, r := range p {
			if a.class(r) != 0 {
				continue
			}
			nclass++
			if r >= 0x10000 {
				a.astral[r] = nclass
				continue
			}
			if a.pages[r>>8] == zeroPage {
				a.pages[r>>8] = new([256]uint16)
			}
			a.pages[r>>8][r&0xff] = nclass
		}
	}

	a.cjk = make([]uint16, 0x9fff-0x4e00+1)
	for r := rune(0x4e00); r <= 0x9fff; r++ {
		a.cjk[r-0x4e00] = a.pages[r>>8][r&0xff]
	}

	// Trie.
	children := []map[uint16]int32{{}}
	out := []int32{-1}
	a.patLen = make([]int32, len(patterns))
	for i, p := range patterns {
		s := int32(0)
		for _, r := range p {
			c := a.class(r)
			t, ok := children[s][c]
			if !ok {
				t = int32(len(children))
				children = append(children, map[uint16]int32{})
				out = append(out, -1)
				children[s][c] = t
			}
			s = t
		}
		out[s] = int32(i)
		a.patLen[i] = int32(len(p))
	}

	// Fail and dictionary links, breadth first.
	n := len(children)
	fail := make([]int32, n)
	dict := make([]int32, n)
	queue := make([]int32, 0, n)
	for _, t := range children[0] {
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c, t := range children[s] {
			f := fail[s]
			for {
				if u, ok := children[f][c]; ok && u != t {
					fail[t] = u
					break
				}
				if f == 0 {
					break
				}
				f = fail[f]
			}
			if u := fail[t]; out[u] >= 0 {
				dict[t] = u
			} else {
				dict[t] = dict[u]
			}
			queue = append(queue, t)
		}
	}

	// Flatten.
	a.root = make([]int32, int(nclass)+1)
	for c, t := range children[0] {
		a.root[c] = t
	}
	a.states = make([]acState, n+1)
	for s := range n {
		a.states[s] = acState{edges: int32(len(a.edgeTo)), fail: fail[s], out: out[s], dict: dict[s]}
		if s == 0 {
			continue // the root's edges are the dense table
		}
		cs := make([]uint16, 0, len(children[s]))
		for c := range children[s] {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		for _, c := range cs {
			a.edgeClass = append(a.edgeClass, c)
			a.edgeTo = append(a.edgeTo, children[s][c])
		}
	}
	a.states[n] = acState{edges: int32(len(a.edgeTo)), out: -1}
	return a
}

// step follows the goto/fail functions from state s on class c (c != 0).
func (a *automaton) step(s int32, c uint16) int32 {
	for s != 0 {
		for j, end := a.states[s].edges, a.states[s+1].edges; j < end; j++ {
			if ec := a.edgeClass[j]; ec == c {
				return a.edgeTo[j]
			} else if ec > c {
				break // sorted: not here
			}
		}
		s = a.states[s].fail
	}
	return a.root[c]
}
