package detectors

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/pipeline/subject"
)

// ConvergenceConfig tunes the convergence detector.
type ConvergenceConfig struct {
	Days       int     `yaml:"days"`       // looking back this many days; default 14
	Similarity float64 `yaml:"similarity"` // share of the shorter text's character pairs found in the other for two texts about one subject to be one matter, 0–1; default 0.25
	// And the two texts name the same particular grievance: at least Shared
	// character pairs in both that are rare in their category, found in at
	// most Rare of the county's records of the category over Days.
	Shared int     `yaml:"shared"` // default 2
	Rare   float64 `yaml:"rare"`   // default 0.1
}

// Convergence (多渠道汇聚) finds a matter that one channel did not settle
// and that reached two or three channels (hotline, petition, grid) within
// Days, one of them in the window: the same person, by the keyed hash of
// their ID or phone number; or the same subject (employer, estate, project;
// package pipeline/subject) raised by different people in the same category
// about the same particular grievance and then brought to the petition
// office — the owners of one estate calling the hotline about its parking,
// then petitioning about it. An estate or a factory is named by the hotline
// and the grid workers every week: only a petition says that those
// channels did not settle it; and a big employer's workers call and
// petition about their own wages every week in the same stock words, each
// their own matter (see sameMatter). Yellow for two channels, orange for
// all three.
func Convergence(conn driver.Conn, cfg ConvergenceConfig) Definition {
	d := Definition{Name: "convergence", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	// One pass reads the records of the range and the Days before it; each
	// window looks at its own Days.
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		recs, err := convergenceRecords(ctx, conn, from.AddDate(0, 0, -cfg.Days), to)
		if err != nil {
			return nil, err
		}
		span := time.Duration(cfg.Days) * 24 * time.Hour
		// in lists the records of idx (oldest first) in the Days before
		// the end of window wi.
		in := func(idx []int, wi int) []int {
			end := ws[wi].End
			lo, _ := slices.BinarySearchFunc(idx, end.Add(-span), func(i int, t time.Time) int { return recs[i].at.Compare(t) })
			hi, _ := slices.BinarySearchFunc(idx, end, func(i int, t time.Time) int { return recs[i].at.Compare(t) })
			return idx[lo:hi]
		}
		// touched lists the windows holding a record of idx.
		touched := func(idx []int) []int {
			var out []int
			for _, i := range idx {
				if wi := slot(recs[i].at, from, step); wi >= 0 && wi < len(ws) && (len(out) == 0 || out[len(out)-1] != wi) {
					out = append(out, wi)
				}
			}
			return out
		}

		// The same person in two or more feeds.
		byPerson, byGroup, byCategory := map[string][]int{}, map[convergenceGroup][]int{}, map[string][]int{}
		for i, r := range recs {
			for _, k := range r.persons {
				byPerson[k] = append(byPerson[k], i)
			}
			for _, s := range r.subjects {
				if !strings.HasPrefix(s, "land:") { // a village's land is too wide a subject: two villagers' plots are two matters
					g := convergenceGroup{r.county, s, r.category}
					byGroup[g] = append(byGroup[g], i)
				}
			}
			byCategory[r.county+"/"+r.category] = append(byCategory[r.county+"/"+r.category], i)
		}
		persons := make([][]risk.Alert, len(ws))
		for _, k := range slices.Sorted(maps.Keys(byPerson)) {
			idx := byPerson[k]
			for _, wi := range touched(idx) {
				group := in(idx, wi)
				var feeds, sources, ids []string
				for _, i := range group {
					feeds = append(feeds, string(recs[i].source))
					sources, ids = append(sources, string(recs[i].source)), append(ids, recs[i].id)
				}
				slices.Sort(feeds)
				if feeds = slices.Compact(feeds); len(feeds) < 2 {
					continue
				}
				latest := recs[group[len(group)-1]]
				lv := risk.LevelYellow
				if len(feeds) >= 3 {
					lv = risk.LevelOrange
				}
				region := placeOf(latest.township, latest.county)
				persons[wi] = append(persons[wi], risk.Alert{
					Labels:   risk.Labels{"detector": d.Name, "person": k},
					Window:   ws[wi],
					Level:    lv,
					Summary:  fmt.Sprintf("多渠道汇聚：同一人%d天内经%s反映（最近一次%s，%s）", cfg.Days, channelNames(feeds), latest.category, region),
					Numbers:  map[string]float64{"channels": float64(len(feeds)), "matters": float64(len(ids))},
					Evidence: evidence(sources, ids),
					Seen:     latest.at,
					Region:   region,
					Category: latest.category,
				})
			}
		}
		for wi := range ws {
			out[wi] = samePerson(persons[wi])
		}

		// The same subject, category and grievance, by two or more people,
		// in two or more feeds, one of them petitions: first the candidate
		// pairs of every group and window, then, window by window, their
		// words against the category's (one sliding count per category,
		// which only moves forward).
		type pending struct {
			wi                          int
			g                           convergenceGroup
			sources, ids, people, towns []string
			times                       []time.Time
			words                       []map[string]bool
			pairs                       [][2]int
		}
		var todo []pending
		groups := slices.SortedFunc(maps.Keys(byGroup), func(a, b convergenceGroup) int {
			return cmp.Or(cmp.Compare(a.county, b.county), cmp.Compare(a.subject, b.subject), cmp.Compare(a.category, b.category))
		})
		for _, g := range groups {
			idx := byGroup[g]
			for _, wi := range touched(idx) {
				p := pending{wi: wi, g: g}
				var texts []string
				for _, i := range in(idx, wi) {
					r := recs[i]
					p.sources, p.ids, p.times, texts = append(p.sources, string(r.source)), append(p.ids, r.id), append(p.times, r.at), append(texts, r.text)
					p.people, p.towns = append(p.people, r.person()), append(p.towns, r.township)
				}
				if uniq(p.sources) < 2 || !slices.Contains(p.sources, string(risk.SourcePetition)) || uniq(p.people) < 2 {
					continue
				}
				if p.words, p.pairs = candidates(p.sources, p.people, texts, p.times, g.subject, cfg.Similarity); len(p.pairs) > 0 {
					todo = append(todo, p)
				}
			}
		}
		slices.SortStableFunc(todo, func(a, b pending) int { return cmp.Compare(a.wi, b.wi) })
		vocabs := map[string]*slidingVocabulary{}
		for _, p := range todo {
			g, w := p.g, ws[p.wi]
			key := g.county + "/" + g.category
			v := vocabs[key]
			if v == nil {
				v = &slidingVocabulary{recs: recs, idx: byCategory[key]}
				vocabs[key] = v
			}
			same := sameMatter(len(p.ids), p.pairs, p.words, v.until(w.End, span), cfg)
			var ev []risk.Evidence
			var feeds, who []string
			var last time.Time
			for i := range p.ids {
				if !same[i] {
					continue
				}
				ev = append(ev, risk.Evidence{Source: risk.Source(p.sources[i]), ID: p.ids[i]})
				feeds, who = append(feeds, p.sources[i]), append(who, p.people[i])
				if p.times[i].After(last) {
					last = p.times[i]
				}
			}
			if last.Before(w.Start) {
				continue // converged before this window
			}
			slices.Sort(feeds)
			feeds = slices.Compact(feeds)
			lv := risk.LevelYellow
			if len(feeds) >= 3 {
				lv = risk.LevelOrange
			}
			township := ""
			if uniq(p.towns) == 1 {
				township = p.towns[0]
			}
			region := placeOf(township, g.county)
			out[p.wi] = append(out[p.wi], risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": g.county, "subject": g.subject, "category": g.category},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("多渠道汇聚：%d天内%d人就同一对象的同一问题（%s，%s %s）经%s反映", cfg.Days, uniq(who), subjectName(g.subject), region, g.category, channelNames(feeds)),
				Numbers:  map[string]float64{"channels": float64(len(feeds)), "persons": float64(uniq(who)), "matters": float64(len(ev))},
				Evidence: ev,
				Seen:     last,
				Region:   region,
			})
		}
		return out, nil
	}, d.Window)
	return d
}

// convergenceRecord is a record as convergence reads it.
type convergenceRecord struct {
	source                     risk.Source
	id                         string
	at                         time.Time
	county, township, category string
	persons, subjects          []string
	text                       string // title and text, their first 600 bytes
	words                      map[string]bool
}

// person is who raised the record: its first linking key, or the record
// itself.
func (r convergenceRecord) person() string {
	if len(r.persons) == 0 {
		return string(r.source) + "/" + r.id
	}
	return r.persons[0]
}

type convergenceGroup struct{ county, subject, category string }

// convergenceRecords reads the records raised in [from, to) and not
// deleted, oldest first.
func convergenceRecords(ctx context.Context, conn driver.Conn, from, to time.Time) ([]convergenceRecord, error) {
	var out []convergenceRecord
	err := eachRow(ctx, conn, `
SELECT source, id, occurred_at, county, township, category, person_keys, subjects, substring(concat(title, ' ', text), 1, 600)
FROM events FINAL
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?`, func(rows driver.Rows) error {
		var r convergenceRecord
		var src string
		if err := rows.Scan(&src, &r.id, &r.at, &r.county, &r.township, &r.category, &r.persons, &r.subjects, &r.text); err != nil {
			return err
		}
		r.source, r.at = risk.Source(src), r.at.UTC()
		out = append(out, r)
		return nil
	}, from, to)
	slices.SortFunc(out, func(a, b convergenceRecord) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.source, b.source), cmp.Compare(a.id, b.id))
	})
	return out, err
}

func uniq(s []string) int {
	s = slices.Clone(s)
	slices.Sort(s)
	return len(slices.Compact(s))
}

// channelNames lists feeds as centre workers name them: 12345热线、信访.
func channelNames(feeds []string) string {
	names := map[risk.Source]string{risk.SourceHotline: "12345热线", risk.SourcePetition: "信访", risk.SourceGrid: "网格"}
	var out []string
	for _, s := range risk.Sources {
		if slices.Contains(feeds, string(s)) {
			out = append(out, names[s])
		}
	}
	return strings.Join(out, "、")
}

// candidates are the pairs (petition, earlier record) that may be one
// matter brought to the petition office after another channel: a petition
// and an earlier record of another feed and another person whose texts
// share at least similarity of the character pairs of the shorter one. The
// pairs are counted without the subject's name (a firm's full name, its
// industry and legal form too) and place names: the subject is already
// known to be the same.
func candidates(sources, persons, texts []string, times []time.Time, subj string, similarity float64) ([]map[string]bool, [][2]int) {
	kind, name, _ := strings.Cut(subj, ":")
	drop := regexp.MustCompile(regexp.QuoteMeta(name))
	if kind+":" == subject.Firm {
		drop = regexp.MustCompile(regexp.QuoteMeta(name) + `\p{Han}{0,6}?(?:股份有限公司|有限责任公司|有限公司|集团|公司|工厂|厂)|` + regexp.QuoteMeta(name))
	}
	words := make([]map[string]bool, len(texts))
	for i, t := range texts {
		words[i] = bigrams(placeNames.ReplaceAllString(drop.ReplaceAllString(t, " "), " "))
	}
	var out [][2]int
	for i := range texts {
		if sources[i] != string(risk.SourcePetition) {
			continue
		}
		for j := range texts {
			if sources[j] != string(risk.SourcePetition) && persons[j] != persons[i] && times[j].Before(times[i]) &&
				overlap(words[i], words[j]) >= similarity {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return words, out
}

// sameMatter marks the records of n that are one matter: a candidate pair
// whose texts share at least cfg.Shared character pairs that are rare in
// their category (found in at most cfg.Rare of its records, vocab). The
// stock phrases of a category — 拖欠工资, 多次讨要未果, 有限公司 — are in a
// quarter to all of its records: a big employer's workers use them about
// their own wages each week, two matters. The words of one grievance are in
// a few percent (开发商 and 交付 of an estate's parking: 0.4–9% over the
// demo's seeds and sizes), and the pairs of a big employer's workers share
// at most one such pair. An estate's parking dispute and its broken lights
// are two matters.
func sameMatter(n int, pairs [][2]int, words []map[string]bool, vocab *vocabulary, cfg ConvergenceConfig) []bool {
	same := make([]bool, n)
	for _, p := range pairs {
		a, b := words[p[0]], words[p[1]]
		rare := 0
		for k := range a {
			// The pair's own two records aside: a category's first weeks
			// are no reason to call everything rare.
			if b[k] && (vocab == nil || vocab.df[k]-2 <= int(cfg.Rare*float64(vocab.n))) {
				rare++
			}
		}
		if rare >= cfg.Shared {
			same[p[0]], same[p[1]] = true, true
		}
	}
	return same
}

// placeNames are names of townships, villages and communities: where a
// matter is, not what it is.
var placeNames = regexp.MustCompile(`\p{Han}{2,3}(?:街道|镇|乡|村|社区)`)

// vocabulary is how many records of a category hold each character pair.
type vocabulary struct {
	n  int
	df map[string]int
}

// slidingVocabulary counts the character pairs of one county's category
// over a span of time that only moves forward: each record is added once
// and removed once, however many windows ask.
type slidingVocabulary struct {
	recs    []convergenceRecord
	idx     []int // the category's records, oldest first
	lo, hi  int   // idx[lo:hi] are counted
	counted vocabulary
}

// until is the vocabulary of the category's records in [end-span, end).
// end never goes back.
func (v *slidingVocabulary) until(end time.Time, span time.Duration) *vocabulary {
	if v.counted.df == nil {
		v.counted.df = map[string]int{}
	}
	for ; v.hi < len(v.idx) && v.recs[v.idx[v.hi]].at.Before(end); v.hi++ {
		v.add(v.idx[v.hi], 1)
	}
	for ; v.lo < v.hi && v.recs[v.idx[v.lo]].at.Before(end.Add(-span)); v.lo++ {
		v.add(v.idx[v.lo], -1)
	}
	return &v.counted
}

func (v *slidingVocabulary) add(i, sign int) {
	r := &v.recs[i]
	if r.words == nil {
		r.words = bigrams(r.text)
	}
	v.counted.n += sign
	for k := range r.words {
		if v.counted.df[k] += sign; v.counted.df[k] == 0 {
			delete(v.counted.df, k)
		}
	}
}

// bigrams are the pairs of adjacent Han characters of s.
func bigrams(s string) map[string]bool {
	out := map[string]bool{}
	var prev rune
	for _, r := range s {
		if unicode.Is(unicode.Han, r) && prev != 0 {
			out[string([]rune{prev, r})] = true
		}
		prev = 0
		if unicode.Is(unicode.Han, r) {
			prev = r
		}
	}
	return out
}

// overlap is the share of the smaller set found in the other: a petition's
// long facts and requests do not dilute a short call.
func overlap(a, b map[string]bool) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) == 0 {
		return 0
	}
	common := 0
	for k := range a {
		if b[k] {
			common++
		}
	}
	return float64(common) / float64(len(a))
}
