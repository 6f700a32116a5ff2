package intent

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	risk "riskwatch"
)

func TestNewRejects(t *testing.T) {
	withClass := func(cl Class, cc ClassConfig) Config {
		return Config{Classes: map[Class]ClassConfig{cl: cc}}
	}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error text
	}{
		{"no terms", Config{}, "no terms in any class"},
		{"unknown class", withClass("riot", ClassConfig{Terms: []string{"暴动"}}), `unknown class "riot"`},
		{"empty term", withClass(SelfHarm, ClassConfig{Terms: []string{"跳楼", ""}}), `self_harm: terms[1] "": empty`},
		{"blank term", withClass(SelfHarm, ClassConfig{Terms: []string{"　 "}}), `terms[0] "\u3000 ": empty`},
		{"empty part", withClass(Blockade, ClassConfig{Terms: []string{"堵**政府"}}), `terms[0] "堵**政府": part 2 empty`},
		{"leading star", withClass(Blockade, ClassConfig{Terms: []string{"*政府"}}), "part 1 empty"},
		{"too many parts", withClass(Blockade, ClassConfig{Terms: []string{"a*b*c*d*e"}}), "5 parts, want at most 4"},
		{"punctuation", withClass(SelfHarm, ClassConfig{Terms: []string{"跳，楼"}}), "punctuation inside a part"},
		{"empty exclusion", withClass(SelfHarm, ClassConfig{Terms: []string{"跳楼"}, Exclusions: []string{""}}), `exclusions[0] "": empty`},
		{"empty cue", withClass(GoingUp, ClassConfig{Contextual: []string{"去北京"}, Cues: []string{" "}}), `cues[0] " ": empty`},
		{"contextual without cues", withClass(GoingUp, ClassConfig{Contextual: []string{"去北京"}}), "contextual terms without cues"},
		{"negative gap", Config{Classes: map[Class]ClassConfig{SelfHarm: {Terms: []string{"跳楼"}}}, MaxGap: -1}, "max_gap = -1"},
		{"huge window", Config{Classes: map[Class]ClassConfig{SelfHarm: {Terms: []string{"跳楼"}}}, CueWindow: 1000}, "cue_window = 1000"},
		{"empty negation", Config{Classes: map[Class]ClassConfig{SelfHarm: {Terms: []string{"跳楼"}}}, Negations: []string{""}}, `negations[0] "": empty`},
		{"starred filler", Config{Classes: map[Class]ClassConfig{SelfHarm: {Terms: []string{"跳楼"}}}, NegationFillers: []string{"要*去"}}, `negation_fillers[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New = %v, nil; want error containing %q", l, tt.want)
			}
			if !errors.Is(err, risk.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Classes["riot"] = ClassConfig{Terms: []string{"暴动"}}
	cfg.Classes[SelfHarm] = ClassConfig{Terms: []string{"", "跳楼"}}
	_, err := New(cfg)
	for _, want := range []string{`unknown class "riot"`, `terms[0] "": empty`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %q", err, want)
		}
	}
}

// Operators add terms, exclusions and contextual terms on top of the defaults.
func TestCustomConfig(t *testing.T) {
	extra := Config{Classes: map[Class]ClassConfig{
		SelfHarm: {Terms: []string{"喝84消毒液"}, Exclusions: []string{"跳楼秀"}},
		GoingUp:  {Contextual: []string{"去杭州"}},
		Violence: {Terms: []string{"泼粪"}},
	}}
	l, err := New(DefaultConfig().Merge(extra))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"来电人称再不退钱就喝８４消毒液。", []string{"self_harm:喝84消毒液"}}, // full-width digits
		{"来电人称再不退钱就喝84消毒液。", []string{"self_harm:喝84消毒液"}},
		{"来电人反映有网红在楼顶表演跳楼秀博流量。", nil},
		{"来电人称还要跳楼。", []string{"self_harm:跳楼"}}, // defaults kept
		{"来电人称要去杭州上访。", []string{"going_up:去杭州"}},
		{"来电人称要去杭州旅游。", nil},
		{"来电人称要去对方家门口泼粪。", []string{"violence:泼粪"}},
	}
	for _, tt := range tests {
		if got := summary(l.Find(tt.text)); !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// The default exclusions hold even against single-character terms an
// operator might add.
func TestExclusionsGuardGreedyTerms(t *testing.T) {
	greedy := Config{Classes: map[Class]ClassConfig{
		Violence: {Terms: []string{"炸", "杀", "砍"}},
		Blockade: {Terms: []string{"堵"}},
		Banner:   {Terms: []string{"横幅"}},
		GoingUp:  {Contextual: []string{"北京"}},
	}}
	l, err := New(DefaultConfig().Merge(greedy))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, text := range []string{
		"来电人反映小区门口炸鸡店油烟扰民。", "来电人反映炸酱面馆卫生差。", "来电人反映炸串摊占道。",
		"来电人称看到一条爆炸性新闻。", "来电人反映商户杀价。", "来电人反映砍价活动是骗局。",
		"来电人反映早高峰堵车。", "来电人反映下水道堵塞。", "来电人反映交通拥堵。",
		"来电人反映小区门口的横幅广告影响市容。",
		"来电人到北京路信访办反映问题。", "来电人到北京烤鸭店投诉。", "来电人按北京时间九点反映。",
		"来电人到北京市场管理处投诉。",
	} {
		if got := l.Find(text); len(got) != 0 {
			t.Errorf("Find(%q) = %q, want none", text, summary(got))
		}
	}
	for text, want := range map[string]string{
		"来电人称要把他们厂炸了。":  "violence:炸",
		"来电人称要去镇里堵着不走。": "blockade:堵",
		"来电人称要拉一条横幅。":   "banner:拉*横幅",
		"来电人称要去北京上访。":   "going_up:去北京上访",
	} {
		if got := summary(l.Find(text)); !slices.Contains(got, want) {
			t.Errorf("Find(%q) = %q, want it to contain %q", text, got, want)
		}
	}
}

func TestMergeKeepsInputs(t *testing.T) {
	base := DefaultConfig()
	n := len(base.Classes[SelfHarm].Terms)
	m := base.Merge(Config{Classes: map[Class]ClassConfig{SelfHarm: {Terms: []string{"喝84消毒液"}}}, MaxGap: 6})
	if got := len(base.Classes[SelfHarm].Terms); got != n {
		t.Errorf("base terms = %d after Merge, want %d", got, n)
	}
	if got := len(m.Classes[SelfHarm].Terms); got != n+1 {
		t.Errorf("merged terms = %d, want %d", got, n+1)
	}
	if m.MaxGap != 6 || m.CueWindow != base.CueWindow {
		t.Errorf("merged MaxGap, CueWindow = %d, %d, want 6, %d", m.MaxGap, m.CueWindow, base.CueWindow)
	}
}

// Config is read from YAML: every field carries a snake_case yaml tag.
func TestConfigYAMLTags(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[ClassConfig]()} {
		for f := range typ.Fields() {
			if tag := f.Tag.Get("yaml"); !snake.MatchString(tag) {
				t.Errorf("%s.%s yaml tag = %q, want snake_case", typ.Name(), f.Name, tag)
			}
		}
	}
}

// Every default class has terms, and a default exclusion never suppresses
// a default term on its own.
func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	l := newDefault(t)
	for _, cl := range Classes {
		cc := cfg.Classes[cl]
		if len(cc.Terms)+len(cc.Contextual) < 10 {
			t.Errorf("%s: %d terms, want at least 10", cl, len(cc.Terms)+len(cc.Contextual))
		}
		for _, term := range cc.Terms {
			text := "来电人称要" + strings.ReplaceAll(term, "*", "")
			if ms := l.Find(text); !slices.ContainsFunc(ms, func(m Match) bool { return m.Class == cl }) {
				t.Errorf("Find(%q) = %q, want a %s match", text, summary(ms), cl)
			}
		}
	}
}
