package detectors_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/schema/schematest"
)

// row is an event as the pipeline stores it, with the fields detectors read.
type row struct {
	source, id, region, county, category, status, level, org string
	version                                                  uint32
	at, updated, deadline, accepted                          time.Time
	persons, subjects                                        []string
	skip, rejected, repeat                                   bool
	petitioners, heads                                       int32
	raw                                                      string // category as sent
	text                                                     string
}

func seed(t *testing.T, conn driver.Conn, rows ...row) {
	t.Helper()
	ctx := context.Background()
	b, err := conn.PrepareBatch(ctx, `INSERT INTO event_versions (source, id, version, ver, updated_at, occurred_at, ingested_at,
		region, county, category, status, register_level, register_org, skip_level, answer_rejected, repeat,
		person_keys, subjects, deadline, accepted_at, petitioner_count, head_count, amount, category_raw, text)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.updated.IsZero() {
			r.updated = r.at
		}
		if r.status == "" {
			r.status = "open"
		}
		if r.persons == nil {
			r.persons = []string{}
		}
		if r.subjects == nil {
			r.subjects = []string{}
		}
		ev := risk.Event{UpdatedAt: r.updated, Version: r.version}
		if err := b.Append(r.source, r.id, r.version, ev.Order(), r.updated, r.at, r.updated,
			r.region, r.county, r.category, r.status, r.level, r.org, u8(r.skip), u8(r.rejected), u8(r.repeat),
			r.persons, r.subjects, epoch(r.deadline), epoch(r.accepted), r.petitioners, r.heads, float64(-1), r.raw, r.text); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func epoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

var t0 = time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func window(fromH, toH float64) risk.Window { return risk.Window{Start: at(fromH), End: at(toH)} }

func detect(t *testing.T, d detectors.Definition, w risk.Window) []risk.Alert {
	t.Helper()
	alerts, err := d.Detect(context.Background(), w)
	if err != nil {
		t.Fatalf("%s: %v", d.Name, err)
	}
	return alerts
}

func ids(a risk.Alert) []string {
	var out []string
	for _, e := range a.Evidence {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

func TestSkipLevel(t *testing.T) {
	conn, _ := schematest.Open(t)
	seed(t, conn,
		// A township's matter at the province: skip-level, orange.
		row{source: "petition", id: "P-prov", region: "330681109000", county: "330681", category: "劳资纠纷", level: "省", org: "浙江省信访局", at: at(1), persons: []string{"k1"}},
		// The same person again, at the national bureau: red, same scope.
		row{source: "petition", id: "P-nat", region: "330681109000", county: "330681", category: "劳资纠纷", level: "国家", org: "国家信访局", at: at(2), persons: []string{"k1"}},
		// A township's matter at the county: the normal place, nothing.
		row{source: "petition", id: "P-county", region: "330681109000", county: "330681", category: "劳资纠纷", level: "县", org: "诸暨市信访局", at: at(1)},
		// A county's matter at the city: one level up, nothing; flagged by upstream: orange.
		row{source: "petition", id: "P-city", region: "330681000000", county: "330681", category: "城乡建设", level: "市", org: "绍兴市信访局", at: at(1)},
		row{source: "petition", id: "P-flag", region: "330681104000", county: "330681", category: "征地拆迁纠纷", level: "县", org: "诸暨市信访局", at: at(1), skip: true},
		// Outside the window.
		row{source: "petition", id: "P-late", region: "330681109000", county: "330681", category: "劳资纠纷", level: "国家", org: "国家信访局", at: at(30)},
		// A deleted record never counts (a petition here only for the test).
		row{source: "petition", id: "P-del", region: "330681109000", county: "330681", category: "劳资纠纷", level: "国家", org: "国家信访局", at: at(1), status: "deleted"},
		// One person at the township's office, weeks later at the county: climbing, yellow.
		row{source: "petition", id: "C-town", region: "330681109201", county: "330681", category: "征地拆迁纠纷", level: "乡镇", org: "枫桥镇人民政府", at: at(-24 * 30), persons: []string{"k2"}},
		row{source: "petition", id: "C-county", region: "330681109201", county: "330681", category: "征地拆迁纠纷", level: "县", org: "诸暨市信访局", at: at(3), persons: []string{"k2"}},
		// Another at the county twice: no climb.
		row{source: "petition", id: "S-1", region: "330681109201", county: "330681", category: "征地拆迁纠纷", level: "县", org: "诸暨市信访局", at: at(-24 * 10), persons: []string{"k3"}},
		row{source: "petition", id: "S-2", region: "330681109201", county: "330681", category: "征地拆迁纠纷", level: "县", org: "诸暨市信访局", at: at(4), persons: []string{"k3"}},
	)
	got := detect(t, detectors.SkipLevel(conn, detectors.SkipLevelConfig{}), window(0, 24))
	var climbs []risk.Alert
	got = slices.DeleteFunc(got, func(a risk.Alert) bool {
		if a.Labels["pattern"] == "climb" {
			climbs = append(climbs, a)
			return true
		}
		return false
	})
	if len(climbs) != 1 || !slices.Equal(ids(climbs[0]), []string{"C-county", "C-town"}) || climbs[0].Level != risk.LevelYellow || climbs[0].Region != "330681109" {
		t.Errorf("climbs %+v; want one yellow, of C-town then C-county, in 330681109", climbs)
	}
	want := map[string]risk.Level{"P-prov": risk.LevelOrange, "P-nat": risk.LevelRed, "P-flag": risk.LevelOrange}
	if len(got) != len(want) {
		t.Fatalf("got %d alerts %v, want %d", len(got), got, len(want))
	}
	scopes := map[string]string{}
	for _, a := range got {
		id := a.Evidence[0].ID
		scopes[id] = a.ScopeKey()
		if a.Level != want[id] {
			t.Errorf("%s: level %s, want %s", id, a.Level, want[id])
		}
		if a.Summary == "" || a.Labels["region"] == "" {
			t.Errorf("%s: summary %q, region %q", id, a.Summary, a.Labels["region"])
		}
	}
	if scopes["P-prov"] != scopes["P-nat"] || scopes["P-prov"] == scopes["P-flag"] {
		t.Errorf("the same person's two skip-level petitions have different scopes")
	}
}

func TestRepeat(t *testing.T) {
	conn, _ := schematest.Open(t)
	seed(t, conn,
		// Person A: hotline twice (the second after an unsatisfying answer) and a petition; known by phone and ID.
		row{source: "hotline", id: "H1", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-200), persons: []string{"phoneA"}},
		row{source: "hotline", id: "H2", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-100), persons: []string{"phoneA"}, rejected: true},
		row{source: "petition", id: "P1", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(3), persons: []string{"idA", "phoneA"}},
		// Person B: three times, but the last one before the window: not this window's news.
		row{source: "hotline", id: "B1", at: at(-300), persons: []string{"B"}},
		row{source: "hotline", id: "B2", at: at(-200), persons: []string{"B"}},
		row{source: "hotline", id: "B3", at: at(-100), persons: []string{"B"}},
		// Person C: twice only. Person D: three times, but one was long ago.
		row{source: "hotline", id: "C1", at: at(-10), persons: []string{"C"}},
		row{source: "grid", id: "C2", at: at(2), persons: []string{"C"}},
		row{source: "hotline", id: "D1", at: at(-24 * 40), persons: []string{"D"}},
		row{source: "hotline", id: "D2", at: at(-10), persons: []string{"D"}},
		row{source: "hotline", id: "D3", at: at(2), persons: []string{"D"}},
		// A repeat delivery of one version is one matter, not two.
		row{source: "hotline", id: "E1", version: 1, at: at(-5), persons: []string{"E"}},
		row{source: "hotline", id: "E1", version: 1, at: at(-5), persons: []string{"E"}},
		row{source: "hotline", id: "E2", at: at(2), persons: []string{"E"}},
	)
	d := detectors.Repeat(conn, detectors.DefaultConfig().Repeat)
	got := detect(t, d, window(0, 24))
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want 1 (person A once, though known by two keys): %+v", len(got), got)
	}
	a := got[0]
	if !slices.Equal(ids(a), []string{"H1", "H2", "P1"}) || a.Level != risk.LevelOrange {
		t.Errorf("alert evidence %v level %s; want [H1 H2 P1] orange (an answer was rejected)", ids(a), a.Level)
	}
	// Running the same window again gives the same alert key.
	if again := detect(t, d, window(0, 24)); len(again) != 1 || again[0].Key() != a.Key() {
		t.Errorf("re-run gave %d alerts with key %v, want the same key %s", len(again), again, a.Key())
	}
}

func TestOverdue(t *testing.T) {
	conn, _ := schematest.Open(t)
	seed(t, conn,
		row{source: "hotline", id: "late", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-100), deadline: at(-2), status: "in_progress"},
		row{source: "hotline", id: "very-late", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-1000), deadline: at(-24 * 10)},
		row{source: "hotline", id: "soon", region: "330681003000", county: "330681", category: "物业纠纷", at: at(-10), deadline: at(30)},
		row{source: "hotline", id: "later", at: at(-10), deadline: at(24 * 5)},
		row{source: "hotline", id: "done", at: at(-100), deadline: at(-2), status: "finished"},
		// A petition accepted 61 days ago without a deadline: past the statutory 60 days.
		row{source: "petition", id: "statutory", region: "330681104000", county: "330681", category: "征地拆迁纠纷", at: at(-24 * 62), accepted: at(-24 * 61)},
		row{source: "petition", id: "in-time", at: at(-24 * 20), accepted: at(-24 * 20)},
		// Late routine orders: a streetlight, and the same from someone who called before.
		row{source: "hotline", id: "routine", region: "330681001000", county: "330681", category: "城乡建设", at: at(-100), deadline: at(-3)},
		row{source: "hotline", id: "routine-again", region: "330681001000", county: "330681", category: "城乡建设", at: at(-100), deadline: at(-3), repeat: true},
	)
	// Run hour by hour, as the scheduler does, over the twelve days before:
	// each record raises when it crosses a line, and its alert rises.
	d := detectors.Overdue(conn, detectors.DefaultConfig().Overdue)
	levels := map[string]risk.Level{}
	raised := map[string]int{}
	queued := map[string]bool{} // raised for review at least once
	for h := -24 * 12.0; h < 12; h++ {
		for _, a := range detect(t, d, window(h, h+1)) {
			id := a.Evidence[0].ID
			levels[id] = levels[id].Max(a.Level)
			raised[id]++
			if !a.Reminder {
				queued[id] = true
				if a.Level == risk.LevelBlue {
					t.Errorf("%s: 将到期 queued for review, want a reminder", id)
				}
			}
		}
	}
	// Late disputes, petitions and repeated matters are early warnings; the
	// routine order late, and every 将到期, only reminders to the desk.
	if wantQueued := map[string]bool{"late": true, "very-late": true, "statutory": true, "routine-again": true}; !maps.Equal(queued, wantQueued) {
		t.Errorf("queued for review: %v, want %v", queued, wantQueued)
	}
	want := map[string]risk.Level{"late": risk.LevelYellow, "very-late": risk.LevelOrange, "soon": risk.LevelBlue, "statutory": risk.LevelYellow,
		"routine": risk.LevelYellow, "routine-again": risk.LevelYellow}
	if len(levels) != len(want) {
		t.Errorf("alerts on %v, want %v", levels, want)
	}
	for id, lv := range want {
		if levels[id] != lv {
			t.Errorf("%s: level %s, want %s", id, levels[id], lv)
		}
	}
	// late: due soon, then overdue; very-late: due soon, overdue, 7 days over.
	if raised["late"] != 2 || raised["very-late"] != 3 || raised["soon"] != 1 {
		t.Errorf("raised %v, want each line crossed once", raised)
	}
}

func TestCollective(t *testing.T) {
	conn, _ := schematest.Open(t)
	seed(t, conn,
		// Six co-signers without groupFlag: collective all the same.
		row{source: "petition", id: "P6", region: "330681104201", county: "330681", category: "征地拆迁纠纷", at: at(1), petitioners: 6},
		// Three petitioners: not collective.
		row{source: "petition", id: "P3", region: "330681104201", county: "330681", category: "征地拆迁纠纷", at: at(1), petitioners: 3},
		// A gathering of 25 reported by the grid, and a second report of it: one red alert.
		row{source: "grid", id: "G25", region: "330681109201", county: "330681", category: "劳资纠纷", raw: "矛盾纠纷/劳资纠纷", at: at(2), heads: 25},
		row{source: "grid", id: "G12", region: "330681109201", county: "330681", category: "劳资纠纷", raw: "矛盾纠纷/劳资纠纷", at: at(3), heads: 12},
		// A power cut reported by many: not a dispute, not a gathering.
		row{source: "grid", id: "POWER", region: "330681109201", county: "330681", category: "城乡建设", raw: "民生服务/停电", at: at(2), heads: 300},
	)
	got := detect(t, detectors.Collective(conn, detectors.DefaultConfig().Collective), window(0, 24))
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2: %+v", len(got), got)
	}
	for _, a := range got {
		switch a.Labels["category"] {
		case "征地拆迁纠纷":
			if !slices.Equal(ids(a), []string{"P6"}) || a.Level != risk.LevelOrange {
				t.Errorf("petition alert %v %s, want [P6] orange", ids(a), a.Level)
			}
		case "劳资纠纷":
			if !slices.Equal(ids(a), []string{"G12", "G25"}) || a.Level != risk.LevelRed || a.Numbers["people"] != 25 {
				t.Errorf("gathering alert %v %s %v, want [G12 G25] red, 25 people", ids(a), a.Level, a.Numbers)
			}
		default:
			t.Errorf("unexpected alert %+v", a)
		}
	}
}

func TestCollectiveSubject(t *testing.T) {
	conn, _ := schematest.Open(t)
	var rows []row
	add := func(id, subject string, h float64, person, status string) {
		rows = append(rows, row{source: "hotline", id: id, region: "330681004201", county: "330681", category: "劳动和社会保障",
			at: at(h), persons: []string{person}, subjects: []string{subject}, status: status})
	}
	for i := range 6 {
		// Six workers of one factory within three days, the last in the window.
		add(fmt.Sprint("firm", i), "firm:兴达", float64(2-9*i), fmt.Sprint("worker", i), "")
		// One person calling six times about another.
		add(fmt.Sprint("one", i), "firm:恒丰", float64(2-12*i), "same", "")
		// Six about a project, all before the window.
		add(fmt.Sprint("old", i), "project:330681004:安置房", float64(-1-10*i), fmt.Sprint("p", i), "")
		// Six about a subject, one of them deleted upstream.
		add(fmt.Sprint("del", i), "firm:鑫源", float64(2-10*i), fmt.Sprint("d", i), map[bool]string{true: "deleted"}[i == 0])
	}
	// A busy estate: six owners in three days, as usual for it.
	for i := range 46 {
		add(fmt.Sprint("estate", i), "estate:金色家园", float64(2-14*i), fmt.Sprint("owner", i), "")
	}
	// A big employer named by three of its workers in three weeks, then by
	// six within three days: a rate known from three persons could be
	// twice as high, and a county tests hundreds of subjects a run.
	for i := range 3 {
		add(fmt.Sprint("big-before", i), "firm:海亮", float64(-100-130*i), fmt.Sprint("big-b", i), "")
	}
	for i := range 6 {
		add(fmt.Sprint("big", i), "firm:海亮", float64(2-9*i), fmt.Sprint("big-w", i), "")
	}
	// A workshop named once in three weeks, then by seven of its workers.
	add("small-before", "firm:利丰", -200, "small-b", "")
	for i := range 7 {
		add(fmt.Sprint("small", i), "firm:利丰", float64(3-7*i), fmt.Sprint("small-w", i), "")
	}
	// An estate new to the baseline, six owners in three days about three
	// things: its noise, its lights, its parking.
	for i, category := range []string{"生态环境", "城乡建设", "物业纠纷", "生态环境", "城乡建设", "物业纠纷"} {
		rows = append(rows, row{source: "hotline", id: fmt.Sprint("three", i), region: "330681004201", county: "330681", category: category,
			at: at(float64(1 - 9*i)), persons: []string{fmt.Sprint("three-o", i)}, subjects: []string{"estate:望云国际"}})
	}
	seed(t, conn, rows...)
	got := detect(t, detectors.Collective(conn, detectors.DefaultConfig().Collective), window(0, 24))
	var subjects []string
	for _, a := range got {
		subjects = append(subjects, a.Labels["subject"])
	}
	slices.Sort(subjects)
	if !slices.Equal(subjects, []string{"firm:兴达", "firm:利丰"}) {
		t.Fatalf("alerts on %v, want firm:兴达 and firm:利丰: not the busy estate, the big employer's six nor the estate's three matters", subjects)
	}
	a := got[slices.IndexFunc(got, func(a risk.Alert) bool { return a.Labels["subject"] == "firm:兴达" })]
	if a.Labels["subject"] != "firm:兴达" || a.Level != risk.LevelOrange || a.Numbers["persons"] != 6 || len(a.Evidence) != 6 {
		t.Errorf("alert %v %s %v, %d evidence; want firm:兴达 orange, 6 persons and 6 records", a.Labels, a.Level, a.Numbers, len(a.Evidence))
	}
	if !strings.Contains(a.Summary, "企业 兴达") {
		t.Errorf("summary %q does not name the firm", a.Summary)
	}
}

func TestExtreme(t *testing.T) {
	conn, _ := schematest.Open(t)
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// updated doubles as ingested_at in the seed.
	seed(t, conn,
		row{source: "hotline", id: "jump", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-30), updated: at(1), text: "来电人称老板再不发工资就从工地楼顶跳下去，不想活了。"},
		row{source: "hotline", id: "beijing", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-30), updated: at(1), text: "再不给钱我们就去北京上访！"},
		row{source: "hotline", id: "price", region: "330681001000", county: "330681", category: "消费纠纷", at: at(-30), updated: at(1), text: "商场搞跳楼价大甩卖，买到的北京烤鸭变质了。"},
		row{source: "hotline", id: "street", region: "330681001000", county: "330681", category: "城乡建设", at: at(-30), updated: at(1), text: "北京路路灯不亮，晚上堵车严重。"},
		row{source: "grid", id: "deleted", region: "330681109201", county: "330681", category: "劳资纠纷", at: at(-30), updated: at(1), text: "扬言要去堵镇政府大门", status: "deleted"},
		row{source: "hotline", id: "earlier", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-30), updated: at(-5), text: "说要跳楼"},
	)
	d := detectors.Extreme(conn, lex)
	got := detect(t, d, risk.Window{Start: at(1), End: at(1).Add(d.Window)})
	var found []string
	for _, a := range got {
		found = append(found, a.Evidence[0].ID)
		if a.Level != risk.LevelRed || len(a.Words) == 0 || a.Summary == "" {
			t.Errorf("%s: level %s, words %v, summary %q; want red with words", a.Evidence[0].ID, a.Level, a.Words, a.Summary)
		}
	}
	slices.Sort(found)
	if !slices.Equal(found, []string{"beijing", "jump"}) {
		t.Errorf("extreme intent in %v, want [beijing jump]: not prices, streets, deleted or earlier records", found)
	}
	// Found again by the next run's lookback: the same alert keys.
	again := detect(t, d, risk.Window{Start: at(1).Add(d.Window), End: at(1).Add(2 * d.Window)})
	if len(again) != 2 || again[0].Key() != got[0].Key() && again[0].Key() != got[1].Key() {
		t.Errorf("the overlapping run gave %d alerts with other keys", len(again))
	}
}

func TestSurge(t *testing.T) {
	conn, _ := schematest.Open(t)
	// Four weeks of a quiet township: 0–2 labour complaints an hour by day,
	// none at night; then 15 in one afternoon hour. Elsewhere, 2 in an hour
	// where there is usually none: improbable, but not a surge.
	start := t0.AddDate(0, 0, -28)
	var rows []row
	n := 0
	for h := start; h.Before(t0); h = h.Add(time.Hour) {
		local := h.In(risk.CST).Hour()
		if local < 8 || local > 18 {
			continue
		}
		for range n % 3 {
			rows = append(rows, row{source: "hotline", id: fmt.Sprint("bg-", len(rows)), region: "330681109201", county: "330681", category: "劳资纠纷", at: h.Add(10 * time.Minute)})
		}
		n++
	}
	surgeHour := at(6) // 14:00 in UTC+8
	for i := range 15 {
		rows = append(rows, row{source: "hotline", id: fmt.Sprint("s-", i), region: "330681109201", county: "330681", category: "劳资纠纷", at: surgeHour.Add(time.Duration(i) * time.Minute)})
	}
	for i := range 2 {
		rows = append(rows, row{source: "hotline", id: fmt.Sprint("q-", i), region: "330681104201", county: "330681", category: "物业纠纷", at: surgeHour.Add(time.Duration(i) * time.Minute)})
	}
	seed(t, conn, rows...)

	d := detectors.Surge(conn, detectors.DefaultConfig().Surge)
	got := detect(t, d, risk.Window{Start: surgeHour, End: surgeHour.Add(time.Hour)})
	levels := map[string]risk.Level{}
	for _, a := range got {
		if a.Labels["category"] != "劳资纠纷" || len(a.Evidence) != 15 {
			t.Errorf("unexpected surge alert %+v", a)
		}
		levels[a.Labels["level"]] = a.Level
	}
	// The village sees the jump; the township, with the same matters, is
	// explained by it and not told twice.
	if _, ok := levels["village"]; !ok || len(levels) != 1 {
		t.Errorf("surges at %v: want the village's alone", levels)
	}
	// An ordinary hour the day before raises nothing.
	if quiet := detect(t, d, risk.Window{Start: surgeHour.Add(-24 * time.Hour), End: surgeHour.Add(-23 * time.Hour)}); len(quiet) != 0 {
		t.Errorf("an ordinary hour raised %d surge alerts", len(quiet))
	}
	// As serve runs it, with the region directory, the alert names its place.
	cfg := detectors.DefaultConfig()
	cfg.Places = risk.Places{"330681109": "枫桥镇", "330681109201": "枫源村"}
	i := slices.IndexFunc(detectors.All(conn, cfg, nil), func(d detectors.Definition) bool { return d.Name == "surge" })
	named := detect(t, detectors.All(conn, cfg, nil)[i], risk.Window{Start: surgeHour, End: surgeHour.Add(time.Hour)})
	if len(named) != 1 || !strings.HasPrefix(named[0].Summary, "突增：枫桥镇枫源村 劳资纠纷") {
		t.Errorf("named surge alerts %+v: want one whose summary begins 突增：枫桥镇枫源村 劳资纠纷", named)
	}
}

func TestSurgeQuietStart(t *testing.T) {
	conn, _ := schematest.Open(t)
	// 诸暨 has four weeks of data; 杭州's 上城区 joins the feeds three days
	// before a busy hour: its hours before that are unknown, not quiet.
	var rows []row
	background := func(region, county string, from time.Time) {
		for h := from; h.Before(t0); h = h.Add(time.Hour) {
			if l := h.In(risk.CST).Hour(); l >= 8 && l <= 18 && h.Hour()%2 == 0 {
				rows = append(rows, row{source: "hotline", id: fmt.Sprint("bg-", len(rows)), region: region, county: county, category: "劳资纠纷", at: h.Add(10 * time.Minute)})
			}
		}
	}
	background("330681109201", "330681", t0.AddDate(0, 0, -28))
	background("330102101201", "330102", t0.AddDate(0, 0, -3))
	busy := at(6)
	for i := range 15 {
		rows = append(rows, row{source: "hotline", id: fmt.Sprint("s-", i), region: "330102101201", county: "330102", category: "劳资纠纷", at: busy.Add(time.Duration(i) * time.Minute)})
	}
	seed(t, conn, rows...)
	d := detectors.Surge(conn, detectors.DefaultConfig().Surge)
	if got := detect(t, d, risk.Window{Start: busy, End: busy.Add(time.Hour)}); len(got) != 0 {
		t.Errorf("a county with three days of data raised %d surges, the first at %s", len(got), got[0].Labels["region"])
	}
}

func TestConvergence(t *testing.T) {
	conn, _ := schematest.Open(t)
	seed(t, conn,
		// One person: hotline, then grid, then a petition in the window (known there by ID and phone).
		row{source: "hotline", id: "H", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(-100), persons: []string{"phoneA"}},
		row{source: "grid", id: "G", region: "330681109201", county: "330681", category: "劳资纠纷", at: at(-50), persons: []string{"phoneA"}},
		row{source: "petition", id: "P", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(2), persons: []string{"idA", "phoneA"}},
		// Another: twice by hotline only.
		row{source: "hotline", id: "B1", at: at(-10), persons: []string{"B"}},
		row{source: "hotline", id: "B2", at: at(2), persons: []string{"B"}},
		// Another: two channels, but more than 14 days apart.
		row{source: "hotline", id: "C1", at: at(-24 * 20), persons: []string{"C"}},
		row{source: "grid", id: "C2", at: at(2), persons: []string{"C"}},
	)
	got := detect(t, detectors.Convergence(conn, detectors.DefaultConfig().Convergence), window(0, 24))
	if len(got) != 1 || !slices.Equal(ids(got[0]), []string{"G", "H", "P"}) || got[0].Level != risk.LevelOrange {
		t.Fatalf("got %+v, want one orange alert on G, H, P", got)
	}
}

func TestConvergenceSubject(t *testing.T) {
	conn, _ := schematest.Open(t)
	estate := func(source, id, person, category string, h float64, text string) row {
		return row{source: source, id: id, region: "330681001000", county: "330681", category: category, at: at(h),
			persons: []string{person}, subjects: []string{"estate:金色家园"}, text: text}
	}
	const parking = "金色家园开发商承诺的地下车位至今没有交付，物业也不给说法。"
	rows := []row{
		// Two owners, the hotline then a petition in the window, one matter.
		estate("hotline", "H1", "owner1", "城乡建设", -100, parking),
		estate("petition", "P1", "owner2", "城乡建设", 3, "金色家园业主反映开发商未按合同交付地下车位，多次协商无果。"),
		// Its broken lights by the hotline: the same estate and category, another matter.
		estate("hotline", "H3", "owner5", "城乡建设", -20, "反映金色家园楼道灯坏了三个月没人修，物业费却年年涨。"),
		// The grid worker on its parking: another category, another matter.
		estate("grid", "G1", "owner3", "生态环境", 4, parking),
		// A call about its road: another category again.
		estate("hotline", "H2", "owner4", "交通运输", 5, parking),
		// A firm named by a caller and a grid worker: everyday business
		// until someone petitions.
		{source: "hotline", id: "F1", region: "330681001000", county: "330681", category: "劳资纠纷", at: at(-30), persons: []string{"w1"}, subjects: []string{"firm:兴达"}, text: "兴达拖欠工资"},
		{source: "grid", id: "F2", region: "330681001000", county: "330681", category: "劳资纠纷", at: at(6), persons: []string{"w2"}, subjects: []string{"firm:兴达"}, text: "兴达拖欠工资"},
	}
	wages := func(source, id, person, firm string, h float64, text string) row {
		return row{source: source, id: id, region: "330681004000", county: "330681", category: "劳资纠纷", at: at(h),
			persons: []string{person}, subjects: []string{"firm:" + firm}, text: strings.ReplaceAll(text, "{公司}", "诸暨市"+firm+"针织有限公司")}
	}
	const (
		call     = "来电人反映其在店口镇{公司}务工，公司拖欠其%d个月工资约%d万元，多次讨要未果，希望劳动监察部门介入。"
		petition = "{公司}拖欠%d名工人工资约%d万元，多次向镇里反映未果。要求{公司}支付拖欠工资。"
	)
	// A fortnight of wage complaints about the county's firms, in the
	// words every wage complaint uses.
	for i := range 40 {
		firm := string([]rune("天马利丰宏昌金诚博远振华东升万和新力裕隆德盛长虹金鹰龙腾凯达顺发荣昌宏达鸿运中天精工")[i%20:][:2])
		text := fmt.Sprintf(call, 2+i%5, 1+i%30)
		if i%4 == 0 {
			text = fmt.Sprintf(petition, 2+i%5, 3+i%20)
		}
		rows = append(rows, wages("hotline", fmt.Sprint("bg", i), fmt.Sprint("bgw", i), firm+fmt.Sprint(i), float64(-300+7*i), text))
	}
	rows = append(rows,
		// A big employer: one worker calls about their wages, another
		// petitions about theirs. The same firm and category in the same
		// stock words: two workers' own matters, not one dispute.
		wages("hotline", "BIG1", "w3", "海亮", -60, fmt.Sprintf(call, 3, 2)),
		wages("petition", "BIG2", "w4", "海亮", 2, fmt.Sprintf(petition, 4, 12)),
		// A firm whose owner ran: its workers by the hotline, then at the
		// petition office, about the same seized factory.
		wages("hotline", "RUN1", "w5", "鑫源", -40, "{公司}老板跑路了，厂房和设备都被法院查封，三百多名工人的工资没人管。"),
		wages("petition", "RUN2", "w6", "鑫源", 7, "{公司}老板跑路，厂房设备已被法院查封，工人工资至今无人过问。要求{公司}支付拖欠工资。"),
	)
	seed(t, conn, rows...)
	got := detect(t, detectors.Convergence(conn, detectors.DefaultConfig().Convergence), window(0, 24))
	bySubject := map[string]risk.Alert{}
	for _, a := range got {
		bySubject[a.Labels["subject"]] = a
	}
	if len(got) != 2 || !slices.Equal(ids(bySubject["estate:金色家园"]), []string{"H1", "P1"}) || !slices.Equal(ids(bySubject["firm:鑫源"]), []string{"RUN1", "RUN2"}) {
		t.Fatalf("got %+v, want two alerts: the estate's parking (H1, P1) and the seized firm (RUN1, RUN2), not the big employer's two workers", got)
	}
	a := bySubject["estate:金色家园"]
	if a.Level != risk.LevelYellow || !strings.Contains(a.Summary, "小区 金色家园") || !strings.Contains(a.Summary, "12345热线、信访") {
		t.Errorf("%s, summary %q: want yellow, the estate and the channels", a.Level, a.Summary)
	}
}

func TestTrend(t *testing.T) {
	conn, _ := schematest.Open(t)
	end := t0
	const week = 7 * 24 * time.Hour
	var rows []row
	// plant adds weekly counts, oldest week first, ending at end; each
	// matter's first version is sent when it is raised, or at sent when
	// that is later (a backfill: older matters arrive with a later version).
	plant := func(region, category string, sent time.Time, weekly ...int) {
		if weekly[0] > 0 { // and one matter in the week before: history that covers the weeks compared
			at := end.Add(-time.Duration(len(weekly)+1) * week)
			rows = append(rows, row{source: "hotline", id: region + "-" + category + "-old", region: region, county: "330681", category: category, at: at, updated: later(at, sent)})
		}
		for i, n := range weekly {
			weekStart := end.Add(-time.Duration(len(weekly)-i) * week)
			for j := range n {
				at := weekStart.Add(time.Duration(j)*3*time.Hour + time.Hour)
				rows = append(rows, row{source: "hotline", id: fmt.Sprintf("%s-%s-%d-%d", region, category, i, j), region: region, county: "330681", category: category,
					at: at, updated: later(at, sent)})
			}
		}
	}
	plant("330681109000", "劳资纠纷", time.Time{}, 2, 2, 6, 15)    // a sustained rise
	plant("330681003000", "物业纠纷", time.Time{}, 5, 6, 5, 5)     // flat
	plant("330681104000", "征地拆迁纠纷", time.Time{}, 2, 2, 2, 15)  // one odd week: a surge's business, not a trend
	plant("330681110000", "交通运输", time.Time{}, 10, 10, 12, 32) // one odd week after a slightly busier one: not a rise for two weeks
	plant("330681001000", "商贸旅游", time.Time{}, 20, 20, 31, 48) // a busy place rising for two weeks
	plant("330681002000", "劳资纠纷", time.Time{}, 6, 7, 9, 16)    // rising, but not beyond chance over two weeks of 6 and 7
	plant("330681002000", "城乡建设", time.Time{}, 8, 7, 9, 8)     // a busy place's noise
	// The hotline backfilled into 330681006 from 15 days ago: the older
	// matters there are only those still being handled then.
	plant("330681006000", "劳资纠纷", end.Add(-15*24*time.Hour), 1, 2, 6, 12)
	// A category the hotline began to use in the third week.
	plant("330681109000", "疫情防控", time.Time{}, 0, 0, 3, 9)
	seed(t, conn, rows...)

	trend := detectors.Trend(conn, detectors.DefaultConfig().Trend)
	last := risk.Window{Start: end.Add(-24 * time.Hour), End: end}
	got := detect(t, trend, last)
	if len(got) != 2 || got[0].Labels["region"] != "330681001" || got[1].Labels["region"] != "330681109" || got[1].Labels["category"] != "劳资纠纷" {
		t.Fatalf("got %+v, want trends in 330681001 and 330681109 劳资纠纷 only: no rise out of weeks before a feed covered a township or a category", got)
	}
	if a := got[1]; a.Level != risk.LevelOrange || len(a.Evidence) != 15 {
		t.Errorf("330681109's trend: %s with %d matters; want orange (15 against a baseline of 2) with the last week's 15", a.Level, len(a.Evidence))
	}
	if a := got[0]; a.Level != risk.LevelYellow || !strings.Contains(a.Summary, "20、20、31、48") {
		t.Errorf("330681001's trend: %s %q, want yellow (48 against a baseline of 20) with its weekly counts", a.Level, a.Summary)
	}
	// Staff are told what is silent for want of history, and from when it is compared.
	note, err := trend.History(t.Context(), last)
	if err != nil {
		t.Fatal(err)
	}
	ready := end.Add(-2*week + time.Hour + 4*week).In(risk.CST).Format("2006-01-02") // the new category's first matter, four weeks on
	if !strings.Contains(note, "2个乡镇×类别") || !strings.Contains(note, ready) {
		t.Errorf("history note %q: want 2 series (the backfilled township, the new category), all comparable from %s", note, ready)
	}
	// With less history than the weeks compared, nothing: the weeks before the data are unknown.
	early := risk.Window{Start: end.Add(-8*24*time.Hour - time.Hour), End: end.Add(-7*24*time.Hour - time.Hour)} // the history begins an hour after its first week
	if got := detect(t, trend, early); len(got) != 0 {
		t.Errorf("with 3 of 4 weeks of history: %d trend alerts, want 0", len(got))
	}
	if note, _ := trend.History(t.Context(), early); !strings.Contains(note, "历史不足4周") {
		t.Errorf("history note with 3 of 4 weeks: %q, want it to say so", note)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestBacktestNeverCitesDeletedOrSuperseded: a backtest reads the records
// as they stand, so a record deleted upstream after it was raised, or
// whose words a newer version took back, is no evidence.
func TestBacktestNeverCitesDeletedOrSuperseded(t *testing.T) {
	conn, _ := schematest.Open(t)
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	text := "来电人称老板再不发工资就从工地楼顶跳下去，不想活了。"
	v := func(id string, version uint32, updated float64, text, status string) row {
		return row{source: "grid", id: id, version: version, region: "330681109201", county: "330681", category: "劳资纠纷",
			at: at(-30), updated: at(updated), text: text, status: status}
	}
	seed(t, conn,
		v("kept", 1, -29, text, ""),
		v("deleted", 1, -29, text, ""), v("deleted", 2, 5, text, "deleted"), // grid status 06, days later
		v("corrected", 1, -29, text, ""), v("corrected", 2, -20, "来电反映工资发放时间，已解释。", ""),
	)
	runs, err := detectors.Backtest(t.Context(), []detectors.Definition{detectors.Extreme(conn, lex)}, at(-48), at(0), detectors.BacktestConfig{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	var cited []string
	for _, alerts := range runs[0].Alerts {
		for _, a := range alerts {
			for _, e := range a.Evidence {
				cited = append(cited, e.ID)
			}
		}
	}
	if !slices.Equal(cited, []string{"kept"}) {
		t.Errorf("the backtest cited %v, want [kept]: never a deleted record or a superseded version", cited)
	}
}
