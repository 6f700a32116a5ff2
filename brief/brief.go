// Package brief writes the leaders' trend briefs: for a region and a period,
// the headline figures against the previous period and the year before,
// what is rising (by a test against its own history), the hotspots, the
// notable matters, the epidemic-era topics and a few observations written
// by rules from the figures. Every figure comes from the readers the
// console uses (pipeline.MatterReader.Tally, desk.Stats.Period), so that a
// period has one number everywhere. A brief holds aggregates and codes
// only: never a record's text, never a person.
package brief

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// Brief is one brief: the figures, and the text written from them.
type Brief struct {
	Region     string    `json:"region"` // the division code prefix it covers
	RegionName string    `json:"region_name"`
	Period     Period    `json:"period"`
	Previous   Period    `json:"previous"`
	YearAgo    Period    `json:"year_ago"`
	MadeAt     time.Time `json:"made_at"`
	History    int       `json:"history"` // periods the rising test looks back on

	Headline []Figure `json:"headline"`
	// SettledShare is the 矛盾不上交率 (settled at the first desk / settled),
	// in percent; nil when nothing was settled.
	SettledShare SharePair `json:"settled_first_share"`

	RisingCategories []Rise `json:"rising_categories"`
	RisingPlaces     []Rise `json:"rising_places"`
	Footnote         string `json:"footnote"`

	PlaceLevel, SubLevel string  `json:"-"`            // the levels of Hotspots and SubHotspots, in Chinese
	Hotspots             []Place `json:"hotspots"`     // the next level down, most matters first
	SubHotspots          []Place `json:"sub_hotspots"` // the level below that
	// HotspotsPer10k and SubHotspotsPer10k: the level is ranked by matters
	// per 10,000 residents, every place of it having a population
	// (Maker.Populations); otherwise by matters, the rate shown where known.
	HotspotsPer10k    bool `json:"hotspots_per_10k"`
	SubHotspotsPer10k bool `json:"sub_hotspots_per_10k"`

	Notable     []Line   `json:"notable"`
	MoreNotable bool     `json:"more_notable"` // the period had more than Notable lists: the console has them all
	Topics      []Figure `json:"topics"`       // epidemic-era topics present in the period

	Observations []Observation `json:"observations"`
}

// Figure is one count in three periods. YearAgo is nil where there is no
// data a year before.
type Figure struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Current  int    `json:"current"`
	Previous int    `json:"previous"`
	YearAgo  *int   `json:"year_ago,omitempty"`
}

// SharePair is a share in percent in the three periods; nil: no base.
type SharePair struct {
	Current  *float64 `json:"current"`
	Previous *float64 `json:"previous"`
	YearAgo  *float64 `json:"year_ago,omitempty"`
}

// Rise is a category or a place whose count is significantly above its own
// history (see Alpha).
type Rise struct {
	Key      string  `json:"key"` // category, or place code
	Name     string  `json:"name"`
	Current  int     `json:"current"`
	Previous int     `json:"previous"`
	Mean     float64 `json:"history_mean"`
	History  []int   `json:"history"`          // oldest first, the current period not included
	P        float64 `json:"p"`                // P(X ≥ Current) under the history
	Places   []Place `json:"places,omitempty"` // categories: where most of them were
}

// Place is a township, village or county with its matters.
type Place struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Current  int    `json:"current"`
	Previous int    `json:"previous"`
	// Per10k is Current per 10,000 residents, where the place's
	// population is configured.
	Per10k *float64 `json:"per_10k,omitempty"`
}

// Line is one notable matter, alert or escalation: what, where, when; no
// person, no text of a record.
type Line struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // alert, matter, escalation
	Text string    `json:"text"`
}

// Observation is a sentence written by a rule from the figures.
type Observation struct {
	Rule string `json:"rule"`
	Key  string `json:"key"` // what it is about: a category, a place code, a figure key
	Text string `json:"text"`
}

// Topics are the epidemic-era tags the pipeline gives matters, in the
// brief's order, with the names leaders use.
var Topics = []struct{ Tag, Name string }{
	{"疫情防控", "疫情防控"}, {"健康码", "健康码"}, {"复工复产", "复工复产"},
	{"租金", "租金减免"}, {"物资价格", "物资价格"}, {"返乡人员", "返乡人员"},
}

// matterCounter counts matters (pipeline.MatterReader).
type matterCounter interface {
	Tally(ctx context.Context, region string, bounds []time.Time, by string) ([]pipeline.Tally, error)
	Notable(ctx context.Context, region string, from, to time.Time, limit int) ([]pipeline.Notable, error)
}

// deskFigures counts alerts and cases (desk.Stats).
type deskFigures interface {
	Period(ctx context.Context, by desk.User, region string, from, to time.Time) (desk.PeriodFigures, error)
	Notable(ctx context.Context, by desk.User, region string, from, to time.Time, limit int) ([]desk.NotableAlert, []desk.NotableEscalation, error)
}

// directory lists the desks, whose names name the places (desk.Directory).
type directory interface {
	Desks(ctx context.Context) ([]desk.Desk, error)
}

// Maker makes briefs from the readers of matters and of the desks' figures.
type Maker struct {
	matters matterCounter
	desks   deskFigures
	dir     directory
	now     func() time.Time

	// Populations rate the hotspots per 10,000 residents (nil: by
	// matters only). Set it before the first Make.
	Populations Populations
	// Places names the places that have no desk (the region directory,
	// deploy/regions.yaml). Set it before the first Make.
	Places risk.Places
}

// NewMaker returns a Maker. dir names the places after their desks (see
// Names), read for each brief so that a reloaded directory counts; nil:
// places are shown by code. now is the clock (nil: time.Now).
func NewMaker(matters matterCounter, desks deskFigures, dir directory, now func() time.Time) *Maker {
	if now == nil {
		now = time.Now
	}
	return &Maker{matters: matters, desks: desks, dir: dir, now: now}
}

// levels are the places a brief ranks under a region of each level: the
// next level down and the one below it (pipeline.MatterReader.Tally's by).
var levels = map[string][2]string{
	"province": {"county", "township"},
	"city":     {"county", "township"},
	"county":   {"township", "village"},
	"township": {"village", ""},
	"village":  {"", ""},
}

var levelNames = map[string]string{"county": "县（市、区）", "township": "乡镇（街道）", "village": "村（社区）"}

// prefix is the division-code prefix of a region: 3306 for the city 330600.
func prefix(r risk.Region) string {
	switch r.Level() {
	case "province":
		return r.Code[:2]
	case "city":
		return r.Code[:4]
	case "county":
		return r.Code[:6]
	case "township":
		return r.Code[:9]
	}
	return r.Code
}

// Make makes the brief of region (a division code of 6, 9 or 12 digits)
// for p, as by sees it: by must read figures of region (ErrForbidden
// otherwise, before anything is read). A bad region is ErrInvalid.
func (m *Maker) Make(ctx context.Context, by desk.User, region string, p Period) (*Brief, error) {
	r, err := risk.ParseRegion(region)
	if err != nil {
		return nil, err
	}
	code := prefix(r)
	in := inputs{period: p, history: history[p.Kind], level: r.Level(), pops: m.Populations}
	prev, ya := p.Previous(), p.YearAgo()
	names := Names(nil)
	// The desks' figures first: they check that by may read them.
	if in.desk[0], err = m.desks.Period(ctx, by, code, p.From, p.To); err != nil {
		return nil, err
	}
	// The rest at once: the matters' scans are most of a brief's time,
	// and ClickHouse runs each on a core of its own.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() {
		// One count gives feeds, categories, both levels of places and
		// topics over the history: each scan costs the months it reads.
		in.tallies, errs[0] = m.matters.Tally(ctx, code, p.bounds(in.history), tallyBy(in.level))
	})
	wg.Go(func() {
		if in.yearAgo, errs[1] = m.matters.Tally(ctx, code, []time.Time{ya.From, ya.To}, "source"); errs[1] == nil {
			in.matters, errs[1] = m.matters.Notable(ctx, code, p.From, p.To, notableMatters+1)
		}
	})
	wg.Go(func() {
		for i, q := range []Period{prev, ya} {
			if in.desk[i+1], errs[2] = m.desks.Period(ctx, by, code, q.From, q.To); errs[2] != nil {
				return
			}
		}
		in.alerts, in.escalations, errs[2] = m.desks.Notable(ctx, by, code, p.From, p.To, notableAlerts+1)
	})
	wg.Go(func() {
		if m.dir != nil {
			var list []desk.Desk
			if list, errs[3] = m.dir.Desks(ctx); errs[3] == nil {
				names = Names(list)
			}
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if byDesk := names; len(m.Places) > 0 {
		names = func(code string) string {
			if n := byDesk(code); n != "" {
				return n
			}
			return m.Places[code] // its own name: a village's is joined to its township's below
		}
	}
	b := assemble(in, names)
	b.Region, b.RegionName, b.MadeAt = code, cmp.Or(names(region), names(r.Code), names(code), code), m.now()
	return b, nil
}

// inputs are everything a brief is made of, as read.
type inputs struct {
	period  Period
	history int    // periods before period in tallies
	level   string // of the region
	pops    Populations
	desk    [3]desk.PeriodFigures // this period, the previous one, a year before
	// tallies count by tallyBy(level) over the history and the period,
	// which is the last; yearAgo by feed a year before.
	tallies, yearAgo []pipeline.Tally
	alerts           []desk.NotableAlert
	escalations      []desk.NotableEscalation
	matters          []pipeline.Notable
}

// tallyBy is what a brief of a region of level counts matters by: the
// category, the places of the two levels below (as many as there are) and
// the topics; keys category|place|place|topics.
func tallyBy(level string) string {
	by := "category"
	for _, l := range levels[level] {
		if l != "" {
			by += "+" + l
		}
	}
	return by + "+topics"
}

// assemble computes the brief from what was read, without I/O.
func assemble(in inputs, names func(string) string) *Brief {
	p := in.period
	cur, prev := in.history, in.history-1 // period indexes in tallies
	b := &Brief{Period: p, Previous: p.Previous(), YearAgo: p.YearAgo(), History: in.history,
		Footnote: fmt.Sprintf(footnote, in.history, p.Name(), MinCount)}
	name := func(code string) string { return placeName(code, names) }

	// Per period: feeds, categories, places, sub-places and topics.
	type series = []int
	feeds, cats, places, subs, tags := map[string]series{}, map[string]series{}, map[string]series{}, map[string]series{}, map[string]series{}
	catPlaces := map[string]map[string]int{} // this period
	add := func(m map[string]series, k string, i, n int) {
		if m[k] == nil {
			m[k] = make(series, in.history+1)
		}
		m[k][i] += n
	}
	lv := levels[in.level]
	for _, t := range in.tallies {
		f := strings.Split(t.Key, "|")
		cat, topics, place, sub := f[0], f[len(f)-1], "", ""
		if lv[0] != "" && len(f) > 2 {
			place = f[1]
		}
		if lv[1] != "" && len(f) > 3 {
			sub = f[2]
		}
		add(feeds, string(t.Source), t.Period, t.Count)
		add(feeds, "", t.Period, t.Count)
		add(cats, cat, t.Period, t.Count)
		if place != "" {
			add(places, place, t.Period, t.Count)
		}
		if sub != "" {
			add(subs, sub, t.Period, t.Count)
		}
		if topics != "" {
			for _, tag := range strings.Split(topics, ",") {
				add(tags, tag, t.Period, t.Count)
			}
		}
		if t.Period == cur && place != "" {
			if catPlaces[cat] == nil {
				catPlaces[cat] = map[string]int{}
			}
			catPlaces[cat][place] += t.Count
		}
	}
	at := func(s series, i int) int {
		if s == nil || i < 0 {
			return 0
		}
		return s[i]
	}

	// Headline. A year before counts only where there is data then.
	yaFeeds := map[string]int{}
	for _, t := range in.yearAgo {
		yaFeeds[string(t.Source)] += t.Count
		yaFeeds[""] += t.Count
	}
	yaMatters := yaFeeds[""] > 0
	for _, f := range []struct{ key, name string }{{"", "诉求总量"}, {"hotline", "12345热线"}, {"petition", "信访"}, {"grid", "网格上报"}} {
		fig := Figure{Key: strings.TrimSuffix("matters_"+f.key, "_"), Name: f.name, Current: at(feeds[f.key], cur), Previous: at(feeds[f.key], prev)}
		if yaMatters {
			n := yaFeeds[f.key]
			fig.YearAgo = &n
		}
		b.Headline = append(b.Headline, fig)
	}
	d := in.desk
	yaDesk := d[2].Opened > 0 || len(d[2].Alerts) > 0 || d[2].Settled > 0 || d[2].Escalated > 0 || d[2].Overdue > 0
	deskFig := func(key, name string, get func(desk.PeriodFigures) int) {
		fig := Figure{Key: key, Name: name, Current: get(d[0]), Previous: get(d[1])}
		if yaDesk {
			n := get(d[2])
			fig.YearAgo = &n
		}
		b.Headline = append(b.Headline, fig)
	}
	for _, l := range []risk.Level{risk.LevelRed, risk.LevelOrange, risk.LevelYellow, risk.LevelBlue} {
		deskFig("alerts_"+string(l), levelName[l]+"预警", func(f desk.PeriodFigures) int { return f.Alerts[string(l)] })
	}
	deskFig("cases_opened", "新立案件", func(f desk.PeriodFigures) int { return f.Opened })
	deskFig("cases_settled", "调解成功", func(f desk.PeriodFigures) int { return f.Settled })
	deskFig("cases_settled_first", "首接层级化解", func(f desk.PeriodFigures) int { return f.SettledFirst })
	deskFig("cases_escalated", "上交", func(f desk.PeriodFigures) int { return f.Escalated })
	deskFig("cases_overdue", "超期", func(f desk.PeriodFigures) int { return f.Overdue })
	share := func(f desk.PeriodFigures) *float64 {
		if f.Settled == 0 {
			return nil
		}
		v := 100 * float64(f.SettledFirst) / float64(f.Settled)
		return &v
	}
	b.SettledShare = SharePair{Current: share(d[0]), Previous: share(d[1])}
	if yaDesk {
		b.SettledShare.YearAgo = share(d[2])
	}

	// What is rising, tested against each one's own history.
	rising := func(m map[string]series, nameOf func(string) string) []Rise {
		var out []Rise
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s := m[k]
			hist := s[:cur]
			if ok, pv := rises(s[cur], hist); ok {
				mean, _ := meanVar(hist)
				out = append(out, Rise{Key: k, Name: nameOf(k), Current: s[cur], Previous: at(s, prev), Mean: mean,
					History: slices.Clone(hist), P: pv})
			}
		}
		slices.SortStableFunc(out, func(a, b Rise) int { return cmp.Compare(a.P, b.P) })
		return out[:min(len(out), 5)]
	}
	b.RisingCategories = rising(cats, func(c string) string { return cmp.Or(c, "未分类") })
	for i := range b.RisingCategories {
		r := &b.RisingCategories[i]
		for _, pc := range rankMap(catPlaces[r.Key], 2) {
			r.Places = append(r.Places, Place{Code: pc.Place, Name: name(pc.Place), Current: pc.Count})
		}
	}
	// Hotspots: per 10,000 residents when every place of the level has
	// a population, by matters otherwise.
	hotspots := func(m map[string]series) ([]Place, bool) {
		counts := column(m, cur)
		var out []Place
		for _, pc := range rankMap(counts, len(counts)) {
			out = append(out, Place{Code: pc.Place, Name: name(pc.Place), Current: pc.Count, Previous: at(m[pc.Place], prev),
				Per10k: in.pops.per10k(pc.Place, pc.Count)})
		}
		perResident := in.pops.covers(counts)
		if perResident {
			slices.SortStableFunc(out, func(a, b Place) int { return cmp.Compare(*b.Per10k, *a.Per10k) })
		}
		return out[:min(len(out), 8)], perResident
	}
	if lv[0] != "" {
		b.RisingPlaces = rising(places, name)
		b.PlaceLevel = levelNames[lv[0]]
		b.Hotspots, b.HotspotsPer10k = hotspots(places)
	}
	if lv[1] != "" {
		b.SubLevel = levelNames[lv[1]]
		b.SubHotspots, b.SubHotspotsPer10k = hotspots(subs)
	}

	// Epidemic-era topics, when present this period.
	for _, tp := range Topics {
		if n := at(tags[tp.Tag], cur); n > 0 {
			b.Topics = append(b.Topics, Figure{Key: tp.Tag, Name: tp.Name, Current: n, Previous: at(tags[tp.Tag], prev)})
		}
	}

	b.Notable, b.MoreNotable = notableLines(in, name)
	b.Observations = observe(b)
	return b
}

// column is each key's count in period i.
func column(m map[string][]int, i int) map[string]int {
	out := map[string]int{}
	for k, s := range m {
		if s[i] > 0 {
			out[k] = s[i]
		}
	}
	return out
}

// rankMap ranks counts most first, ties by key, at most limit.
func rankMap(counts map[string]int, limit int) []pipeline.PlaceCount {
	var ts []pipeline.Tally
	for k, n := range counts {
		ts = append(ts, pipeline.Tally{Key: k, Count: n})
	}
	return pipeline.RankPlaces(ts, -1, limit)
}

var levelName = map[risk.Level]string{risk.LevelRed: "红色", risk.LevelOrange: "橙色", risk.LevelYellow: "黄色", risk.LevelBlue: "蓝色"}

var sourceName = map[risk.Source]string{risk.SourceHotline: "12345热线", risk.SourcePetition: "信访", risk.SourceGrid: "网格"}

// detectorName names the detectors (their ids are part of every alert).
var detectorName = map[string]string{
	"extreme_intent": "极端言行", "collective": "群体性风险", "skip_level": "越级", "repeat": "重复诉求",
	"convergence": "多渠道汇聚", "surge": "突增", "trend": "趋势上升", "overdue": "超期",
}

// placeName names a division code: the township's and the village's names
// together (枫桥镇枫源村), the code where no name is known.
func placeName(code string, names func(string) string) string {
	r, err := risk.ParseRegion(code)
	if err != nil {
		return code
	}
	if v := r.Village(); v != "" {
		if n := names(v); n != "" {
			return cmp.Or(names(r.Township()), names(r.County())) + n
		}
		return v
	}
	if t := r.Township(); t != "" {
		return cmp.Or(names(t), t)
	}
	if c := r.County(); c != "" {
		return cmp.Or(names(c), c)
	}
	return cmp.Or(names(r.Code), code)
}

// The most notable lines of each kind a brief lists, so that it fits on
// two pages; the readers are asked for one more, to know there are more.
const notableAlerts, notableMatters, notableEscalations = 5, 4, 3

// notableLines writes the period's red and orange alerts, collective and
// skip-level matters and escalations, one line each, from codes and counts;
// More says how many kinds had more than the brief lists.
func notableLines(in inputs, name func(string) string) ([]Line, bool) {
	var out []Line
	more := len(in.alerts) > notableAlerts || len(in.matters) > notableMatters || len(in.escalations) > notableEscalations
	in.alerts = in.alerts[:min(len(in.alerts), notableAlerts)]
	in.matters = in.matters[:min(len(in.matters), notableMatters)]
	in.escalations = in.escalations[:min(len(in.escalations), notableEscalations)]
	day := func(t time.Time) string { t = t.In(risk.CST); return fmt.Sprintf("%d月%d日", t.Month(), t.Day()) }
	for _, a := range in.alerts {
		out = append(out, Line{At: a.At, Kind: "alert", Text: fmt.Sprintf("%s %s预警：%s，%s，%s", day(a.At), levelName[a.Level],
			cmp.Or(detectorName[a.Detector], a.Detector), cmp.Or(a.Category, "未分类"), name(a.Region))})
	}
	for _, m := range in.matters {
		what := "集体诉求"
		switch {
		case m.Collective && m.Source == risk.SourcePetition:
			what = "集体访"
		case m.SkipLevel:
			what = "越级访"
			if m.RegisterLevel != "" {
				what += "（" + m.RegisterLevel + "级登记）"
			}
		}
		people := ""
		if m.People > 0 {
			people = fmt.Sprintf("，%d人", m.People)
		}
		out = append(out, Line{At: m.OccurredAt, Kind: "matter", Text: fmt.Sprintf("%s %s%s：%s，%s%s", day(m.OccurredAt),
			cmp.Or(sourceName[m.Source], string(m.Source)), what, cmp.Or(m.Category, "未分类"), name(m.Region), people)})
	}
	for _, e := range in.escalations {
		how := "经申请"
		if e.ByClock {
			how = "因超期"
		}
		state := "仍在办理"
		if !e.CaseOpen {
			state = "已办结"
		}
		out = append(out, Line{At: e.At, Kind: "escalation", Text: fmt.Sprintf("%s 上交：%s%s案件%s由%s上交%s，%s", day(e.At),
			levelName[e.Level], cmp.Or(detectorName[e.Kind], e.Kind), how, e.From, e.To, state)})
	}
	slices.SortStableFunc(out, func(a, b Line) int { return a.At.Compare(b.At) })
	return out, more
}
