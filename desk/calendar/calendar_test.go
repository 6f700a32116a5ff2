package calendar

import (
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
)

// at parses "2006-01-02" or "2006-01-02 15:04" as CST wall time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	layout := time.DateOnly
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04"
	}
	v, err := time.ParseInLocation(layout, s, risk.CST)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func show(t time.Time) string { return t.In(risk.CST).Format("2006-01-02 15:04 MST") }

func TestWorkingDay(t *testing.T) {
	c := Default()
	tests := []struct {
		name string
		t    time.Time
		want bool
	}{
		{"weekday", at(t, "2024-03-11"), true},
		{"saturday", at(t, "2024-03-09"), false},
		{"sunday", at(t, "2024-03-10"), false},
		{"holiday on a weekday", at(t, "2023-10-02"), false},
		{"调休 saturday", at(t, "2023-10-07"), true},
		{"调休 sunday", at(t, "2023-10-08"), true},
		{"2024 除夕 only encouraged leave", at(t, "2024-02-09"), true},
		{"2025 调休 sunday before 春节", at(t, "2025-01-26"), true},
		{"2025 除夕", at(t, "2025-01-28"), false},
		{"2025 初七", at(t, "2025-02-04"), false},
		{"2025 after 春节", at(t, "2025-02-05"), true},
		{"2025 调休 saturday after 春节", at(t, "2025-02-08"), true},
		{"2020 调休 sunday kept", at(t, "2020-01-19"), true},
		{"2020 COVID extension friday", at(t, "2020-01-31"), false},
		{"2020 调休 saturday cancelled", at(t, "2020-02-01"), false},
		{"2020 back to work", at(t, "2020-02-03"), true},
		{"New Year block in December", at(t, "2022-12-31"), false},
		// 2023-09-28 23:59 CST is a Thursday; one minute later is the holiday.
		{"UTC just before CST midnight", time.Date(2023, 9, 28, 15, 59, 0, 0, time.UTC), true},
		{"UTC at CST midnight", time.Date(2023, 9, 28, 16, 0, 0, 0, time.UTC), false},
		{"unknown year weekday", at(t, "2031-01-01"), true},
		{"unknown year saturday", at(t, "2031-01-04"), false},
	}
	for _, tt := range tests {
		if got := c.WorkingDay(tt.t); got != tt.want {
			t.Errorf("%s: WorkingDay(%s) got %v, want %v", tt.name, show(tt.t), got, tt.want)
		}
	}
}

func TestKnown(t *testing.T) {
	c := Default()
	for y := 2018; y <= 2031; y++ {
		want := y >= 2020 && y <= 2026
		if got := c.Known(y); got != want {
			t.Errorf("Known(%d) got %v, want %v", y, got, want)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := Default()
	tests := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time // end of the last working day, i.e. 00:00 of the day after
	}{
		// Mon 01-20 received; 01-21..23 are days 1-3; 01-24..02-02 off
		// (extended 春节); 02-03..07 are 4-8; weekend; 02-10, 02-11 are 9, 10.
		{"春节 2020 with extension", at(t, "2020-01-20 10:00"), 10, at(t, "2020-02-12")},
		{"over a weekend", at(t, "2024-03-08 15:00"), 1, at(t, "2024-03-12")},
		{"received on a saturday", at(t, "2024-03-09 11:00"), 1, at(t, "2024-03-12")},
		{"n=0 on a working day", at(t, "2024-03-08 15:00"), 0, at(t, "2024-03-09")},
		{"n=0 on a saturday", at(t, "2024-03-09 11:00"), 0, at(t, "2024-03-12")},
		// Fri 02-02; Sat 02-03 off; Sun 02-04 is a 调休 working day.
		{"调休 sunday counts", at(t, "2024-02-02 09:00"), 2, at(t, "2024-02-06")},
		// Thu 09-28; 09-29..10-06 off; 10-07 (Sat), 10-08 (Sun), 10-09 work.
		{"国庆 2023", at(t, "2023-09-28 09:00"), 3, at(t, "2023-10-10")},
		// Fri 01-24; Sun 01-26 and Mon 01-27 work; 01-28..02-04 off; 02-05..07; Sat 02-08 works.
		{"春节 2025", at(t, "2025-01-24 09:00"), 5, at(t, "2025-02-08")},
		{"春节 2025 into 调休 saturday", at(t, "2025-01-24 09:00"), 6, at(t, "2025-02-09")},
		// 2031 unknown: 01-01 is not known as a holiday, only weekends count.
		{"unknown year", at(t, "2031-01-01 09:00"), 5, at(t, "2031-01-09")},
		// Thu 16:30 UTC is Fri 00:30 CST, so the next working day is Monday.
		{"day taken in CST", time.Date(2024, 3, 7, 16, 30, 0, 0, time.UTC), 1, at(t, "2024-03-12")},
	}
	for _, tt := range tests {
		got := c.AddWorkingDays(tt.start, tt.n)
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%s: AddWorkingDays(%s, %d) got %s (%v), want %s (UTC)", tt.name, show(tt.start), tt.n, show(got), got.Location(), show(tt.want))
		}
	}
	if c.Known(2031) {
		t.Errorf("Known(2031) got true, want false")
	}
}

func TestAddWorkingDaysNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("AddWorkingDays(_, -1) got no panic, want panic")
		}
	}()
	Default().AddWorkingDays(time.Now(), -1)
}

func TestWorkingTimeBetween(t *testing.T) {
	c := Default()
	tests := []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		{"within a day", at(t, "2024-03-11 09:00"), at(t, "2024-03-11 17:00"), 8 * time.Hour},
		{"over a weekend", at(t, "2024-03-08 12:00"), at(t, "2024-03-11 12:00"), 24 * time.Hour},
		{"inside a holiday", at(t, "2023-10-02 09:00"), at(t, "2023-10-04 09:00"), 0},
		{"over 国庆 2023", at(t, "2023-09-28 12:00"), at(t, "2023-10-09"), 60 * time.Hour},
		{"reversed", at(t, "2024-03-11 17:00"), at(t, "2024-03-11 09:00"), 0},
	}
	for _, tt := range tests {
		if got := c.WorkingTimeBetween(tt.from, tt.to); got != tt.want {
			t.Errorf("%s: WorkingTimeBetween(%s, %s) got %v, want %v", tt.name, show(tt.from), show(tt.to), got, tt.want)
		}
	}
}

func TestExtendBy(t *testing.T) {
	c := Default()
	tests := []struct {
		name     string
		deadline time.Time
		paused   time.Duration
		want     time.Time
	}{
		{"one day from friday's end", at(t, "2024-03-09"), 24 * time.Hour, at(t, "2024-03-12")},
		{"part day across a weekend", at(t, "2024-03-08 18:00"), 12 * time.Hour, at(t, "2024-03-11 06:00")},
		{"into a 调休 saturday", at(t, "2023-09-29"), 24 * time.Hour, at(t, "2023-10-08")},
		{"zero", at(t, "2024-03-08 18:00"), 0, at(t, "2024-03-08 18:00")},
		{"negative", at(t, "2024-03-08 18:00"), -time.Hour, at(t, "2024-03-08 18:00")},
	}
	for _, tt := range tests {
		if got := c.ExtendBy(tt.deadline, tt.paused); !got.Equal(tt.want) {
			t.Errorf("%s: ExtendBy(%s, %v) got %s, want %s", tt.name, show(tt.deadline), tt.paused, show(got), show(tt.want))
		}
	}

	// A case due at the end of Fri 03-15 is paused from Fri 03-08 12:00 to
	// Tue 03-12 12:00: 12h + Mon 24h + 12h = 48h, so it is due two working
	// days later, at the end of Tue 03-19.
	paused := c.WorkingTimeBetween(at(t, "2024-03-08 12:00"), at(t, "2024-03-12 12:00"))
	if paused != 48*time.Hour {
		t.Fatalf("paused got %v, want 48h", paused)
	}
	due := c.AddWorkingDays(at(t, "2024-03-08 12:00"), 5)
	if got, want := c.ExtendBy(due, paused), at(t, "2024-03-20"); !got.Equal(want) {
		t.Errorf("extended deadline got %s, want %s", show(got), show(want))
	}
}

// TestConsistency checks the documented relations between the methods on
// every day of the known years.
func TestConsistency(t *testing.T) {
	c := Default()
	for s := at(t, "2020-01-01 10:00"); s.Year() < 2027; s = s.AddDate(0, 0, 1) {
		next := dateOf(s).next().start()
		for n := 1; n <= 12; n++ {
			due := c.AddWorkingDays(s, n)
			if got, want := c.ExtendBy(due, 24*time.Hour), c.AddWorkingDays(s, n+1); !got.Equal(want) {
				t.Fatalf("ExtendBy(AddWorkingDays(%s, %d), 24h) got %s, want %s", show(s), n, show(got), show(want))
			}
			if got, want := c.WorkingTimeBetween(next, due), time.Duration(n)*24*time.Hour; got != want {
				t.Fatalf("WorkingTimeBetween(%s, %s) got %v, want %v", show(next), show(due), got, want)
			}
		}
		if got, want := c.WorkingTimeBetween(s, c.ExtendBy(s, 30*time.Hour)), 30*time.Hour; got != want {
			t.Fatalf("WorkingTimeBetween(%s, ExtendBy(_, 30h)) got %v, want %v", show(s), got, want)
		}
	}
}

func TestDueWithin(t *testing.T) {
	c := Default()
	monday := at(t, "2024-03-12") // end of Mon 03-11
	tests := []struct {
		name     string
		now      time.Time
		deadline time.Time
		days     int
		want     bool
	}{
		{"friday, due monday", at(t, "2024-03-08 10:00"), monday, 1, true},
		{"thursday, due monday", at(t, "2024-03-07 10:00"), monday, 1, false},
		{"thursday, two days", at(t, "2024-03-07 10:00"), monday, 2, true},
		{"due today", at(t, "2024-03-11 23:00"), monday, 0, true},
		{"saturday counts monday as today", at(t, "2024-03-09 10:00"), monday, 0, true},
		{"overdue", at(t, "2024-03-12 00:00"), monday, 1, false},
		{"negative days", at(t, "2024-03-11 10:00"), monday, -1, false},
		{"before 国庆, due on 调休 saturday", at(t, "2023-09-28 10:00"), at(t, "2023-10-08"), 1, true},
	}
	for _, tt := range tests {
		if got := c.DueWithin(tt.now, tt.deadline, tt.days); got != tt.want {
			t.Errorf("%s: DueWithin(%s, %s, %d) got %v, want %v", tt.name, show(tt.now), show(tt.deadline), tt.days, got, tt.want)
		}
	}
}

// TestEmbedded checks the embedded arrangements against rules every notice
// follows: at least six holiday blocks, make-up days on weekends, and weekday
// holidays minus make-up days equal to the statutory holiday count.
func TestEmbedded(t *testing.T) {
	c := Default()
	for y := 2020; y <= 2026; y++ {
		yr, ok := c.years[y]
		if !ok {
			t.Errorf("year %d got missing, want present", y)
			continue
		}
		hol := slices.Clone(yr.holidays)
		slices.SortFunc(hol, func(a, b date) int { return a.start().Compare(b.start()) })
		hol = slices.Compact(hol)
		blocks, net := 0, 0
		for i, d := range hol {
			if i == 0 || hol[i-1].next() != d {
				blocks++
			}
			if !d.weekend() {
				net++
			}
		}
		for _, d := range yr.workdays {
			if !d.weekend() {
				t.Errorf("%d workday %v got a weekday, want a weekend day", y, d)
			}
			net--
		}
		want := 11 // 全国年节及纪念日放假办法 until 2024
		switch {
		case y == 2020:
			want = 13 // COVID extension: Fri 01-31 off and Sat 02-01 no longer worked
		case y >= 2025:
			want = 13 // 除夕 and 5月2日 added
		}
		if net != want {
			t.Errorf("%d weekday holidays minus make-up days got %d, want %d", y, net, want)
		}
		if blocks < 6 {
			t.Errorf("%d holiday blocks got %d, want at least 6", y, blocks)
		}
	}
}

func TestLoad(t *testing.T) {
	c, err := Load(strings.NewReader(`
2031:
  holidays: [2031-01-01]  # 元旦
2025:
  holidays: [2025-01-01]
`))
	if err != nil {
		t.Fatalf("Load got error %v, want nil", err)
	}
	checks := []struct {
		name      string
		got, want bool
	}{
		{"Known(2031)", c.Known(2031), true},
		{"WorkingDay(2031-01-01)", c.WorkingDay(at(t, "2031-01-01")), false},
		{"Known(2024) kept", c.Known(2024), true},
		{"WorkingDay(2024-10-01) kept", c.WorkingDay(at(t, "2024-10-01")), false},
		// 2025 is replaced whole: its 国庆 is gone.
		{"WorkingDay(2025-10-08) replaced", c.WorkingDay(at(t, "2025-10-08")), true},
		{"Default().Known(2031) untouched", Default().Known(2031), false},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s got %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	p, err := Parse(strings.NewReader("2031:\n  holidays: [2031-01-01]\n"))
	if err != nil {
		t.Fatalf("Parse got error %v, want nil", err)
	}
	if p.Known(2025) {
		t.Errorf("Parse: Known(2025) got true, want false")
	}

	e, err := Load(strings.NewReader(""))
	if err != nil || !e.Known(2026) {
		t.Errorf("Load(empty) got Known(2026)=%v, err %v; want true, nil", e != nil && e.Known(2026), err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"no such day", "2031:\n  holidays: [2031-02-30]\n", `line 2: 2031 holidays: "2031-02-30": not a date`},
		{"wrong format", "2031:\n  holidays: [2031/01/01]\n", "not a date"},
		{"reversed range", "2031:\n  holidays: [2031-01-05..2031-01-01]\n", "range ends before it starts"},
		{"outside the year", "2031:\n  holidays: [2032-01-01]\n", "outside 2031"},
		{"holiday and workday", "2031:\n  holidays: [2031-01-01..2031-01-05]\n  workdays: [2031-01-04]\n",
			"2031-01-04 is both a holiday (listed under 2031) and a workday (listed under 2031)"},
		// 2023-12-30 is a holiday in the default 2024 New Year block.
		{"conflict with a default year", "2023:\n  holidays: [2023-01-02]\n  workdays: [2023-12-30]\n",
			"2023-12-30 is both a holiday (listed under 2024) and a workday (listed under 2023)"},
		{"workday on a weekday", "2031:\n  holidays: [2031-01-01]\n  workdays: [2031-01-06]\n", "2031-01-06 is not a Saturday or Sunday"},
		{"unknown key", "2031:\n  holiday: [2031-01-01]\n", "field holiday not found"},
		{"year not a number", "next:\n  holidays: [2031-01-01]\n", "cannot unmarshal"},
		{"no holidays", "2031:\n  workdays: [2031-01-04]\n", "2031: no holidays listed"},
		{"nested entry", "2031:\n  holidays: [[2031-01-01]]\n", "want YYYY-MM-DD"},
		{"two documents", "2031:\n  holidays: [2031-01-01]\n---\n2032:\n  holidays: [2032-01-01]\n", "single YAML document"},
	}
	for _, tt := range tests {
		c, err := Load(strings.NewReader(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) || c != nil {
			t.Errorf("%s: Load got (%v, %v), want error containing %q", tt.name, c, err, tt.want)
		}
	}
}
