package brief_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// at reads a time of the centres' calendar.
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, risk.CST)
	if err != nil {
		panic(err)
	}
	return t
}

// desks name the places of the test data set.
type desks []desk.Desk

func (d desks) Desks(context.Context) ([]desk.Desk, error) { return d, nil }

var directory = desks{
	{Name: "诸暨市社会矛盾纠纷调处化解中心", Region: "330681"}, {Name: "枫桥镇综治中心", Region: "330681109"}, {Name: "枫源村调委会", Region: "330681109201"},
	{Name: "店口镇综治中心", Region: "330681104"}, {Name: "湄池村人民调解委员会", Region: "330681104201"},
	{Name: "暨阳街道综治中心", Region: "330681001"}, {Name: "东二社区调委会", Region: "330681001001"},
}

// fixture is a brief maker over a fresh ClickHouse and PostgreSQL.
type fixture struct {
	maker *brief.Maker
	parts desk.Parts
	conn  driver.Conn
	pool  *pgxpool.Pool
	n     int // records written, for their ids
}

func setup(t *testing.T) *fixture {
	t.Helper()
	conn, _ := schematest.Open(t)
	pool, _ := schematest.OpenPostgres(t)
	now := at("2020-03-05 09:00")
	parts, err := desk.New(pool, desk.DefaultConfig(), desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{conn: conn, pool: pool, parts: parts}
	f.maker = brief.NewMaker(pipeline.NewMatterReader(conn), parts.Stats, directory, func() time.Time { return now })
	return f
}

// matters writes n records of one feed, category and region raised at t,
// each quoting a person by name and phone, as records do.
func (f *fixture) matters(t *testing.T, n int, src risk.Source, category, region string, when time.Time, mod func(*risk.Event)) {
	t.Helper()
	var events []pipeline.Stored
	for range n {
		f.n++
		e := risk.Event{Source: src, ID: fmt.Sprintf("R-%d", f.n), Version: 1, UpdatedAt: when.UTC(), OccurredAt: when.UTC(),
			Region: risk.Region{Code: region}, Category: category, Kind: "投诉", Status: risk.StatusOpen, HeadCount: -1, PetitionerCount: -1, Amount: -1,
			Title: "张三反映欠薪", Text: "张三，电话13812345678，身份证330681198001011234，反映被拖欠工资", Address: "枫桥镇",
			Persons: []risk.Person{{Role: "caller", Name: "张三", Phone: "13812345678", PhoneKey: "pk-zhang"}}}
		if mod != nil {
			mod(&e)
		}
		events = append(events, pipeline.Stored{Event: e, Topic: "t", Offset: int64(f.n)})
	}
	if err := pipeline.NewEventWriter(f.conn).WriteEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

// seed writes the week of 24 February 2020 in 诸暨 and its history, worked
// out by hand in TestBrief.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	week := at("2020-02-24 00:00")
	// Eight weeks of history: two wage disputes a week in 枫源村 and six
	// property disputes a week in 东二社区 (the grid's reports).
	for i := 1; i <= 8; i++ {
		w := week.AddDate(0, 0, -7*i)
		var mod func(*risk.Event)
		if i == 1 {
			mod = func(e *risk.Event) { e.Tags = []string{"复工复产"} }
		}
		f.matters(t, 2, risk.SourceHotline, "劳资纠纷", "330681109201", w.Add(34*time.Hour), mod)
		f.matters(t, 6, risk.SourceGrid, "物业纠纷", "330681001001", w.Add(60*time.Hour), nil)
	}
	// This week: twelve wage disputes, seven in 枫源村 (two about 复工复产),
	// four calls and a collective petition of 30 in 湄池村; six property
	// disputes as usual, the last on Sunday 23:59.
	f.matters(t, 5, risk.SourceHotline, "劳资纠纷", "330681109201", week.Add(26*time.Hour), nil)
	f.matters(t, 2, risk.SourceHotline, "劳资纠纷", "330681109201", week.Add(28*time.Hour), func(e *risk.Event) { e.Tags = []string{"复工复产"} })
	f.matters(t, 4, risk.SourceHotline, "劳资纠纷", "330681104201", week.Add(50*time.Hour), nil)
	f.matters(t, 1, risk.SourcePetition, "劳资纠纷", "330681104201", week.Add(52*time.Hour), func(e *risk.Event) {
		e.Collective, e.PetitionerCount, e.HeadCount, e.RegisterLevel = true, 30, 30, "县"
	})
	f.matters(t, 5, risk.SourceGrid, "物业纠纷", "330681001001", week.Add(60*time.Hour), nil)
	f.matters(t, 1, risk.SourceGrid, "物业纠纷", "330681001001", at("2020-03-01 23:59"), nil)
	// Next Monday 00:00: not this week.
	f.matters(t, 1, risk.SourceHotline, "劳资纠纷", "330681109201", at("2020-03-02 00:00"), nil)
	// A year before (52 weeks: 25 February 2019): three calls.
	f.matters(t, 3, risk.SourceHotline, "劳资纠纷", "330681109201", at("2019-02-26 10:00"), nil)

	f.exec(t, `INSERT INTO desks (id, name, tier, region) VALUES ('county', '诸暨市矛调中心', 'county', '330681'),
		('fengqiao', '枫桥镇综治中心', 'township', '330681109')`)
	for _, a := range []struct {
		key, level, created string
	}{{"A1", "red", "2020-02-25 10:00"}, {"A2", "blue", "2020-02-26 10:00"}, {"A3", "orange", "2020-02-20 10:00"}} {
		f.exec(t, `INSERT INTO alerts (key, scope_key, detector, level, region, category, person, labels, window_start, window_end,
			first_seen, last_seen, summary, created_at) VALUES ($1, $1, 'surge', $2, '330681109201', '劳资纠纷', 'pk-zhang', '{}', $3, $3, $3, $3,
			'张三等反映欠薪 13812345678', $3)`, a.key, a.level, at(a.created))
	}
	// Case 1: opened and settled this week where it was received. Case 2:
	// opened last week, moved up by the clock this week, due on Friday and
	// still open: overdue.
	f.exec(t, `INSERT INTO cases (id, desk_id, first_desk_id, status, level, kind, title, region, received_at, due_at, created_at, closed_at, escalations)
		VALUES (1, 'fengqiao', 'fengqiao', 'settled', 'red', 'surge', '李四 13900001111 欠薪', '330681109201', $1, $2, $1, $3, 0),
		(2, 'county', 'fengqiao', 'mediating', 'orange', 'collective', '李四等欠薪', '330681109201', $4, $5, $6, NULL, 1)`,
		at("2020-02-25 11:00"), at("2020-03-10 17:30"), at("2020-02-27 16:00"), at("2020-02-26 09:00"), at("2020-02-28 17:30"), at("2020-02-18 09:00"))
	f.exec(t, `INSERT INTO escalations (case_id, from_desk, to_desk, reason, at) VALUES (2, 'fengqiao', 'county', '超期未受理', $1)`, at("2020-02-26 09:00"))
}

var leader = desk.User{Username: "chen", Role: desk.RoleLeader, Jurisdiction: "330681"}

// TestBrief makes the county's brief of the week of 24 February 2020 and
// checks its figures, worked out by hand from seed.
func TestBrief(t *testing.T) {
	f := setup(t)
	f.seed(t)
	ctx := context.Background()
	p, err := brief.PeriodAt("week", at("2020-02-28 12:00"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.maker.Make(ctx, leader, "330681", p)
	if err != nil {
		t.Fatal(err)
	}
	figs := map[string]string{}
	for _, x := range b.Headline {
		figs[x.Key] = fmt.Sprintf("%d/%d/%s", x.Current, x.Previous, countOrDash(x.YearAgo))
	}
	want := map[string]string{
		// this week / last week / 52 weeks before
		"matters": "18/8/3", "matters_hotline": "11/2/3", "matters_petition": "1/0/0", "matters_grid": "6/6/0",
		// no alert or case a year before: no comparison
		"alerts_red": "1/0/—", "alerts_orange": "0/1/—", "alerts_yellow": "0/0/—", "alerts_blue": "1/0/—",
		"cases_opened": "1/1/—", "cases_settled": "1/0/—", "cases_settled_first": "1/0/—", "cases_escalated": "1/0/—", "cases_overdue": "1/0/—",
	}
	if fmt.Sprint(figs) != fmt.Sprint(want) {
		t.Errorf("headline:\n got %v\nwant %v", figs, want)
	}
	if s := b.SettledShare; s.Current == nil || *s.Current != 100 || s.Previous != nil {
		t.Errorf("矛盾不上交率 = %+v, want 100%% and none last week", s)
	}

	// Rising: wage disputes (2 a week, now 12); 店口镇 (nothing, now 5)
	// and 枫桥镇 (2 a week, now 7). Property disputes (6, as always) and
	// 暨阳街道 do not rise although they are as large.
	var rising []string
	for _, r := range append(b.RisingCategories, b.RisingPlaces...) {
		rising = append(rising, fmt.Sprintf("%s %d/%d mean %s", r.Name, r.Current, r.Previous, fmt.Sprint(r.Mean)))
	}
	if want := []string{"劳资纠纷 12/2 mean 2", "店口镇 5/0 mean 0", "枫桥镇 7/2 mean 2"}; !slices.Equal(rising, want) {
		t.Errorf("rising:\n got %q\nwant %q", rising, want)
	}
	var obs []string
	for _, o := range b.Observations {
		obs = append(obs, o.Text)
	}
	wantObs := []string{
		"劳资纠纷类诉求12件，高于此前8周平均（2件），环比上升500%，集中在枫桥镇（7件）、店口镇（5件）",
		"店口镇诉求5件，高于此前8周平均（0件）",
		"枫桥镇诉求7件，高于此前8周平均（2件），环比上升250%",
	}
	if !slices.Equal(obs, wantObs) {
		t.Errorf("observations:\n got %q\nwant %q", obs, wantObs)
	}
	var spots []string
	for _, s := range b.Hotspots {
		spots = append(spots, fmt.Sprintf("%s %d/%d", s.Name, s.Current, s.Previous))
	}
	if want := []string{"枫桥镇 7/2", "暨阳街道 6/6", "店口镇 5/0"}; !slices.Equal(spots, want) {
		t.Errorf("hotspots: %q, want %q", spots, want)
	}
	if len(b.SubHotspots) != 3 || b.SubHotspots[0].Name != "枫桥镇枫源村" {
		t.Errorf("villages: %+v", b.SubHotspots)
	}
	if len(b.Topics) != 1 || b.Topics[0].Name != "复工复产" || b.Topics[0].Current != 2 || b.Topics[0].Previous != 2 {
		t.Errorf("topics: %+v, want 复工复产 2 this week and 2 last", b.Topics)
	}
	var lines []string
	for _, l := range b.Notable {
		lines = append(lines, l.Text)
	}
	wantLines := []string{
		"2月25日 红色预警：突增，劳资纠纷，枫桥镇枫源村",
		"2月26日 信访集体访：劳资纠纷，店口镇湄池村，30人",                 // 04:00
		"2月26日 上交：橙色群体性风险案件因超期由枫桥镇综治中心上交诸暨市矛调中心，仍在办理", // 09:00
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("notable:\n got %q\nwant %q", lines, wantLines)
	}

	// Every format, without a person: no name, phone or ID number of the
	// records, alerts or cases.
	for _, format := range brief.Formats {
		var buf bytes.Buffer
		if err := brief.Write(&buf, b, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, personal := range []string{"张三", "李四", "138", "139", "330681198001011234", "pk-zhang"} {
			if strings.Contains(out, personal) {
				t.Errorf("%s brief contains %q", format, personal)
			}
		}
		if !strings.Contains(out, "劳资纠纷") {
			t.Errorf("%s brief lacks the rising category", format)
		}
		if format == "json" {
			var back brief.Brief
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Headline) != len(b.Headline) {
				t.Errorf("json: %v, %d figures", err, len(back.Headline))
			}
		}
		if format == "html" && (strings.Contains(out, "http://") || strings.Contains(out, "https://") || strings.Contains(out, "<script")) {
			t.Errorf("html brief refers outside itself")
		}
	}
	if err := brief.Write(&bytes.Buffer{}, b, "pdf"); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("format pdf: %v, want ErrInvalid", err)
	}

	// The same figures as the console reads: Series over the same week.
	series, err := pipeline.NewMatterReader(f.conn).Series(ctx, "330681", p.From, p.To, "week")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range series {
		total += s.Count
	}
	if total != b.Headline[0].Current {
		t.Errorf("Series counts %d matters in the week, the brief %d", total, b.Headline[0].Current)
	}
}

func countOrDash(n *int) string {
	if n == nil {
		return "—"
	}
	return fmt.Sprint(*n)
}

// TestBriefEdges: a period with no data, a jurisdiction of one township,
// and a region outside the reader's jurisdiction.
func TestBriefEdges(t *testing.T) {
	f := setup(t)
	f.seed(t)
	ctx := context.Background()

	empty, _ := brief.PeriodAt("business", at("2018-06-10 00:00"))
	b, err := f.maker.Make(ctx, leader, "330681", empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range b.Headline {
		if x.Current != 0 || x.Previous != 0 || x.YearAgo != nil {
			t.Errorf("no data: %s = %d/%d/%v", x.Key, x.Current, x.Previous, x.YearAgo)
		}
	}
	if len(b.Observations)+len(b.RisingCategories)+len(b.RisingPlaces)+len(b.Hotspots)+len(b.Notable)+len(b.Topics) != 0 {
		t.Errorf("no data, yet: %+v", b)
	}
	var buf bytes.Buffer
	if err := brief.Write(&buf, b, "html"); err != nil || !strings.Contains(buf.String(), "无显著上升") {
		t.Errorf("empty html: %v", err)
	}

	// 枫桥镇 alone: its villages are its places, and there is no level
	// below them.
	week, _ := brief.PeriodAt("week", at("2020-02-24 00:00"))
	b, err = f.maker.Make(ctx, desk.User{Username: "fq", Role: desk.RoleLeader, Jurisdiction: "330681109"}, "330681109", week)
	if err != nil {
		t.Fatal(err)
	}
	if b.Headline[0].Current != 7 || len(b.Hotspots) != 1 || b.Hotspots[0].Name != "枫桥镇枫源村" || b.SubHotspots != nil || b.RegionName != "枫桥镇" {
		t.Errorf("枫桥镇: %d matters, hotspots %+v, below %+v, name %s", b.Headline[0].Current, b.Hotspots, b.SubHotspots, b.RegionName)
	}
	if len(b.Notable) != 2 { // the red alert and the escalation; the petition was in 店口镇
		t.Errorf("枫桥镇 notable: %+v", b.Notable)
	}
	// Without a desk, a place is named by the region directory.
	byPlaces := brief.NewMaker(pipeline.NewMatterReader(f.conn), f.parts.Stats, nil, nil)
	byPlaces.Places = risk.Places{"330681109": "枫桥镇", "330681109201": "枫源村"}
	if b, err = byPlaces.Make(ctx, desk.User{Username: "fq", Role: desk.RoleLeader, Jurisdiction: "330681109"}, "330681109", week); err != nil {
		t.Fatal(err)
	}
	if len(b.Hotspots) != 1 || b.Hotspots[0].Name != "枫桥镇枫源村" || b.RegionName != "枫桥镇" {
		t.Errorf("named by the region directory: hotspots %+v, name %s", b.Hotspots, b.RegionName)
	}

	if _, err := f.maker.Make(ctx, leader, "330682", week); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("another county: %v, want ErrForbidden", err)
	}
	if _, err := f.maker.Make(ctx, desk.User{Username: "m", Role: desk.RoleMediator, Jurisdiction: "330681"}, "330681", week); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("a mediator: %v, want ErrForbidden", err)
	}
	if _, err := f.maker.Make(ctx, leader, "33068x", week); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("bad region: %v, want ErrInvalid", err)
	}
}

// TestBriefPer10k: with the townships' populations configured, they rank
// by matters per 10,000 residents; villages, of which one has a
// population, still rank by matters, that one's rate shown.
func TestBriefPer10k(t *testing.T) {
	f := setup(t)
	f.seed(t)
	pops, err := brief.ReadPopulations(strings.NewReader("330681109000: 70000 # 枫桥镇, zero-padded\n330681001: 6000\n330681104: 50000\n330681109201: 2000\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.maker.Populations = pops
	p, _ := brief.PeriodAt("week", at("2020-02-28 12:00"))
	b, err := f.maker.Make(context.Background(), leader, "330681", p)
	if err != nil {
		t.Fatal(err)
	}
	show := func(ps []brief.Place) []string {
		var out []string
		for _, s := range ps {
			r := "-"
			if s.Per10k != nil {
				r = fmt.Sprintf("%.1f", *s.Per10k)
			}
			out = append(out, fmt.Sprintf("%s %d %s", s.Name, s.Current, r))
		}
		return out
	}
	// 暨阳街道 6 of 6,000 (10.0); 枫桥镇 7 of 70,000 and 店口镇 5 of 50,000
	// (1.0 each: the larger count first).
	if got, want := show(b.Hotspots), []string{"暨阳街道 6 10.0", "枫桥镇 7 1.0", "店口镇 5 1.0"}; !b.HotspotsPer10k || !slices.Equal(got, want) {
		t.Errorf("townships per 10,000 (%v): %q, want %q", b.HotspotsPer10k, got, want)
	}
	if got, want := show(b.SubHotspots), []string{"枫桥镇枫源村 7 35.0", "暨阳街道东二社区 6 -", "店口镇湄池村 5 -"}; b.SubHotspotsPer10k || !slices.Equal(got, want) {
		t.Errorf("villages by matters (%v): %q, want %q", b.SubHotspotsPer10k, got, want)
	}
	var md strings.Builder
	if err := brief.Write(&md, b, "markdown"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "乡镇（街道）（按每万人排序）：暨阳街道 6件（每万人10.0）、枫桥镇 7件（每万人1.0）") {
		t.Errorf("the Markdown's hotspots:\n%s", md.String())
	}

	for _, bad := range []string{"3306: 100\n", "330681109: 0\n", "330681109: 5\n330681109000: 6\n", "x: 1\n", "330681109: many\n"} {
		if _, err := brief.ReadPopulations(strings.NewReader(bad)); !errors.Is(err, risk.ErrInvalid) {
			t.Errorf("populations %q: %v, want ErrInvalid", bad, err)
		}
	}
}
