package desk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
)

// TestChangePassword: a user changes their own password with the old one;
// a wrong old one is refused and counted, and the change ends every session.
func TestChangePassword(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const old, fresh = "correct horse battery", "staple battery horse"
	zhou := f.users["zhou"]
	var tokens []string
	for i := range 2 { // two browsers
		_, s, err := f.Accounts.Login(ctx, "zhou", old, fmt.Sprintf("10.0.0.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, s.Token)
	}
	if err := f.Accounts.ChangePassword(ctx, zhou, "wrong horse battery", fresh); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("wrong old password: got %v, want ErrForbidden", err)
	}
	if err := f.Accounts.ChangePassword(ctx, zhou, old, "short"); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("short new password: got %v, want ErrInvalid", err)
	}
	for _, tok := range tokens {
		if _, _, err := f.Accounts.SessionUser(ctx, tok); err != nil {
			t.Fatalf("a refused change ended a session: %v", err)
		}
	}
	if err := f.Accounts.ChangePassword(ctx, zhou, old, fresh); err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if _, _, err := f.Accounts.SessionUser(ctx, tok); !errors.Is(err, desk.ErrUnauthenticated) {
			t.Errorf("a session outlived the password change: %v", err)
		}
	}
	if _, _, err := f.Accounts.Login(ctx, "zhou", old, "10.0.1.1"); !errors.Is(err, desk.ErrUnauthenticated) {
		t.Errorf("sign-in with the old password: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := f.Accounts.Login(ctx, "zhou", fresh, "10.0.1.2"); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
	got := f.auditActionsOf(t, "user.password")
	if want := []string{"zhou user.password_failed", "zhou user.password_change"}; !slices.Equal(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
	// Guessing the old password locks the account like failed sign-ins.
	for i := 0; i < f.cfg.Sessions.MaxFailures; i++ {
		f.Accounts.ChangePassword(ctx, zhou, fmt.Sprintf("guess number %d", i), old)
	}
	if err := f.Accounts.ChangePassword(ctx, zhou, fresh, old); !errors.Is(err, desk.ErrLocked) {
		t.Errorf("after %d wrong guesses: %v, want ErrLocked", f.cfg.Sessions.MaxFailures, err)
	}
}

// TestConfirmToChosenDesk: a reviewer sends an alert to another desk than
// the routed one, inside their jurisdiction and covering the matter.
func TestConfirmToChosenDesk(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	zhang := f.users["zhang"]
	f.alert(t, "A1", "collective", risk.LevelOrange, "330681109201", "", "") // the rule: 枫桥镇
	for _, tt := range []struct {
		desk string
		want error
	}{
		{"nowhere", risk.ErrInvalid},
		{"city", risk.ErrForbidden}, // 绍兴市: outside zhang's 诸暨市
	} {
		if _, err := f.Review.Confirm(ctx, zhang, "A1", tt.desk, ""); !errors.Is(err, tt.want) {
			t.Errorf("confirm to %s: got %v, want %v", tt.desk, err, tt.want)
		}
	}
	f.alert(t, "A2", "collective", risk.LevelOrange, "330681109202", "", "")
	if _, err := f.Review.Confirm(ctx, zhang, "A2", "fengyuan", ""); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("confirm to a village desk that does not cover the matter: %v, want ErrInvalid", err)
	}
	if a, err := f.Review.GetAlert(ctx, zhang, "A1"); err != nil || a.Status != "open" {
		t.Fatalf("after refusals the alert is %q, %v; want open", a.Status, err)
	}
	k, err := f.Review.Confirm(ctx, zhang, "A1", "county", "涉及多个乡镇")
	if err != nil {
		t.Fatal(err)
	}
	if k.Desk != "county" || k.FirstDesk != "county" {
		t.Errorf("case at %s (first %s), want the chosen county desk", k.Desk, k.FirstDesk)
	}
	a, err := f.Review.GetAlert(ctx, zhang, "A1")
	if err != nil || a.Desk != "county" || !strings.Contains(a.RouteReason, "研判人员指定诸暨市矛调中心") || !strings.Contains(a.RouteReason, "枫桥镇综治中心") {
		t.Errorf("alert routed to %q because %q, %v", a.Desk, a.RouteReason, err)
	}
	entries, err := f.Audit.Entries(ctx, zhang, desk.AuditFilter{Alert: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e desk.AuditEntry) bool { return e.Action == "alert.confirm" })
	if i < 0 || !strings.Contains(string(entries[i].Detail), `"chosen": "county"`) || !strings.Contains(string(entries[i].Detail), `"routed": "fengqiao"`) {
		t.Errorf("audit of the confirmation: %v", entries)
	}
	// The routed desk, named: no "chosen" against the rule.
	k2, err := f.Review.Confirm(ctx, zhang, "A2", "fengqiao", "")
	if err != nil || k2.Desk != "fengqiao" {
		t.Errorf("confirm to the routed desk by name: %+v, %v", k2, err)
	}
}

// TestCaseOutcome: the mediator records the agreement and amount while
// mediating or once settled, versioned like every case write.
func TestCaseOutcome(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "O1", "collective", risk.LevelOrange, "330681109201", "", "")
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "O1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	li := f.users["li"]
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, ""); err != nil {
		t.Fatal(err)
	}
	deal := desk.Outcome{Agreement: "公司分两期支付欠薪，联系人电话13805712345", Amount: 120000.5}
	if _, err := f.Cases.SetOutcome(ctx, li, k.ID, k.Version, deal); !errors.Is(err, risk.ErrConflict) {
		t.Errorf("outcome of an accepted case: %v, want ErrConflict", err)
	}
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActStart, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		by      string
		version int
		o       desk.Outcome
		want    error
	}{
		{"negative amount", "li", k.Version, desk.Outcome{Agreement: "x", Amount: -1}, risk.ErrInvalid},
		{"no agreement", "li", k.Version, desk.Outcome{Agreement: "  ", Amount: 1}, risk.ErrInvalid},
		{"another member", "zhou", k.Version, deal, risk.ErrForbidden},
		{"a reviewer", "zhang", k.Version, deal, risk.ErrForbidden},
		{"stale version", "li", k.Version - 1, deal, risk.ErrConflict},
	} {
		if _, err := f.Cases.SetOutcome(ctx, f.users[tt.by], k.ID, tt.version, tt.o); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	got, err := f.Cases.SetOutcome(ctx, li, k.ID, k.Version, deal)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome == nil || got.Outcome.Amount != 120000.5 || got.Outcome.By != "li" || got.Outcome.At.IsZero() || got.Version != k.Version+1 {
		t.Fatalf("case after the outcome: %+v, outcome %+v", got, got.Outcome)
	}
	if strings.Contains(got.Outcome.Agreement, "13805712345") || !strings.Contains(got.Outcome.Agreement, "分两期") {
		t.Errorf("agreement %q: want it stored masked", got.Outcome.Agreement)
	}
	// Settled, it may still be corrected; reading it shows the outcome.
	if k, err = f.Cases.Act(ctx, li, k.ID, got.Version, risk.ActSettle, ""); err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.SetOutcome(ctx, li, k.ID, k.Version, desk.Outcome{Agreement: "一次付清", Amount: 0}); err != nil || k.Outcome.Amount != 0 {
		t.Fatalf("correcting a settled case's outcome: %+v, %v", k.Outcome, err)
	}
	if read, err := f.Cases.Case(ctx, f.users["zhang"], k.ID); err != nil || read.Outcome == nil || read.Outcome.Agreement != "一次付清" {
		t.Errorf("case read back: %+v, %v", read.Outcome, err)
	}
	if got := f.auditActionsOf(t, "case.outcome"); !slices.Equal(got, []string{"li case.outcome", "li case.outcome"}) {
		t.Errorf("audit %q: want two outcomes by li", got)
	}
}

// TestDetectorFigures counts alerts per detector and day or week of China
// time, with what became of them: figures worked out by hand below.
func TestDetectorFigures(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, a := range []struct {
		key, detector, region, created, status, reason string
	}{
		{"S1", "surge", "330681109201", "2020-03-01 23:30", "dismissed", "false_positive"}, // Sunday, 15:30 UTC
		{"S2", "surge", "330681109201", "2020-03-02 00:30", "confirmed", ""},               // Monday, 1 March 16:30 UTC
		{"S3", "surge", "330681109202", "2020-03-02 10:00", "dismissed", "false_positive"},
		{"S4", "surge", "330681109201", "2020-03-03 10:00", "dismissed", "handled"},
		{"S5", "surge", "330681110201", "2020-03-03 11:00", "open", ""},
		{"C1", "collective", "330681109201", "2020-03-02 09:00", "merged", ""},
		{"X1", "surge", "330682101201", "2020-03-02 09:00", "open", ""}, // another county
		{"L1", "surge", "330681109201", "2020-03-09 00:00", "open", ""}, // at the end: out
	} {
		f.alert(t, a.key, a.detector, risk.LevelBlue, a.region, "", "")
		if _, err := f.pool.Exec(ctx, `UPDATE alerts SET created_at = $2, status = $3, dismiss_reason = nullif($4, '') WHERE key = $1`,
			a.key, at(a.created), a.status, a.reason); err != nil {
			t.Fatal(err)
		}
	}
	show := func(fs []desk.DetectorFigure) []string {
		var out []string
		for _, x := range fs {
			if x.Start.Location() != risk.CST {
				t.Errorf("bucket %v is not in risk.CST", x.Start)
			}
			out = append(out, fmt.Sprintf("%s %s raised %d confirmed %d merged %d open %d dismissed %v",
				x.Start.Format("01-02 15:04"), x.Detector, x.Raised, x.Confirmed, x.Merged, x.Open, x.Dismissed))
		}
		return out
	}
	from, to := at("2020-02-24 00:00"), at("2020-03-09 00:00")
	for _, tt := range []struct {
		step string
		want []string
	}{
		{"day", []string{
			"03-01 00:00 surge raised 1 confirmed 0 merged 0 open 0 dismissed map[false_positive:1]",
			"03-02 00:00 collective raised 1 confirmed 0 merged 1 open 0 dismissed map[]",
			"03-02 00:00 surge raised 2 confirmed 1 merged 0 open 0 dismissed map[false_positive:1]",
			"03-03 00:00 surge raised 2 confirmed 0 merged 0 open 1 dismissed map[handled:1]",
		}},
		{"week", []string{
			"02-24 00:00 surge raised 1 confirmed 0 merged 0 open 0 dismissed map[false_positive:1]",
			"03-02 00:00 collective raised 1 confirmed 0 merged 1 open 0 dismissed map[]",
			"03-02 00:00 surge raised 4 confirmed 1 merged 0 open 1 dismissed map[false_positive:1 handled:1]",
		}},
	} {
		for _, who := range []string{"zhang", "chen", "admin"} {
			got, err := f.Stats.Detectors(ctx, f.users[who], from, to, tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(show(got), tt.want) {
				t.Errorf("%s by %s:\n got %q\nwant %q", tt.step, who, show(got), tt.want)
			}
		}
	}
	if _, err := f.Stats.Detectors(ctx, f.users["li"], from, to, "day"); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("a mediator: %v, want ErrForbidden", err)
	}
	if _, err := f.Stats.Detectors(ctx, f.users["zhang"], from, to, "month"); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("step month: %v, want ErrInvalid", err)
	}
	if got, err := f.Stats.Detectors(ctx, f.users["qian"], from, to, "day"); err != nil || len(got) != 1 || got[0].Raised != 1 {
		t.Errorf("the other county's reviewer: %v, %v; want their one alert", show(got), err)
	}
}

// TestPeriodFigures counts one week's alerts (by the end of their window)
// and cases inside a region,
// figures worked out by hand below, and lists its notable alerts and
// escalations without a person.
func TestPeriodFigures(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.clock.set(at("2020-03-20 12:00"))
	for _, a := range []struct {
		key    string
		level  risk.Level
		region string
		ends   string // the window's end; every alert is recorded later, as a backtest does
	}{
		{"A1", risk.LevelRed, "330681109201", "2020-03-02 00:30"}, // Monday, 1 March 16:30 UTC: in
		{"A2", risk.LevelOrange, "330681109202", "2020-03-04 10:00"},
		{"A3", risk.LevelBlue, "330681109202", "2020-03-08 23:59"},
		{"A4", risk.LevelRed, "330681109201", "2020-03-01 23:59"}, // the week before
		{"A5", risk.LevelRed, "330682101201", "2020-03-03 10:00"}, // another county
	} {
		f.alert(t, a.key, "surge", a.level, a.region, "pk-wang", "")
		end := at(a.ends)
		if _, err := f.pool.Exec(ctx, `UPDATE alerts SET window_start = $2, window_end = $3, created_at = $4 WHERE key = $1`,
			a.key, end.Add(-time.Hour), end, at("2020-03-20 12:00")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id                                int
		desk, first, status, region       string
		created, due, closed, escalatedAt string
	}{
		// opened and settled in the week at its first desk
		{1, "fengqiao", "fengqiao", "settled", "330681109201", "2020-03-02 09:00", "2020-03-10 17:30", "2020-03-05 10:00", ""},
		// opened before, escalated and settled in the week above its first desk
		{2, "county", "fengqiao", "settled", "330681109202", "2020-02-20 09:00", "2020-03-20 17:30", "2020-03-06 10:00", "2020-03-03 09:00"},
		// due in the week, still open: overdue
		{3, "fengqiao", "fengqiao", "mediating", "330681109201", "2020-02-25 09:00", "2020-03-06 17:30", "", ""},
		// due in the week, closed after its deadline: overdue too
		{4, "fengqiao", "fengqiao", "terminated", "330681109201", "2020-02-25 09:00", "2020-03-04 17:30", "2020-03-12 10:00", ""},
		// due in the week and closed in time; opened in the week
		{5, "fengyuan", "fengyuan", "settled", "330681109201", "2020-03-03 09:00", "2020-03-07 17:30", "2020-03-07 09:00", ""},
	} {
		var closed *time.Time
		if c.closed != "" {
			v := at(c.closed)
			closed = &v
		}
		if _, err := f.pool.Exec(ctx, `INSERT INTO cases (id, desk_id, first_desk_id, status, level, kind, title, region, received_at, due_at, created_at, closed_at, escalations)
			VALUES ($1, $2, $3, $4, 'orange', 'surge', '王某某 13800000000 欠薪', $5, $6, $7, $6, $8, CASE WHEN $9::text <> '' THEN 1 ELSE 0 END)`,
			c.id, c.desk, c.first, c.status, c.region, at(c.created), at(c.due), closed, c.escalatedAt); err != nil {
			t.Fatal(err)
		}
		if c.escalatedAt != "" {
			if _, err := f.pool.Exec(ctx, `INSERT INTO escalations (case_id, from_desk, to_desk, by_user, reason, at) VALUES ($1, $2, $3, '', '超期', $4)`,
				c.id, c.first, c.desk, at(c.escalatedAt)); err != nil {
				t.Fatal(err)
			}
		}
	}
	from, to := at("2020-03-02 00:00"), at("2020-03-09 00:00")
	got, err := f.Stats.Period(ctx, f.users["chen"], "330681", from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := desk.PeriodFigures{Region: "330681", From: from, To: to, Alerts: map[string]int{"red": 1, "orange": 1, "blue": 1},
		Opened: 2, Settled: 3, SettledFirst: 2, Escalated: 1, Overdue: 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("week of 2 March:\n got %+v\nwant %+v", got, want)
	}
	// The village alone: A1, cases 1, 3, 4, 5.
	got, err = f.Stats.Period(ctx, f.users["chen"], "330681109201", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if got.Alerts["red"] != 1 || got.Alerts["orange"] != 0 || got.Opened != 2 || got.Settled != 2 || got.SettledFirst != 2 || got.Escalated != 0 || got.Overdue != 2 {
		t.Errorf("枫源村: %+v", got)
	}
	if _, err := f.Stats.Period(ctx, f.users["chen"], "330682", from, to); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("another county: %v, want ErrForbidden", err)
	}
	if _, err := f.Stats.Period(ctx, f.users["li"], "330681109", from, to); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("a mediator: %v, want ErrForbidden", err)
	}

	alerts, escalations, err := f.Stats.Notable(ctx, f.users["chen"], "330681", from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, a := range alerts {
		lines = append(lines, fmt.Sprintf("%s %s %s", a.Level, a.Region, a.At.In(risk.CST).Format("01-02 15:04")))
	}
	for _, e := range escalations {
		lines = append(lines, fmt.Sprintf("%s→%s clock=%v open=%v", e.From, e.To, e.ByClock, e.CaseOpen))
	}
	wantLines := []string{"red 330681109201 03-02 00:30", "orange 330681109202 03-04 10:00", "枫桥镇综治中心→诸暨市矛调中心 clock=true open=false"}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("notable:\n got %q\nwant %q", lines, wantLines)
	}
}
