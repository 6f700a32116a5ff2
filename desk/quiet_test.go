package desk_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/desk/desktest"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

func overdue(id string, level risk.Level, reminder bool) risk.Alert {
	w := risk.Window{Start: at("2020-03-02 08:00"), End: at("2020-03-02 09:00")}
	return risk.Alert{
		Labels:   risk.Labels{"detector": "overdue", "region": "330681109", "category": "城乡建设", "subject": "hotline:" + id},
		Window:   w,
		Level:    level,
		Summary:  "将到期：330681109 " + id + " 的城乡建设事项仍未办结",
		Evidence: []risk.Evidence{{Source: risk.SourceHotline, ID: id}},
		Seen:     w.End,
		Reminder: reminder,
	}
}

// TestRemindersStayOutOfTheQueue: a reminder (将到期, a routine order late)
// goes to the robots of the desk that owns the place, once; the reviewers'
// queue holds only the early warnings.
func TestRemindersStayOutOfTheQueue(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	warning := overdue("H-dispute", risk.LevelYellow, false)
	warning.Summary, warning.Labels["category"] = "已超期：330681109 H-dispute 的劳资纠纷事项仍未办结", "劳资纠纷"
	batch := []risk.Alert{overdue("H-soon", risk.LevelBlue, true), warning}
	for range 2 { // a re-run tells nobody twice
		if _, err := f.Review.Record(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	queue, _, err := f.Review.Alerts(ctx, f.users["zhang"], desk.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != 1 || queue[0].Evidence[0].ID != "H-dispute" {
		t.Errorf("the queue holds %d alerts (%v), want only the late dispute", len(queue), queue)
	}
	notices, err := f.Outbox.Notices(ctx, f.users["admin"], "fengqiao", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, n := range notices {
		told = append(told, n.Title)
	}
	if len(told) != 1 || !strings.Contains(told[0], "H-soon") {
		t.Errorf("枫桥镇's robot was told %q, want the reminder of H-soon once", told)
	}
}

// TestAlertOfDeletedEvidenceIsWithdrawn: records deleted upstream (grid
// 06) stop being evidence; an open alert with nothing else is withdrawn, and
// its log says why. Real ClickHouse and PostgreSQL.
func TestAlertOfDeletedEvidenceIsWithdrawn(t *testing.T) {
	conn, _ := schematest.Open(t)
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	parts, err := desk.New(pool, desk.DefaultConfig(), desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText,
		Parties: desktest.Parties{}, Deleted: pipeline.NewRecordReader(conn)})
	if err != nil {
		t.Fatal(err)
	}
	raised := at("2020-03-02 08:00")
	version := func(id string, v uint32, status risk.Status, updated time.Time) pipeline.Stored {
		return pipeline.Stored{Event: risk.Event{Source: risk.SourceGrid, ID: id, Version: v, UpdatedAt: updated, OccurredAt: raised,
			Region: risk.Region{Code: "330681109201"}, GridCode: "G1", Category: "邻里纠纷", Status: status, HeadCount: -1, PetitionerCount: -1, Amount: -1}}
	}
	w := pipeline.NewEventWriter(conn)
	if err := w.WriteEvents(ctx, []pipeline.Stored{
		version("G-gone", 1, risk.StatusOpen, raised), version("G-gone", 2, risk.StatusDeleted, raised.Add(2*time.Hour)),
		version("G-also-gone", 1, risk.StatusOpen, raised), version("G-also-gone", 2, risk.StatusDeleted, raised.Add(3*time.Hour)),
		version("G-kept", 1, risk.StatusOpen, raised),
	}); err != nil {
		t.Fatal(err)
	}
	alert := func(subject string, ids ...string) risk.Alert {
		a := collective(0, risk.LevelOrange)
		a.Labels["subject"] = subject
		for _, id := range ids {
			a.Evidence = append(a.Evidence, risk.Evidence{Source: risk.SourceGrid, ID: id})
		}
		return a
	}
	gone, mixed := alert("estate:甲", "G-gone", "G-also-gone"), alert("estate:乙", "G-gone", "G-kept")
	if _, err := parts.Review.Record(ctx, []risk.Alert{gone, mixed}); err != nil {
		t.Fatal(err)
	}
	if err := parts.Review.Withdraw(ctx); err != nil {
		t.Fatal(err)
	}
	admin := desk.User{Username: "admin", Role: desk.RoleAdmin, Jurisdiction: "330681"}
	for _, tt := range []struct {
		a    risk.Alert
		want string
	}{{gone, "withdrawn"}, {mixed, "open"}} {
		got, err := parts.Review.GetAlert(ctx, admin, tt.a.Key())
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tt.want {
			t.Errorf("alert of %v: %s, want %s", tt.a.Evidence, got.Status, tt.want)
		}
	}
	entries, err := parts.Audit.Entries(ctx, admin, desk.AuditFilter{Alert: gone.Key()})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e desk.AuditEntry) bool { return e.Action == "alert.withdraw" })
	if i < 0 {
		t.Fatalf("the withdrawn alert's log: %v, want alert.withdraw", entries)
	}
	var detail struct {
		Reason  string          `json:"reason"`
		Records []risk.Evidence `json:"records"`
	}
	if err := json.Unmarshal(entries[i].Detail, &detail); err != nil || !strings.Contains(detail.Reason, "删除") || len(detail.Records) != 2 {
		t.Errorf("withdrawal's detail %s: want the reason (deleted upstream) and both records", entries[i].Detail)
	}
	if err := parts.Review.Withdraw(ctx); err != nil { // nothing more to do: once
		t.Fatal(err)
	}
	if again, _ := parts.Audit.Entries(ctx, admin, desk.AuditFilter{Alert: gone.Key()}); len(again) != len(entries) {
		t.Errorf("a second pass logged %d entries, want %d", len(again), len(entries))
	}
}

// TestFiguresSayWhatIsSilent: what a detector's latest run could not
// compare for want of history is in the figures centre staff read.
func TestFiguresSayWhatIsSilent(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	note := "历史不足4周：3个乡镇×类别的部分或全部数据来源起始不足4周，暂不比较（最晚于2020-03-20起可比较）"
	for _, r := range []struct {
		detector, start, note string
	}{{"trend", "2020-02-29 00:00", "older words"}, {"trend", "2020-03-01 00:00", note}, {"surge", "2020-03-01 00:00", ""}} {
		start := at(r.start)
		if _, err := f.pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, note) VALUES ($1, $2, $3, 'done', $4)`,
			r.detector, start, start.Add(24*time.Hour), r.note); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.Stats.Figures(ctx, f.users["zhang"])
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) != 1 || got.History["trend"] != note {
		t.Errorf("figures' history %v, want trend's latest note only", got.History)
	}
}
