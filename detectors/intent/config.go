package intent

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	risk "riskwatch"
)

// Config is the lexicon and its context rules; DefaultConfig documents the
// defaults. It is meant to be read from the detectors' YAML file:
//
//	intent:
//	  max_gap: 4
//	  classes:
//	    self_harm:
//	      terms: [喝84消毒液]
//	      exclusions: [跳楼秀]
//	    going_up:
//	      contextual: [去杭州]
//
// Operators usually add to the defaults: DefaultConfig().Merge(fromYAML).
//
// A phrase (term, exclusion or cue) is Chinese text as it appears in the
// text. Matching folds full-width ASCII to half-width and letters to lower
// case, and ignores spaces, quotes and decoration marks (· * - _ ~) inside
// the text. A "*" inside a phrase stands for at most MaxGap characters of the
// same clause: 堵*政府 matches 堵镇政府, 堵在县人民政府 but not 堵车，去政府.
// A phrase has at most four parts and no punctuation inside a part.
type Config struct {
	// Classes holds the phrases of each class, by class name: self_harm,
	// violence, blockade, banner, going_up, gathering.
	Classes map[Class]ClassConfig `yaml:"classes"`
	// Negations deny intent when they end right before a term, or before a
	// run of NegationFillers: 不会跳楼, 没有要自杀, 不会去北京上访, 未发现人员聚集.
	// A negation of one character (不 没 无 未) must touch the term: 没跳楼
	// is denied, 没拿到钱就跳楼 is not.
	Negations []string `yaml:"negations"`
	// NegationFillers are the words allowed between a negation and its
	// term: 要 想 去 说 打算 ... Anything else (就, 只能, a noun, punctuation)
	// ends the negation's reach, so 再不解决就去北京上访 still fires.
	NegationFillers []string `yaml:"negation_fillers"`
	// MaxFiller is the most characters of fillers between a negation and
	// its term. Zero means 4.
	MaxFiller int `yaml:"max_filler"`
	// MaxGap is the most characters a "*" in a phrase stands for. Zero means 4.
	MaxGap int `yaml:"max_gap"`
	// CueWindow is the most characters between the end of a contextual term
	// and the start of its cue, in the same clause. Zero means 8.
	CueWindow int `yaml:"cue_window"`
}

// ClassConfig holds the phrases of one class.
type ClassConfig struct {
	// Terms fire on their own: 跳楼, 同归于尽, 堵*政府.
	Terms []string `yaml:"terms"`
	// Contextual terms fire only when one of Cues follows within CueWindow
	// characters in the same clause: 去北京 fires in 去北京上访 and
	// 去北京找国家信访局反映, not in 去北京出差. Cues are looked for only
	// after the term because the text before it is often the hotline's own
	// preamble (来电人反映…); phrases whose cue comes first are plain terms
	// (上访到北京).
	Contextual []string `yaml:"contextual"`
	// Cues are the phrases that let this class's contextual terms fire.
	Cues []string `yaml:"cues"`
	// Exclusions are harmless phrases (跳楼价, 北京路, 炸鸡, 堵车). A match
	// that one of them overlaps does not fire, unless the exclusion lies
	// inside one part of the term, as the term's author wrote it that way.
	Exclusions []string `yaml:"exclusions"`
}

// Merge returns c with the phrases of extra appended, class by class, and
// the non-zero numbers of extra taking precedence. Neither c nor extra is
// modified.
func (c Config) Merge(extra Config) Config {
	m := Config{
		Classes:         make(map[Class]ClassConfig, len(c.Classes)+len(extra.Classes)),
		Negations:       slices.Concat(c.Negations, extra.Negations),
		NegationFillers: slices.Concat(c.NegationFillers, extra.NegationFillers),
		MaxFiller:       cmpOr(extra.MaxFiller, c.MaxFiller),
		MaxGap:          cmpOr(extra.MaxGap, c.MaxGap),
		CueWindow:       cmpOr(extra.CueWindow, c.CueWindow),
	}
	for _, src := range []map[Class]ClassConfig{c.Classes, extra.Classes} {
		for cl, cc := range src {
			have := m.Classes[cl]
			m.Classes[cl] = ClassConfig{
				Terms:      slices.Concat(have.Terms, cc.Terms),
				Contextual: slices.Concat(have.Contextual, cc.Contextual),
				Cues:       slices.Concat(have.Cues, cc.Cues),
				Exclusions: slices.Concat(have.Exclusions, cc.Exclusions),
			}
		}
	}
	return m
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

const (
	maxParts    = 4  // parts of one phrase, split by "*"
	maxDistance = 64 // bound of MaxGap, MaxFiller, CueWindow: context is local
)

type kind uint8

const (
	kindTerm kind = iota
	kindContextual
	kindCue
	kindExclusion
)

// item is one phrase of the lexicon; its parts are patterns of the automaton.
type item struct {
	kind  kind
	class Class
	term  string // as written in the configuration
	parts int32
	slot  int32 // first of the parts-1 chain slots of a "*" phrase
}

// ref says which part of which item a pattern is.
type ref struct{ item, part int32 }

// compile validates cfg and builds the lexicon. Every problem is reported,
// joined, each wrapping risk.ErrInvalid.
func compile(cfg Config) (*Lexicon, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("intent config: "+format+": %w", append(args, risk.ErrInvalid)...))
	}
	number := func(name string, v, def int) int32 {
		switch {
		case v == 0:
			return int32(def)
		case v < 0 || v > maxDistance:
			bad("%s = %d, want 0..%d", name, v, maxDistance)
		}
		return int32(v)
	}
	l := &Lexicon{
		maxGap:    number("max_gap", cfg.MaxGap, 4),
		maxFiller: number("max_filler", cfg.MaxFiller, 4),
		cueWindow: number("cue_window", cfg.CueWindow, 8),
	}
	for cl := range cfg.Classes {
		if cl.Severity() == 0 {
			bad("unknown class %q, want one of %v", cl, Classes)
		}
	}

	var patterns [][]rune
	patternID := map[string]int32{}
	var refs [][]ref
	seen := map[item]bool{}
	nterms := 0
	add := func(cl Class, k kind, list string, i int, s string) {
		parts, err := parsePhrase(s)
		if err != nil {
			bad("class %s: %s[%d] %q: %v", cl, list, i, s, err)
			return
		}
		it := item{kind: k, class: cl, term: s, parts: int32(len(parts))}
		if seen[it] {
			return // Merge of overlapping lists
		}
		seen[it] = true
		if len(parts) > 1 {
			it.slot = l.slots
			l.slots += int32(len(parts) - 1)
		}
		id := int32(len(l.items))
		l.items = append(l.items, it)
		for p, rs := range parts {
			pid, ok := patternID[string(rs)]
			if !ok {
				pid = int32(len(patterns))
				patternID[string(rs)] = pid
				patterns = append(patterns, rs)
				refs = append(refs, nil)
			}
			refs[pid] = append(refs[pid], ref{id, int32(p)})
		}
		if k == kindTerm || k == kindContextual {
			nterms++
		}
	}
	for _, cl := range Classes {
		cc := cfg.Classes[cl]
		for i, s := range cc.Terms {
			add(cl, kindTerm, "terms", i, s)
		}
		for i, s := range cc.Contextual {
			add(cl, kindContextual, "contextual", i, s)
		}
		for i, s := range cc.Cues {
			add(cl, kindCue, "cues", i, s)
		}
		for i, s := range cc.Exclusions {
			add(cl, kindExclusion, "exclusions", i, s)
		}
		if len(cc.Contextual) > 0 && len(cc.Cues) == 0 {
			bad("class %s: contextual terms without cues would never fire", cl)
		}
	}
	if nterms == 0 && len(errs) == 0 {
		bad("no terms in any class")
	}
	alphabet := map[rune]bool{}
	for _, p := range patterns {
		for _, r := range p {
			alphabet[r] = true
		}
	}
	if len(alphabet) >= 1<<16 { // classes are uint16, 0 meaning "in no pattern"
		bad("%d distinct characters in the lexicon, want fewer than %d", len(alphabet), 1<<16)
	}
	l.negations = foldWords(cfg.Negations, "negations", bad)
	l.fillers = foldWords(cfg.NegationFillers, "negation_fillers", bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	l.ac = buildAutomaton(patterns)
	l.refStart = make([]int32, len(refs)+1)
	for i, rs := range refs {
		l.refStart[i] = int32(len(l.refs))
		l.refs = append(l.refs, rs...)
	}
	l.refStart[len(refs)] = int32(len(l.refs))
	l.pool.New = func() any { return &scratch{slots: make([]slot, l.slots)} }
	return l, nil
}

// parsePhrase splits a phrase at "*" and folds each part.
func parsePhrase(s string) ([][]rune, error) {
	raw := strings.Split(strings.ReplaceAll(s, "＊", "*"), "*")
	if len(raw) > maxParts {
		return nil, fmt.Errorf("%d parts, want at most %d", len(raw), maxParts)
	}
	parts := make([][]rune, len(raw))
	for i, p := range raw {
		rs, ok := foldPhrase(p)
		switch {
		case !ok:
			return nil, errors.New("punctuation inside a part")
		case len(rs) == 0 && len(raw) == 1:
			return nil, errors.New("empty")
		case len(rs) == 0:
			return nil, fmt.Errorf("part %d empty", i+1)
		}
		parts[i] = rs
	}
	return parts, nil
}

// foldWords folds the negations or their fillers: plain words, no "*".
func foldWords(ws []string, list string, bad func(string, ...any)) [][]rune {
	out := make([][]rune, 0, len(ws))
	for i, w := range ws {
		rs, ok := foldPhrase(w)
		switch {
		case !ok || strings.ContainsAny(w, "*＊"):
			bad("%s[%d] %q: punctuation or \"*\" inside", list, i, w)
		case len(rs) == 0:
			bad("%s[%d] %q: empty", list, i, w)
		default:
			out = append(out, rs)
		}
	}
	return out
}
