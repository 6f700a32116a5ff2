package detectors

import (
	"context"
	"fmt"
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
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		alerts, err := queryAlerts(ctx, conn, convergenceQuery, func(rows driver.Rows) (risk.Alert, error) {
			var key, township, county, category string
			var sources, ids, feeds []string
			var last time.Time
			if err := rows.Scan(&key, &feeds, &sources, &ids, &township, &county, &category, &last); err != nil {
				return risk.Alert{}, err
			}
			slices.Sort(feeds)
			lv := risk.LevelYellow
			if len(feeds) >= 3 {
				lv = risk.LevelOrange
			}
			region := placeOf(township, county)
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "person": key},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("多渠道汇聚：同一人%d天内经%s反映（最近一次%s，%s）", cfg.Days, channelNames(feeds), category, region),
				Numbers:  map[string]float64{"channels": float64(len(feeds)), "matters": float64(len(ids))},
				Evidence: evidence(sources, ids),
				Seen:     last,
				Region:   region,
			}, nil
		}, w.End.AddDate(0, 0, -cfg.Days), w.End, w.Start)
		if err != nil {
			return nil, err
		}
		type group struct {
			county, subj, township, category string
			sources, ids, persons            []string
			times                            []time.Time
			words                            []map[string]bool
			pairs                            [][2]int
		}
		var groups []group
		var cats []string
		err = eachRow(ctx, conn, convergenceSubjectQuery, func(rows driver.Rows) error {
			var g group
			var texts []string
			if err := rows.Scan(&g.county, &g.subj, &g.category, &g.sources, &g.ids, &g.persons, &texts, &g.times, &g.township); err != nil {
				return err
			}
			g.words, g.pairs = candidates(g.sources, g.persons, texts, g.times, g.subj, cfg.Similarity)
			if len(g.pairs) > 0 {
				groups = append(groups, g)
				cats = append(cats, g.category)
			}
			return nil
		}, w.End.AddDate(0, 0, -cfg.Days), w.End, w.Start)
		if err != nil {
			return nil, err
		}
		// Only the categories of candidate pairs are read for their words.
		words, err := categoryWords(ctx, conn, cats, w.End.AddDate(0, 0, -cfg.Days), w.End)
		if err != nil {
			return nil, err
		}
		var subjects []risk.Alert
		for _, g := range groups {
			county, subj, township, category := g.county, g.subj, g.township, g.category
			sources, ids, persons, times := g.sources, g.ids, g.persons, g.times
			same := sameMatter(len(ids), g.pairs, g.words, words[county+"/"+category], cfg)
			var ev []risk.Evidence
			var feeds, people []string
			var last time.Time
			for i := range ids {
				if !same[i] {
					continue
				}
				ev = append(ev, risk.Evidence{Source: risk.Source(sources[i]), ID: ids[i]})
				feeds = append(feeds, sources[i])
				people = append(people, persons[i])
				if times[i].After(last) {
					last = times[i]
				}
			}
			if last.Before(w.Start) {
				continue // converged before this window
			}
			slices.Sort(feeds)
			feeds = slices.Compact(feeds)
			slices.Sort(people)
			people = slices.Compact(people)
			lv := risk.LevelYellow
			if len(feeds) >= 3 {
				lv = risk.LevelOrange
			}
			region := placeOf(township, county)
			subjects = append(subjects, risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": county, "subject": subj, "category": category},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("多渠道汇聚：%d天内%d人就同一对象的同一问题（%s，%s %s）经%s反映", cfg.Days, len(people), subjectName(subj), region, category, channelNames(feeds)),
				Numbers:  map[string]float64{"channels": float64(len(feeds)), "persons": float64(len(people)), "matters": float64(len(ev))},
				Evidence: ev,
				Seen:     last,
				Region:   region,
			})
		}
		return append(samePerson(alerts), subjects...), nil
	}
	return d
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

// convergenceSubjectQuery: subjects and categories in two or more feeds,
// one of them petitions, by two or more persons (one person is the query
// above); sameMatter then compares their texts. A village's land is too
// wide a subject here: two villagers' plots are two matters.
const convergenceSubjectQuery = `
SELECT county, s, category, groupArray(source), groupArray(id), groupArray(p), groupArray(t), groupArray(occurred_at),
       if(uniqExact(township) = 1, any(township), '') AS shared_township
FROM (
    SELECT source, id, occurred_at, county, township, category, subjects,
           if(empty(person_keys), concat(source, '/', id), person_keys[1]) AS p,
           substring(concat(title, ' ', text), 1, 600) AS t
    FROM events FINAL
    WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND notEmpty(subjects)
)
ARRAY JOIN subjects AS s
WHERE NOT startsWith(s, 'land:')
GROUP BY county, s, category
HAVING uniqExact(source) >= 2 AND has(groupArray(source), 'petition') AND uniqExact(p) >= 2 AND max(occurred_at) >= ?
ORDER BY county, s, category`

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

// categoryWords counts the character pairs of the records of categories in
// [from, to), by county and category ("330681/劳资纠纷"). A nil vocabulary
// (no records) makes every pair rare.
func categoryWords(ctx context.Context, conn driver.Conn, categories []string, from, to time.Time) (map[string]*vocabulary, error) {
	out := map[string]*vocabulary{}
	if len(categories) == 0 {
		return out, nil
	}
	slices.Sort(categories)
	err := eachRow(ctx, conn, `
SELECT county, category, substring(concat(title, ' ', text), 1, 600)
FROM events FINAL
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND has(?, category)`, func(rows driver.Rows) error {
		var county, category, text string
		if err := rows.Scan(&county, &category, &text); err != nil {
			return err
		}
		v := out[county+"/"+category]
		if v == nil {
			v = &vocabulary{df: map[string]int{}}
			out[county+"/"+category] = v
		}
		v.n++
		for k := range bigrams(text) {
			v.df[k]++
		}
		return nil
	}, from, to, slices.Compact(categories))
	return out, err
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

const convergenceQuery = `
SELECT k, groupUniqArray(source) AS feeds, groupArray(source), groupArray(id),
       argMax(township, occurred_at), argMax(county, occurred_at), argMax(category, occurred_at), max(occurred_at) AS last
FROM (
    SELECT source, id, occurred_at, county, township, category, person_keys
    FROM events FINAL
    WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
)
ARRAY JOIN person_keys AS k
GROUP BY k
HAVING length(feeds) >= 2 AND last >= ?
ORDER BY k`
