package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// seedEvent is a stored record for the readers' tests.
func seedEvent(src risk.Source, id, region string, occurred time.Time, mod func(*risk.Event)) pipeline.Stored {
	e := risk.Event{Source: src, ID: id, Version: 1, UpdatedAt: occurred, OccurredAt: occurred, Region: risk.Region{Code: region},
		Category: "劳资纠纷", Kind: "投诉", Status: risk.StatusOpen, HeadCount: -1, PetitionerCount: -1, Amount: -1,
		Title: "欠薪", Text: "反映兴达针织拖欠工资，电话138****2345", Address: "枫桥镇"}
	if mod != nil {
		mod(&e)
	}
	return pipeline.Stored{Event: e, Topic: "t", Partition: 0, Offset: 1}
}

func write(t *testing.T, conn driver.Conn, events ...pipeline.Stored) {
	t.Helper()
	if err := pipeline.NewEventWriter(conn).WriteEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

func ids(rs []pipeline.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, string(r.Source)+"/"+r.ID)
	}
	return out
}

var base = time.Date(2024, 3, 4, 2, 0, 0, 0, time.UTC)

// wang is a caller with a phone and ID key, masked and sealed as stored.
var wang = risk.Person{Role: "caller", Name: "王*国", Phone: "138****2345", PhoneKey: "pk-wang", IDKey: "ik-wang", Sealed: "SEALED-WANG"}

// TestRecordReader reads an alert's evidence and a person's and a subject's
// history: newest versions only, masked columns only, inside the region.
func TestRecordReader(t *testing.T) {
	conn, _ := schematest.Open(t)
	ctx := context.Background()
	h := func(d int) time.Time { return base.Add(time.Duration(d) * time.Hour) }
	write(t, conn,
		seedEvent(risk.SourceHotline, "H-1", "330681109201", h(2), func(e *risk.Event) { e.Persons = []risk.Person{wang} }),
		seedEvent(risk.SourcePetition, "P-1", "330681109202", h(1), func(e *risk.Event) {
			e.Persons = []risk.Person{wang, {Role: "party", Name: "李*", IDKey: "ik-li"}}
			e.Collective, e.SkipLevel, e.HeadCount = true, true, 30
			e.Subjects = []string{"firm:兴达"}
		}),
		seedEvent(risk.SourceGrid, "G-1", "330681109201", h(3), func(e *risk.Event) { e.Subjects = []string{"firm:兴达"} }),
		// Another county, same person: outside the history's region.
		seedEvent(risk.SourceHotline, "H-2", "330682101201", h(4), func(e *risk.Event) { e.Persons = []risk.Person{wang} }),
		// Deleted upstream: evidence still shows it, history leaves it out.
		seedEvent(risk.SourceGrid, "G-2", "330681109201", h(5), func(e *risk.Event) {
			e.Subjects = []string{"firm:兴达"}
			e.Status = risk.StatusDeleted
		}),
		// Same person, later: after `before` below.
		seedEvent(risk.SourceHotline, "H-3", "330681109201", h(9), func(e *risk.Event) { e.Persons = []risk.Person{wang} }),
	)
	// A newer version of H-1 in a later insert: the newest wins.
	write(t, conn, seedEvent(risk.SourceHotline, "H-1", "330681109201", h(2), func(e *risk.Event) {
		e.Persons = []risk.Person{wang}
		e.Version, e.UpdatedAt, e.Status, e.Title = 2, h(6), risk.StatusFinished, "欠薪（已办结）"
	}))
	r := pipeline.NewRecordReader(conn)

	got, err := r.Records(ctx, []risk.Evidence{{Source: "grid", ID: "G-2"}, {Source: "hotline", ID: "H-1"}, {Source: "petition", ID: "P-1"},
		{Source: "grid", ID: "H-1"} /* no such pair */, {Source: "hotline", ID: "nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"petition/P-1", "hotline/H-1", "grid/G-2"}; !slices.Equal(ids(got), want) {
		t.Fatalf("records %v, want %v (in occurred_at order)", ids(got), want)
	}
	p, h1 := got[0], got[1]
	if h1.Title != "欠薪（已办结）" || h1.Status != "finished" {
		t.Errorf("H-1 is %q %s, want its newest version", h1.Title, h1.Status)
	}
	if !p.Collective || !p.SkipLevel || p.Repeat || p.HeadCount != 30 || p.Region != "330681109202" || !p.OccurredAt.Equal(h(1)) {
		t.Errorf("P-1 read as %+v", p)
	}
	if !slices.Equal(p.Persons, []string{"王*国", "李*"}) {
		t.Errorf("P-1 persons %q, want the masked names", p.Persons)
	}
	b, _ := json.Marshal(got)
	for _, secret := range []string{"SEALED-WANG", "pk-wang", "ik-wang", "ik-li"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("records carry %s: %s", secret, b)
		}
	}
	if got, err := r.Records(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no refs: %v, %v", got, err)
	}

	for _, tt := range []struct {
		name, region, person, subject string
		before                        time.Time
		limit                         int
		want                          []string
	}{
		{"person in the county", "330681", "ik-wang", "", h(8), 0, []string{"hotline/H-1", "petition/P-1"}},
		{"person by phone key, before all", "330681", "pk-wang", "", h(24), 0, []string{"hotline/H-3", "hotline/H-1", "petition/P-1"}},
		{"person in the city", "3306", "ik-wang", "", h(8), 0, []string{"hotline/H-2", "hotline/H-1", "petition/P-1"}},
		{"subject, deleted left out", "330681", "", "firm:兴达", h(8), 0, []string{"grid/G-1", "petition/P-1"}},
		{"person or subject", "330681109201", "ik-wang", "firm:兴达", h(8), 0, []string{"grid/G-1", "hotline/H-1"}},
		{"limit", "330681", "pk-wang", "", h(24), 1, []string{"hotline/H-3"}},
		{"nobody", "330681", "ik-nobody", "", h(24), 0, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.History(ctx, tt.region, tt.person, tt.subject, tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("history %v, want %v", ids(got), tt.want)
			}
		})
	}
	for _, bad := range [][3]string{{"330681", "", ""}, {"33068'", "ik-wang", ""}, {"", "ik-wang", ""}} {
		if _, err := r.History(ctx, bad[0], bad[1], bad[2], h(8), 0); !isInvalid(err) {
			t.Errorf("History(%q, %q, %q): %v, want ErrInvalid", bad[0], bad[1], bad[2], err)
		}
	}
}

// TestMatterReader counts matters by days and weeks of China time and
// ranks places, figures worked out by hand below.
func TestMatterReader(t *testing.T) {
	conn, _ := schematest.Open(t)
	ctx := context.Background()
	at := func(s string) time.Time { // China time
		v, err := time.ParseInLocation("2006-01-02 15:04", s, risk.CST)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	cat := func(c string) func(*risk.Event) { return func(e *risk.Event) { e.Category = c } }
	write(t, conn,
		// Sunday 3 March, 23:00 China time (15:00 UTC): the week of 26 February.
		seedEvent(risk.SourceHotline, "H-1", "330681109201", at("2024-03-03 23:00"), nil),
		// Monday 4 March, 01:00 China time (3 March 17:00 UTC): a new day and week.
		seedEvent(risk.SourceHotline, "H-2", "330681109201", at("2024-03-04 01:00"), nil),
		seedEvent(risk.SourceHotline, "H-3", "330681109202", at("2024-03-04 09:00"), nil),
		seedEvent(risk.SourceHotline, "H-4", "330681109202", at("2024-03-04 10:00"), cat("物业纠纷")),
		seedEvent(risk.SourcePetition, "P-1", "330681110201", at("2024-03-06 10:00"), nil),
		seedEvent(risk.SourceGrid, "G-1", "330681109000", at("2024-03-06 11:00"), nil), // township only
		seedEvent(risk.SourceGrid, "G-2", "330681109201", at("2024-03-06 12:00"), func(e *risk.Event) { e.Status = risk.StatusDeleted }),
		seedEvent(risk.SourceHotline, "H-9", "330682101201", at("2024-03-04 09:00"), nil), // another county
		seedEvent(risk.SourceHotline, "H-0", "330681109201", at("2024-02-20 09:00"), nil), // before from
		seedEvent(risk.SourceHotline, "H-8", "330681109201", at("2024-03-11 00:00"), nil), // at to: out
	)
	r := pipeline.NewMatterReader(conn)
	from, to := at("2024-02-26 00:00"), at("2024-03-11 00:00")
	show := func(ms []pipeline.MatterCount) []string {
		var out []string
		for _, m := range ms {
			if m.Start.Location() != risk.CST {
				t.Errorf("bucket %v not in risk.CST", m.Start)
			}
			out = append(out, fmt.Sprintf("%s %s %s %d", m.Start.Format("01-02 15:04"), m.Source, m.Category, m.Count))
		}
		return out
	}
	for _, tt := range []struct {
		step, region string
		want         []string
	}{
		{"day", "330681", []string{
			"03-03 00:00 hotline 劳资纠纷 1",
			"03-04 00:00 hotline 劳资纠纷 2",
			"03-04 00:00 hotline 物业纠纷 1",
			"03-06 00:00 grid 劳资纠纷 1",
			"03-06 00:00 petition 劳资纠纷 1",
		}},
		{"week", "330681", []string{
			"02-26 00:00 hotline 劳资纠纷 1",
			"03-04 00:00 grid 劳资纠纷 1",
			"03-04 00:00 hotline 劳资纠纷 2",
			"03-04 00:00 hotline 物业纠纷 1",
			"03-04 00:00 petition 劳资纠纷 1",
		}},
		{"week", "330681109202", []string{"03-04 00:00 hotline 劳资纠纷 1", "03-04 00:00 hotline 物业纠纷 1"}},
	} {
		got, err := r.Series(ctx, tt.region, from, to, tt.step)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(show(got), tt.want) {
			t.Errorf("%s in %s:\n got %q\nwant %q", tt.step, tt.region, show(got), tt.want)
		}
	}

	places := func(ps []pipeline.PlaceCount) []string {
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s=%d", p.Place, p.Count))
		}
		return out
	}
	for _, tt := range []struct {
		level string
		limit int
		want  []string
	}{
		// 枫桥镇 (109): H-1..H-4 and G-1; 110: P-1.
		{"township", 0, []string{"330681109=5", "330681110=1"}},
		// Villages: 201 has H-1, H-2; 202 has H-3, H-4 (ties by code); G-1 has no village.
		{"village", 0, []string{"330681109201=2", "330681109202=2", "330681110201=1"}},
		{"village", 1, []string{"330681109201=2"}},
	} {
		got, err := r.Places(ctx, "330681", from, to, tt.level, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(places(got), tt.want) {
			t.Errorf("%s places (limit %d): %q, want %q", tt.level, tt.limit, places(got), tt.want)
		}
	}
	if _, err := r.Series(ctx, "330681", from, to, "month"); !isInvalid(err) {
		t.Errorf("step month: %v, want ErrInvalid", err)
	}
	if _, err := r.Places(ctx, "330681", from, to, "county", 0); !isInvalid(err) {
		t.Errorf("level county: %v, want ErrInvalid", err)
	}
	if _, err := r.Series(ctx, "330681' OR 1", from, to, "day"); !isInvalid(err) {
		t.Errorf("bad region: %v, want ErrInvalid", err)
	}
}

// TestQuarantineReasons counts the quarantine by reason, folding quoted
// values and digits, each message once however often replayed.
func TestQuarantineReasons(t *testing.T) {
	conn, _ := schematest.Open(t)
	for _, r := range []struct {
		topic  string
		offset int64
		reason string
		at     string
	}{
		{"hotline.workorders", 1, `hotline: updateTime "2020-13-01": unparseable time`, "2024-03-01 10:00:00"},
		{"hotline.workorders", 2, `hotline: updateTime "yesterday \"noon\"": unparseable time`, "2024-03-01 11:00:00"},
		{"hotline.workorders", 2, `hotline: updateTime "yesterday \"noon\"": unparseable time`, "2024-03-01 11:00:01"}, // replayed
		{"petition.cases", 7, `petition: updateTime "2021-02-30": unparseable time`, "2024-03-01 09:00:00"},
		{"grid.events", 3, `grid: gridCode "33068110920": want a 12-digit village code and a 2-3 digit grid number`, "2024-03-02 10:00:00"},
		{"grid.events", 4, `grid: value is not valid JSON (truncated or malformed)`, "2024-03-01 08:00:00"},
		{"grid.events", 5, `grid: value is not valid JSON (truncated or malformed)`, "2024-03-01 08:30:00"},
	} {
		err := conn.Exec(context.Background(), `INSERT INTO rejected_events (topic, partition, offset, source, key, value_sealed, header_keys, header_values, reason, received_at)
			SELECT ?, 0, ?, '', '', '', [], [], ?, toDateTime(?, 'UTC')`, r.topic, r.offset, r.reason, r.at)
		if err != nil {
			t.Fatal(err)
		}
	}
	show := func(rs []pipeline.ReasonCount) []string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%d %s %v %s", r.Count, r.Reason, r.Topics, r.Latest.Format("01-02 15:04")))
		}
		return out
	}
	q := pipeline.NewQuarantineReader(conn, nil)
	for _, tt := range []struct {
		topic string
		want  []string
	}{
		{"", []string{
			`2 grid: value is not valid JSON (truncated or malformed) [grid.events] 03-01 08:30`,
			`2 hotline: updateTime "…": unparseable time [hotline.workorders] 03-01 11:00`,
			`1 grid: gridCode "…": want a N-digit village code and a N-N digit grid number [grid.events] 03-02 10:00`,
			`1 petition: updateTime "…": unparseable time [petition.cases] 03-01 09:00`,
		}},
		{"hotline.workorders", []string{`2 hotline: updateTime "…": unparseable time [hotline.workorders] 03-01 11:00`}},
	} {
		got, err := q.Reasons(context.Background(), tt.topic)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(show(got), tt.want) {
			t.Errorf("reasons of %q:\n got %q\nwant %q", tt.topic, show(got), tt.want)
		}
	}
}

func isInvalid(err error) bool { return errors.Is(err, risk.ErrInvalid) }

// TestMatterTally counts over periods of any calendar — here two 信访
// business months, 21st to 20th in China time — by category, place and
// topic, and lists the notable matters without their text or people.
func TestMatterTally(t *testing.T) {
	conn, _ := schematest.Open(t)
	ctx := context.Background()
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, risk.CST)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	mod := func(cat string, tags []string, collective bool, people int32) func(*risk.Event) {
		return func(e *risk.Event) {
			e.Category, e.Tags, e.Collective, e.HeadCount = cat, tags, collective, people
		}
	}
	write(t, conn,
		// 20 January 23:59 China time is still the business month of January.
		seedEvent(risk.SourceHotline, "H-1", "330681109201", at("2020-01-20 23:59"), mod("劳资纠纷", []string{"复工复产"}, false, -1)),
		seedEvent(risk.SourceHotline, "H-2", "330681109201", at("2020-01-21 00:00"), mod("劳资纠纷", []string{"复工复产", "健康码"}, false, -1)),
		seedEvent(risk.SourcePetition, "P-1", "330681104201", at("2020-02-10 10:00"), mod("劳资纠纷", nil, true, 30)),
		seedEvent(risk.SourceGrid, "G-1", "330681104000", at("2020-02-20 23:00"), mod("物业纠纷", nil, false, -1)),
		seedEvent(risk.SourceGrid, "G-2", "330681104000", at("2020-02-21 00:00"), mod("物业纠纷", nil, false, -1)),  // after the last bound
		seedEvent(risk.SourceHotline, "H-3", "330681109201", at("2019-12-20 12:00"), mod("劳资纠纷", nil, true, 8)), // before the first
	)
	r := pipeline.NewMatterReader(conn)
	bounds := []time.Time{at("2019-12-21 00:00"), at("2020-01-21 00:00"), at("2020-02-21 00:00")}
	show := func(ts []pipeline.Tally) []string {
		var out []string
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%d %s %s %d", x.Period, x.Source, x.Key, x.Count))
		}
		return out
	}
	for _, tt := range []struct {
		by   string
		want []string
	}{
		{"source", []string{"0 hotline  1", "1 grid  1", "1 hotline  1", "1 petition  1"}},
		{"category", []string{"0 hotline 劳资纠纷 1", "1 grid 物业纠纷 1", "1 hotline 劳资纠纷 1", "1 petition 劳资纠纷 1"}},
		// G-1 stops at the township: in the townships, not in the villages.
		{"township", []string{"0 hotline 330681109 1", "1 grid 330681104 1", "1 hotline 330681109 1", "1 petition 330681104 1"}},
		{"village", []string{"0 hotline 330681109201 1", "1 hotline 330681109201 1", "1 petition 330681104201 1"}},
		{"tag", []string{"0 hotline 复工复产 1", "1 hotline 健康码 1", "1 hotline 复工复产 1"}},
		{"category+village", []string{"0 hotline 劳资纠纷|330681109201 1", "1 grid 物业纠纷| 1", "1 hotline 劳资纠纷|330681109201 1", "1 petition 劳资纠纷|330681104201 1"}},
		{"category+township+village+topics", []string{"0 hotline 劳资纠纷|330681109|330681109201|复工复产 1", "1 grid 物业纠纷|330681104|| 1",
			"1 hotline 劳资纠纷|330681109|330681109201|复工复产,健康码 1", "1 petition 劳资纠纷|330681104|330681104201| 1"}},
	} {
		got, err := r.Tally(ctx, "330681", bounds, tt.by)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(show(got), tt.want) {
			t.Errorf("by %s:\n got %q\nwant %q", tt.by, show(got), tt.want)
		}
	}
	for _, bad := range [][]time.Time{bounds[:1], {bounds[1], bounds[0]}} {
		if _, err := r.Tally(ctx, "330681", bad, "source"); !isInvalid(err) {
			t.Errorf("bounds %v: %v, want ErrInvalid", bad, err)
		}
	}
	for _, by := range []string{"title", "category+title", "category+category", "tag+category", ""} {
		if _, err := r.Tally(ctx, "330681", bounds, by); !isInvalid(err) {
			t.Errorf("by %q: %v, want ErrInvalid", by, err)
		}
	}

	// Newest versions only, judged after they are chosen: a record moved
	// to another township counts there alone, one deleted upstream not at
	// all, whichever version matched the region or the status before.
	moved := seedEvent(risk.SourceHotline, "M-1", "330681109201", at("2020-02-01 10:00"), nil)
	movedLater := seedEvent(risk.SourceHotline, "M-1", "330681104201", at("2020-02-01 10:00"), func(e *risk.Event) { e.Version, e.UpdatedAt = 2, e.UpdatedAt.Add(time.Hour) })
	gone := seedEvent(risk.SourceHotline, "D-1", "330681109201", at("2020-02-01 10:00"), nil)
	goneLater := seedEvent(risk.SourceHotline, "D-1", "330681109201", at("2020-02-01 10:00"), func(e *risk.Event) {
		e.Version, e.UpdatedAt, e.Status = 2, e.UpdatedAt.Add(time.Hour), risk.StatusDeleted
	})
	write(t, conn, moved, gone)
	write(t, conn, movedLater, goneLater) // another insert: another part, merged only by FINAL
	got, err := r.Tally(ctx, "330681", bounds, "township")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0 hotline 330681109 1", "1 grid 330681104 1", "1 hotline 330681104 1", "1 hotline 330681109 1", "1 petition 330681104 1"}; !slices.Equal(show(got), want) {
		t.Errorf("after a move and a deletion:\n got %q\nwant %q", show(got), want)
	}
	// Counted from either township, M-1 is where its newest version is,
	// not where an older one was.
	for _, town := range []string{"330681109", "330681104"} {
		var want []string
		for _, t := range got {
			if t.Key == town {
				want = append(want, show([]pipeline.Tally{t})...)
			}
		}
		in, err := r.Tally(ctx, town, bounds, "township")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(show(in), want) {
			t.Errorf("counted from %s after a move:\n got %q\nwant %q", town, show(in), want)
		}
	}

	notable, err := r.Notable(ctx, "330681", bounds[1], bounds[2], 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(notable) != 1 || notable[0].Region != "330681104201" || notable[0].People != 30 || !notable[0].Collective || notable[0].Category != "劳资纠纷" {
		t.Errorf("notable = %+v, want P-1 alone: 30 people in 330681104201", notable)
	}
}
