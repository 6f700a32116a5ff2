package detectors

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors/surge"
)

// CollectiveConfig tunes the collective detector.
type CollectiveConfig struct {
	Petitioners int `yaml:"petitioners"` // a petition of this many is collective (集体访), whatever groupFlag says; default 5
	Gathering   int `yaml:"gathering"`   // a grid report of a dispute involving this many is a gathering; default 10
	// Many different people with a grievance about one subject: Persons or
	// more within Days, and so many more than the subject's usual (the three
	// weeks before) that chance would reach it with probability under Alpha
	// (see predictiveTail): a big employer's steady complaints are not a dispute.
	Persons int     `yaml:"persons"` // default 5
	Days    int     `yaml:"days"`    // default 3
	Alpha   float64 `yaml:"alpha"`   // default 0.0001
}

// Collective (群体性风险) raises three patterns of many people in one
// dispute. Collective petitions — Petitioners or more petitioners, or
// flagged 集体访 upstream — and grid reports of disputes involving Gathering
// or more people, scoped by township and category so that reports about one
// dispute join one alert while it is open. And many different persons about
// one subject (employer, estate, project, village land; package
// pipeline/subject) and category across all feeds within days, each in
// their own words: the wage arrears of one factory reach the hotline as
// separate calls long before the workers gather, scoped by the subject and
// the category. Orange; red from 20
// people (by head count, petitioners or persons), or when a petition is
// collective and skips levels.
func Collective(conn driver.Conn, cfg CollectiveConfig) Definition {
	d := Definition{Name: "collective", Schedule: "*/5 * * * *", Timeout: time.Minute, Window: time.Hour}
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		if err := sameSubject(ctx, conn, d.Name, cfg, ws, out); err != nil {
			return nil, err
		}
		byScope := make([]map[string]int, len(ws))
		err := eachRow(ctx, conn, collectiveQuery, func(rows driver.Rows) error {
			var source, id, township, county, category string
			var people int32
			var skip uint8
			var at time.Time
			if err := rows.Scan(&source, &id, &township, &county, &category, &people, &skip, &at); err != nil {
				return err
			}
			i := slot(at, from, step)
			if i < 0 || i >= len(ws) {
				return nil
			}
			region := placeOf(township, county)
			lv := risk.LevelOrange
			if people >= 20 || skip == 1 {
				lv = risk.LevelRed
			}
			ev := risk.Evidence{Source: risk.Source(source), ID: id}
			a := risk.Alert{Labels: risk.Labels{"detector": d.Name, "region": region, "category": category}}
			if byScope[i] == nil {
				byScope[i] = map[string]int{}
			}
			if j, ok := byScope[i][a.ScopeKey()]; ok {
				prev := &out[i][j]
				prev.Evidence = append(prev.Evidence, ev)
				prev.Level = prev.Level.Max(lv)
				prev.Numbers["people"] = max(prev.Numbers["people"], float64(people))
				prev.Numbers["reports"]++
				prev.Seen = at
				prev.Summary = collectiveSummary(region, category, prev.Numbers)
				return nil
			}
			a.Window, a.Level, a.Seen = ws[i], lv, at
			a.Numbers = map[string]float64{"people": float64(people), "reports": 1}
			a.Summary = collectiveSummary(region, category, a.Numbers)
			a.Evidence = []risk.Evidence{ev}
			byScope[i][a.ScopeKey()] = len(out[i])
			out[i] = append(out[i], a)
			return nil
		}, from, ws[len(ws)-1].End, cfg.Petitioners, cfg.Gathering)
		return out, err
	}, d.Window)
	return d
}

// baselineDays is how far back sameSubject learns a subject's usual.
const baselineDays = 21

// subjectRow is one record's mention of a subject, as sameSubject reads it.
type subjectRow struct {
	at                 time.Time
	person, source, id string
	township           string
}

// sameSubject appends to out[i] the alerts of many different persons about
// one subject in window ws[i]: the recent days before the window's end
// against the three weeks before them. Until ingestion has events on most
// days of a window's three weeks (a new deployment), every name would look
// new: it finds nothing there rather than a crowd of false alarms. One pass
// reads the subjects' mentions from the first window's baseline on.
func sameSubject(ctx context.Context, conn driver.Conn, name string, cfg CollectiveConfig, ws []risk.Window, out [][]risk.Alert) error {
	lookback := time.Duration(cfg.Days+baselineDays) * 24 * time.Hour
	since, end := ws[0].End.Add(-lookback), ws[len(ws)-1].End
	hours := map[time.Time]bool{}
	err := eachRow(ctx, conn, `SELECT DISTINCT toStartOfHour(occurred_at) FROM events WHERE occurred_at >= ? AND occurred_at < ?`, func(rows driver.Rows) error {
		var h time.Time
		if err := rows.Scan(&h); err != nil {
			return err
		}
		hours[h.UTC()] = true
		return nil
	}, since, end)
	if err != nil {
		return err
	}
	type key struct{ county, subject, category string }
	mentions := map[key][]subjectRow{}
	err = eachRow(ctx, conn, sameSubjectQuery, func(rows driver.Rows) error {
		var k key
		var r subjectRow
		if err := rows.Scan(&k.county, &k.subject, &k.category, &r.person, &r.at, &r.source, &r.id, &r.township); err != nil {
			return err
		}
		mentions[k] = append(mentions[k], r)
		return nil
	}, since, end)
	if err != nil {
		return err
	}
	keys := slices.SortedFunc(maps.Keys(mentions), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.county, b.county), cmp.Compare(a.subject, b.subject), cmp.Compare(a.category, b.category))
	})
	for i, w := range ws {
		recent := w.End.AddDate(0, 0, -cfg.Days)
		from := recent.AddDate(0, 0, -baselineDays)
		days := map[time.Time]bool{}
		for h := from; h.Before(recent); h = h.Add(time.Hour) {
			if hours[h] {
				days[h.Truncate(24*time.Hour)] = true
			}
		}
		if len(days) < baselineDays*6/7 {
			continue
		}
		for _, k := range keys {
			ms := mentions[k] // by time
			lo, _ := slices.BinarySearchFunc(ms, from, func(r subjectRow, t time.Time) int { return r.at.Compare(t) })
			mid, _ := slices.BinarySearchFunc(ms, recent, func(r subjectRow, t time.Time) int { return r.at.Compare(t) })
			hi, _ := slices.BinarySearchFunc(ms, w.End, func(r subjectRow, t time.Time) int { return r.at.Compare(t) })
			if hi-mid < cfg.Persons || ms[hi-1].at.Before(w.Start) {
				continue
			}
			persons, before, towns := map[string]bool{}, map[string]bool{}, map[string]bool{}
			var ev []risk.Evidence
			for _, r := range ms[mid:hi] {
				persons[r.person], towns[r.township] = true, true
				ev = append(ev, risk.Evidence{Source: risk.Source(r.source), ID: r.id})
			}
			for _, r := range ms[lo:mid] {
				before[r.person] = true
			}
			if len(persons) < cfg.Persons || predictiveTail(len(persons), len(before), cfg.Days) >= cfg.Alpha {
				continue
			}
			usual := float64(len(before)) * float64(cfg.Days) / baselineDays
			lv := risk.LevelOrange
			if len(persons) >= 20 {
				lv = risk.LevelRed
			}
			township := ""
			if len(towns) == 1 {
				township = ms[mid].township
			}
			region := placeOf(township, k.county)
			out[i] = append(out[i], risk.Alert{
				Labels:   risk.Labels{"detector": name, "region": k.county, "subject": k.subject, "category": k.category},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("群体性风险：%d天内%d名不同人员反映同一对象（%s，%s %s），此前3周平均每%d天%.1f人", cfg.Days, len(persons), subjectName(k.subject), region, k.category, cfg.Days, usual),
				Numbers:  map[string]float64{"persons": float64(len(persons)), "usual": usual, "reports": float64(len(ev))},
				Evidence: ev,
				Seen:     ms[hi-1].at,
				Region:   region,
			})
		}
	}
	return nil
}

// predictiveTail is the chance that a subject keeping its rate has at
// least recent persons in the last days, when it had before in the
// baselineDays until then: the predictive tail of a Poisson count whose
// rate is known only from the baseline (a Jeffreys prior, Gamma(before+½)
// posterior): a negative binomial of size before+½ and mean (before+½)·
// days/baselineDays. A Poisson tail around the baseline's mean takes three
// weeks' count for the rate itself; but a few persons in three weeks say
// little about it (2 could be a rate of 1 or of 6), and a county tests
// hundreds of subjects a run: the plug-in tail fired on a subject's
// ordinary good week. Five persons about a subject new to the baseline give
// 8e-6; five after one before, 8e-5; six after two, 5e-5; seven after
// seven, 6e-4.
func predictiveTail(recent, before, days int) float64 {
	size := float64(before) + 0.5
	ratio := float64(days) / baselineDays
	return surge.UpperTail(float64(recent), size*ratio, 1+ratio) // variance mean·(1+ratio): size = mean/ratio
}

// subjectName is a subject key as a centre worker reads it.
func subjectName(key string) string {
	kind, name, _ := strings.Cut(key, ":")
	switch kind {
	case "firm":
		return "企业 " + name
	case "estate":
		return "小区 " + name
	case "project":
		if _, site, ok := strings.Cut(name, ":"); ok {
			return "工程 " + site
		}
		return "工程 " + name
	case "land":
		return "村土地 " + name
	}
	return key
}

// sameSubjectQuery lists the mentions of subjects by category, oldest
// first; a record without a linking key is its own person. One grievance is
// one category of one subject: an estate's noise, lights and parking are
// three matters, not a crowd. Questions, suggestions and praise are no
// grievance: a power cut's callers ask when it comes back. Only small
// columns are read.
const sameSubjectQuery = `
SELECT county, s, category, if(empty(person_keys), concat(source, '/', id), person_keys[1]) AS p,
       occurred_at, source, id, township
FROM events FINAL
ARRAY JOIN subjects AS s
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ? AND notEmpty(subjects)
  AND kind NOT IN ('咨询', '建议', '表扬')
ORDER BY occurred_at, source, id`

func collectiveSummary(region, category string, n map[string]float64) string {
	return fmt.Sprintf("群体性风险：%s %s，最多%d人，%d份报告", region, category, int(n["people"]), int(n["reports"]))
}

// collectiveQuery: petitions count their petitioners, grid reports their
// head count; only grid reports of disputes (矛盾纠纷) count as gatherings.
const collectiveQuery = `
SELECT source, id, township, county, category,
       if(source = 'petition', petitioner_count, head_count) AS people,
       skip_level, occurred_at
FROM events FINAL
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
  AND ((source = 'petition' AND (collective = 1 OR petitioner_count >= ?))
    OR (source = 'grid' AND startsWith(category_raw, '矛盾纠纷') AND head_count >= ?))
ORDER BY occurred_at, id`
