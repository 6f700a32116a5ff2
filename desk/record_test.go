package desk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

var day = time.Date(2020, 2, 24, 0, 0, 0, 0, time.UTC)

func collective(windowDay int, level risk.Level, ids ...string) risk.Alert {
	a := risk.Alert{
		Labels:  risk.Labels{"detector": "collective", "region": "330681109", "category": "劳资纠纷", "subject": "安置房项目"},
		Window:  risk.Window{Start: day.AddDate(0, 0, windowDay), End: day.AddDate(0, 0, windowDay+1)},
		Level:   level,
		Summary: "枫桥镇安置房项目欠薪：多人反映",
		Numbers: map[string]float64{"persons": float64(len(ids))},
		Seen:    day.AddDate(0, 0, windowDay).Add(time.Hour),
	}
	for _, id := range ids {
		a.Evidence = append(a.Evidence, risk.Evidence{Source: risk.SourceHotline, ID: id})
	}
	return a
}

// review is the desks' review over pool, as one replica has it.
func review(t *testing.T, pool *pgxpool.Pool) *desk.Review {
	t.Helper()
	parts, err := desk.New(pool, desk.DefaultConfig(), desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText})
	if err != nil {
		t.Fatal(err)
	}
	return parts.Review
}

func TestRecordSuppressesAndIsIdempotent(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	s := review(t, pool)
	ctx := context.Background()

	first := collective(0, risk.LevelYellow, "A", "B")
	if n, err := s.Record(ctx, []risk.Alert{first}); err != nil || n != 1 {
		t.Fatalf("first record: opened %d, err %v; want 1", n, err)
	}
	if n, err := s.Record(ctx, []risk.Alert{first}); err != nil || n != 0 {
		t.Fatalf("same window again: opened %d, err %v; want 0", n, err)
	}
	// The next day's evidence joins the open alert, and its level rises.
	if n, err := s.Record(ctx, []risk.Alert{collective(1, risk.LevelOrange, "B", "C")}); err != nil || n != 0 {
		t.Fatalf("next window while open: opened %d, err %v; want 0", n, err)
	}
	got := stored(t, pool, first.Key())
	if len(got.Evidence) != 3 || got.Level != risk.LevelOrange || !got.WindowEnd.Equal(day.AddDate(0, 0, 2)) {
		t.Errorf("joined alert: %d evidence, level %s, window end %v; want 3, orange, %v", len(got.Evidence), got.Level, got.WindowEnd, day.AddDate(0, 0, 2))
	}

	// Closed, then recurring: a new alert linking the old one.
	if _, err := pool.Exec(ctx, `UPDATE alerts SET status = 'closed' WHERE key = $1`, first.Key()); err != nil {
		t.Fatal(err)
	}
	again := collective(5, risk.LevelYellow, "D")
	if n, err := s.Record(ctx, []risk.Alert{again}); err != nil || n != 1 {
		t.Fatalf("recurrence: opened %d, err %v; want 1", n, err)
	}
	if got := stored(t, pool, again.Key()); got.PreviousKey != first.Key() {
		t.Errorf("recurrence links %q, want %q", got.PreviousKey, first.Key())
	}
	// Re-running the first window, closed long ago, raises nothing.
	if n, err := s.Record(ctx, []risk.Alert{first}); err != nil || n != 0 {
		t.Errorf("re-run of a closed window: opened %d, err %v; want 0", n, err)
	}
}

// storedAlert is what a test reads back of a recorded alert.
type storedAlert struct {
	Level       risk.Level
	Evidence    []risk.Evidence
	WindowEnd   time.Time
	PreviousKey string
}

func stored(t *testing.T, pool *pgxpool.Pool, key string) storedAlert {
	t.Helper()
	var a storedAlert
	var ev []byte
	err := pool.QueryRow(context.Background(), `SELECT level, evidence, window_end, coalesce(previous_key, '') FROM alerts WHERE key = $1`, key).
		Scan(&a.Level, &ev, &a.WindowEnd, &a.PreviousKey)
	if err == nil {
		err = json.Unmarshal(ev, &a.Evidence)
	}
	if err != nil {
		t.Fatalf("alert %s: %v", key, err)
	}
	return a
}

func TestRecordConcurrentlyOpensOne(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	opened := make(chan int, 8)
	for i := range 8 {
		s := review(t, pool) // as if on another replica
		wg.Go(func() {
			n, err := s.Record(ctx, []risk.Alert{collective(i%3, risk.LevelBlue, fmt.Sprint("E", i))})
			if err != nil {
				t.Error(err)
			}
			opened <- n
		})
	}
	wg.Wait()
	close(opened)
	total := 0
	for n := range opened {
		total += n
	}
	var open, evidence int
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(jsonb_array_length(evidence)), 0) FROM alerts WHERE status = 'open'`).Scan(&open, &evidence); err != nil {
		t.Fatal(err)
	}
	if total != 1 || open != 1 || evidence != 8 {
		t.Errorf("8 racing records: %d opened, %d open alerts holding %d evidence; want 1, 1, 8", total, open, evidence)
	}
}

// TestRecordedAlertsArePublished: every run's alert that opened or joined
// an alert goes to riskwatch.alerts once, keyed by its scope, in the JSON
// other systems read; a re-run of a window publishes nothing more.
func TestRecordedAlertsArePublished(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	s := review(t, pool)
	ctx := context.Background()
	first, next := collective(0, risk.LevelYellow, "A", "B"), collective(1, risk.LevelOrange, "B", "C")
	for _, run := range [][]risk.Alert{{first}, {first}, {next}} {
		if _, err := s.Record(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	alerts := &topic{}
	sender := desk.NewSender(pool, nil, desk.Publishers{Alerts: alerts}, desk.DefaultConfig().Notify, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if _, err := sender.PublishEvents(ctx, desk.TopicAlerts); err != nil {
		t.Fatal(err)
	}
	got := alerts.published()
	if len(got) != 2 {
		t.Fatalf("riskwatch.alerts got %d messages, want 2: the first window's alert and the next one's that joined it", len(got))
	}
	for i, a := range []risk.Alert{first, next} {
		// Byte for byte the JSON the detectors published before the outbox,
		// with the count of the evidence since it is capped.
		want, _ := json.Marshal(desk.AlertEvent{Key: a.Key(), ScopeKey: a.ScopeKey(), Detector: a.Detector(), Level: a.Level, Labels: a.Labels,
			WindowStart: a.Window.Start, WindowEnd: a.Window.End, Summary: a.Summary, Numbers: a.Numbers, Evidence: a.Evidence, EvidenceCount: len(a.Evidence)})
		if got[i].key != a.ScopeKey() || string(got[i].value) != string(want) {
			t.Errorf("message %d: key %q, %s; want alert %s keyed by its scope %s: %s", i, got[i].key, got[i].value, a.Key(), a.ScopeKey(), want)
		}
	}
}

// TestEvidenceIsCappedAndCounted: an alert of thousands of records lists
// the first MaxEvidence and counts every distinct one, however many windows
// name the same records again.
func TestEvidenceIsCappedAndCounted(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	s := review(t, pool)
	ctx := context.Background()
	ids := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("H-%05d", i))
		}
		return out
	}
	if _, err := s.Record(ctx, []risk.Alert{collective(0, risk.LevelOrange, ids(0, 300)...)}); err != nil {
		t.Fatal(err)
	}
	// The next window names 150 of the same records and 100 new ones.
	if _, err := s.Record(ctx, []risk.Alert{collective(1, risk.LevelOrange, ids(150, 400)...)}); err != nil {
		t.Fatal(err)
	}
	admin := desk.User{Username: "admin", Role: desk.RoleAdmin, Jurisdiction: "330681"}
	list, _, err := s.Alerts(ctx, admin, desk.AlertFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("alerts %v, %v; want one", list, err)
	}
	a := list[0]
	if len(a.Evidence) != desk.MaxEvidence || a.Evidence[0].ID != "H-00000" || a.EvidenceCount != 400 {
		t.Errorf("evidence: %d listed from %s, %d counted; want the first %d listed and 400 counted", len(a.Evidence), a.Evidence[0].ID, a.EvidenceCount, desk.MaxEvidence)
	}
	var published []byte
	if err := pool.QueryRow(ctx, `SELECT payload::text FROM outbox WHERE dedup_key LIKE 'alert/%' ORDER BY id LIMIT 1`).Scan(&published); err != nil {
		t.Fatal(err)
	}
	var ev desk.AlertEvent
	if err := json.Unmarshal(published, &ev); err != nil || len(ev.Evidence) != desk.MaxEvidence || ev.EvidenceCount != 300 {
		t.Errorf("published alert: %d records listed, %d counted (%v); want %d and 300", len(ev.Evidence), ev.EvidenceCount, err, desk.MaxEvidence)
	}
}

// TestRecordKeepsAPersonsCategory: a person's repeated matters have no
// category in their scope, but the alert keeps their newest's, for the
// queue's filter and the briefs' lines.
func TestRecordKeepsAPersonsCategory(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	s := review(t, pool)
	ctx := context.Background()
	a := risk.Alert{Labels: risk.Labels{"detector": "repeat", "person": "p1"}, Category: "劳动保障",
		Window: risk.Window{Start: day, End: day.Add(time.Hour)}, Level: risk.LevelYellow, Summary: "重复诉求", Seen: day,
		Region: "330681109201", Evidence: []risk.Evidence{{Source: risk.SourceHotline, ID: "H1"}}}
	if _, err := s.Record(ctx, []risk.Alert{a}); err != nil {
		t.Fatal(err)
	}
	var category string
	if err := pool.QueryRow(ctx, `SELECT category FROM alerts WHERE key = $1`, a.Key()).Scan(&category); err != nil {
		t.Fatal(err)
	}
	if category != "劳动保障" {
		t.Errorf("stored category %q, want 劳动保障", category)
	}
}
