package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// TestBriefCommand writes a past week's brief of a county as the README
// shows, from the stores of the flags, places named after the directory.
func TestBriefCommand(t *testing.T) {
	ctx := context.Background()
	conn, chDSN := schematest.Open(t)
	pool, pgDSN := schematest.OpenPostgres(t)
	at := time.Date(2020, 2, 26, 10, 0, 0, 0, risk.CST)
	var events []pipeline.Stored
	for i, region := range []string{"330681109201", "330681109201", "330681104201"} {
		events = append(events, pipeline.Stored{Event: risk.Event{Source: risk.SourceHotline, ID: "H-" + string(rune('a'+i)), Version: 1,
			UpdatedAt: at.UTC(), OccurredAt: at.UTC(), Region: risk.Region{Code: region}, Category: "劳资纠纷", Status: risk.StatusOpen,
			HeadCount: -1, PetitionerCount: -1, Amount: -1, Text: "王小明 13812345678"}})
	}
	if err := pipeline.NewEventWriter(conn).WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO desks (id, name, tier, region) VALUES ('zhuji', '诸暨市社会矛盾纠纷调处化解中心', 'county', '330681'),
		('fengqiao', '枫桥镇综治中心', 'township', '330681109')`); err != nil {
		t.Fatal(err)
	}
	brief := func(args ...string) (string, string, error) {
		var out, errs bytes.Buffer
		err := run(ctx, append([]string{"brief", "-clickhouse", chDSN, "-postgres", pgDSN}, args...), func(string) string { return "" }, &out, &errs)
		return out.String(), errs.String(), err
	}
	out, errs, err := brief("-region", "330681", "-period", "week", "-at", "2020-02-28", "-format", "markdown")
	if err != nil {
		t.Fatalf("%v: %s", err, errs)
	}
	for _, want := range []string{"# 诸暨市社会矛盾纠纷态势简报", "2020年第9周（2月24日—3月1日）", "| 12345热线 | 3 | 0 |", "枫桥镇 2件、330681104 1件"} {
		if !strings.Contains(out, want) {
			t.Errorf("the brief lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "王") || strings.Contains(out, "138") {
		t.Errorf("the brief shows a person:\n%s", out)
	}
	// Named from the directory file and rated per 10,000 residents from the
	// region file, when given: 店口镇 has no desk in the database.
	dir := t.TempDir()
	desks, pops := filepath.Join(dir, "desks.yaml"), filepath.Join(dir, "population.yaml")
	if err := os.WriteFile(desks, []byte("desks:\n  - {id: diankou, name: 店口镇综治中心, tier: township, region: \"330681104\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pops, []byte("330681109: 40000\n330681104: 5000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, err = brief("-desks", desks, "-brief.population", pops, "-region", "330681", "-period", "week", "-at", "2020-02-28", "-format", "markdown")
	if err != nil {
		t.Fatalf("%v: %s", err, errs)
	}
	if want := "乡镇（街道）（按每万人排序）：店口镇 1件（每万人2.0）、330681109 2件（每万人0.5）"; !strings.Contains(out, want) {
		t.Errorf("with the directory and region files, the brief lacks %q:\n%s", want, out)
	}
	if _, _, err := brief("-region", "330681", "-at", "28/02/2020"); err == nil {
		t.Error("a day in another format: no error")
	}
	if _, _, err := brief("-period", "week"); err == nil {
		t.Error("no region: no error")
	}
}

// TestBriefPeriodDefault: without -at, the last complete period.
func TestBriefPeriodDefault(t *testing.T) {
	now := time.Date(2020, 3, 2, 8, 0, 0, 0, risk.CST) // a Monday morning
	for kind, want := range map[string]string{"week": "2020-02-24", "business": "2020-01-21", "day": "2020-03-01", "month": "2020-02-01"} {
		p, err := briefPeriod(kind, "", now)
		if err != nil || p.From.Format(time.DateOnly) != want {
			t.Errorf("%s: %v %v, want from %s", kind, p.From, err, want)
		}
	}
}

// TestBriefSchedules: by default each city and county desk's region gets
// its weekly and business month's brief; -brief.regions names others; an
// empty cron turns that kind off.
func TestBriefSchedules(t *testing.T) {
	dir := []desk.Desk{{Region: "330600", Tier: risk.TierCity}, {Region: "330681", Tier: risk.TierCounty}, {Region: "330681109", Tier: risk.TierTownship}}
	show := func(b briefConfig) []string {
		var out []string
		for _, s := range b.schedules(dir) {
			out = append(out, s.Region+" "+s.Kind+" "+s.Cron)
		}
		slices.Sort(out)
		return out
	}
	got := show(briefConfig{Weekly: "0 8 * * 1", Business: "0 8 21 * *"})
	want := []string{"330600 business 0 8 21 * *", "330600 week 0 8 * * 1", "330681 business 0 8 21 * *", "330681 week 0 8 * * 1"}
	if !slices.Equal(got, want) {
		t.Errorf("default: %q, want %q", got, want)
	}
	if got := show(briefConfig{Regions: "330681109", Weekly: "0 7 * * 1"}); !slices.Equal(got, []string{"330681109 week 0 7 * * 1"}) {
		t.Errorf("named, weekly only: %q", got)
	}
}
