package detectors_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/schema/schematest"
)

// recorder keeps the alerts recorded, by key, as desk.Review would.
type recorder struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (r *recorder) Record(_ context.Context, alerts []risk.Alert) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]bool{}
	}
	opened := 0
	for _, a := range alerts {
		if !r.keys[a.Key()] {
			r.keys[a.Key()] = true
			opened++
		}
	}
	return opened, nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.keys) }

// counting is a detector that raises one alert per window and counts its
// runs per window.
type counting struct {
	mu   sync.Mutex
	runs map[time.Time]int
	fail atomic.Bool
}

func (c *counting) def() detectors.Definition {
	c.runs = map[time.Time]int{}
	return detectors.Definition{Name: "test", Schedule: "@every 1m", Timeout: 10 * time.Second, Window: time.Hour,
		Detect: func(_ context.Context, w risk.Window) ([]risk.Alert, error) {
			c.mu.Lock()
			c.runs[w.Start]++
			c.mu.Unlock()
			if c.fail.Load() {
				return nil, errors.New("clickhouse: connection refused")
			}
			return []risk.Alert{{Labels: risk.Labels{"detector": "test", "subject": w.Start.Format(time.RFC3339)}, Window: w, Level: risk.LevelBlue, Summary: "测试", Seen: w.Start}}, nil
		}}
}

func TestSchedulerLedger(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	store := &recorder{}
	now := time.Date(2020, 3, 2, 10, 30, 0, 0, time.UTC)
	mark := now
	sched := func(owner string) *detectors.Scheduler {
		s := detectors.NewScheduler(pool, store, func(context.Context) (time.Time, error) { return mark, nil }, owner, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		s.Now = func() time.Time { return now }
		s.MaxCatchUp = 4
		return s
	}
	c := &counting{}
	d := c.def()
	s := sched("a")

	// Before anything is ingested, nothing is due.
	mark = time.Time{}
	if n := s.Tick(ctx, d); n != 0 {
		t.Fatalf("with no ingestion, ran %d windows", n)
	}
	mark = now

	// First tick: the latest complete window only.
	if n := s.Tick(ctx, d); n != 1 {
		t.Fatalf("first tick ran %d windows, want 1", n)
	}
	// The same time again: nothing new.
	if n := s.Tick(ctx, d); n != 0 {
		t.Errorf("second tick at the same time ran %d windows, want 0", n)
	}

	// Ten hours of downtime: the four newest windows run, oldest first; six become a gap.
	now = now.Add(10 * time.Hour)
	mark = now
	if n := s.Tick(ctx, d); n != 4 {
		t.Errorf("catch-up ran %d windows, want 4 (the cap)", n)
	}
	var gaps, done int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'gap'), count(*) FILTER (WHERE status = 'done') FROM detector_runs`).Scan(&gaps, &done); err != nil {
		t.Fatal(err)
	}
	if gaps != 1 || done != 5 {
		t.Errorf("ledger: %d gap rows, %d done; want 1, 5", gaps, done)
	}
	for w, n := range c.runs {
		if n != 1 {
			t.Errorf("window %v ran %d times", w, n)
		}
	}

	// A lagging partition holds windows back.
	now = now.Add(3 * time.Hour)
	mark = now.Add(-150 * time.Minute)
	if n := s.Tick(ctx, d); n != 1 {
		t.Errorf("with ingestion 2.5h behind, ran %d windows, want 1", n)
	}
	mark = now
	if n := s.Tick(ctx, d); n != 2 {
		t.Errorf("after ingestion caught up, ran %d windows, want 2", n)
	}

	// A failing store is a failed window, retried on the next tick; never "no risk".
	now = now.Add(time.Hour)
	mark = now
	c.fail.Store(true)
	if n := s.Tick(ctx, d); n != 0 {
		t.Errorf("failing detector: %d windows done, want 0", n)
	}
	var failed int
	pool.QueryRow(ctx, `SELECT count(*) FROM detector_runs WHERE status = 'failed'`).Scan(&failed)
	if failed != 1 {
		t.Errorf("%d failed windows in the ledger, want 1", failed)
	}
	c.fail.Store(false)
	if n := s.Tick(ctx, d); n != 1 {
		t.Errorf("retry ran %d windows, want 1", n)
	}
	if alerts, want := store.count(), len(c.runs); alerts != want {
		t.Errorf("%d alerts for %d windows", alerts, want)
	}
}

func TestTwoSchedulersRunEachWindowOnce(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	now := time.Date(2020, 3, 2, 10, 30, 0, 0, time.UTC)
	c := &counting{}
	d := c.def()
	// Seed the ledger so that both replicas catch up the same 20 windows.
	if _, err := pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status) VALUES ('test', $1, $2, 'done')`,
		now.Add(-21*time.Hour).Truncate(time.Hour), now.Add(-20*time.Hour).Truncate(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	total := atomic.Int64{}
	store := &recorder{}
	for i := range 2 {
		s := detectors.NewScheduler(pool, store, func(context.Context) (time.Time, error) { return now, nil }, fmt.Sprint("replica-", i), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		s.Now = func() time.Time { return now }
		wg.Go(func() { total.Add(int64(s.Tick(ctx, d))) })
	}
	wg.Wait()
	if total.Load() != 20 || len(c.runs) != 20 {
		t.Errorf("two replicas ran %d windows (%d distinct), want 20", total.Load(), len(c.runs))
	}
	for w, n := range c.runs {
		if n != 1 {
			t.Errorf("window %v ran %d times", w, n)
		}
	}
	if alerts := store.count(); alerts != 20 {
		t.Errorf("%d alerts, want 20", alerts)
	}
}

// TestPruneKeepsWhatMatters: quiet done windows go; those with alerts,
// failures, gaps and the newest stay, and the next tick resumes after it.
func TestPruneKeepsWhatMatters(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	d := detectors.Definition{Name: "fast", Window: 5 * time.Second, IngestTime: true}
	base := time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)
	for i, st := range []string{"done", "done", "failed", "gap", "done", "done"} {
		alerts := 0
		if i == 1 {
			alerts = 2
		}
		start := base.Add(time.Duration(i) * d.Window)
		if _, err := pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, claimed_by, alerts) VALUES ($1, $2, $3, $4, 'test', $5)`,
			d.Name, start, start.Add(d.Window), st, alerts); err != nil {
			t.Fatal(err)
		}
	}
	s := detectors.NewScheduler(pool, &recorder{}, nil, "test", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err := s.Prune(ctx, d, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var kept []int
	rows, _ := pool.Query(ctx, `SELECT extract(epoch FROM window_start - $1)::int / 5 FROM detector_runs ORDER BY window_start`, base)
	for rows.Next() {
		var i int
		rows.Scan(&i)
		kept = append(kept, i)
	}
	if fmt.Sprint(kept) != "[1 2 3 5]" {
		t.Errorf("windows kept %v, want [1 2 3 5]: the one with alerts, the failed, the gap, the newest", kept)
	}
}

// TestIngestWatermarkIgnoresStaleFutureTimes: a partition's watermark is
// the time of its latest write, so a 2099 updateTime written before the
// pipeline refused such times stops counting once the partition moves on.
func TestIngestWatermarkIgnoresStaleFutureTimes(t *testing.T) {
	conn, _ := schematest.Open(t)
	ctx := context.Background()
	rows := []struct {
		partition int32
		next      uint64
		event     time.Time
		written   time.Time
	}{
		{0, 10, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC)},
		{0, 20, time.Date(2020, 3, 1, 9, 0, 0, 0, time.UTC), time.Date(2020, 3, 1, 9, 0, 5, 0, time.UTC)},
		{1, 7, time.Date(2020, 3, 1, 9, 30, 0, 0, time.UTC), time.Date(2020, 3, 1, 9, 30, 5, 0, time.UTC)},
	}
	b, err := conn.PrepareBatch(ctx, `INSERT INTO ingest_watermarks (topic, partition, next_offset, event_time, written_at)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := b.Append("hotline.workorders", r.partition, r.next, r.event, r.written); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	got, err := detectors.IngestWatermark(conn)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 3, 1, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("watermark %v, want %v: partition 0's latest write, not its 2099", got, want)
	}
}

// TestSchedulerKeepsHistoryNotes: what a run could not compare for want of
// history is kept beside its window in the ledger, for the figures.
func TestSchedulerKeepsHistoryNotes(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	now := time.Date(2020, 3, 2, 10, 30, 0, 0, time.UTC)
	s := detectors.NewScheduler(pool, &recorder{}, func(context.Context) (time.Time, error) { return now, nil }, "a", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	s.Now = func() time.Time { return now }
	d := (&counting{}).def()
	d.History = func(_ context.Context, w risk.Window) (string, error) {
		return "历史不足：" + w.Start.Format("15:04"), nil
	}
	if n := s.Tick(ctx, d); n != 1 {
		t.Fatalf("ran %d windows, want 1", n)
	}
	var note string
	if err := pool.QueryRow(ctx, `SELECT note FROM detector_runs WHERE detector = 'test' AND status = 'done'`).Scan(&note); err != nil {
		t.Fatal(err)
	}
	if note != "历史不足：09:00" {
		t.Errorf("ledger note %q, want the window's", note)
	}
}

// A backfill records every window of its range once and the scheduler goes
// on after it, not from the latest window again.
func TestBackfillThenTick(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	store := &recorder{}
	now := time.Date(2020, 3, 2, 10, 30, 0, 0, time.UTC)
	s := detectors.NewScheduler(pool, store, func(context.Context) (time.Time, error) { return now, nil }, "a", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	s.Now = func() time.Time { return now }
	c := &counting{}
	d := c.def()

	from := now.Add(-48 * time.Hour).Truncate(time.Hour)
	opened, err := s.Backfill(ctx, []detectors.Definition{d}, from, now.Truncate(time.Hour), detectors.BacktestConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if opened != 48 || store.count() != 48 {
		t.Fatalf("backfill opened %d alerts (%d recorded), want one per window: 48", opened, store.count())
	}
	var done, alerts int
	if err := pool.QueryRow(ctx, `SELECT count(*), sum(alerts) FROM detector_runs WHERE status = 'done'`).Scan(&done, &alerts); err != nil {
		t.Fatal(err)
	}
	if done != 48 || alerts != 48 {
		t.Errorf("ledger: %d windows done with %d alerts, want 48 and 48", done, alerts)
	}
	if n := s.Tick(ctx, d); n != 0 {
		t.Errorf("a tick right after the backfill ran %d windows, want 0", n)
	}
	now = now.Add(2 * time.Hour)
	if n := s.Tick(ctx, d); n != 2 {
		t.Errorf("two hours later a tick ran %d windows, want 2", n)
	}
	for w, n := range c.runs {
		if n != 1 {
			t.Errorf("window %v ran %d times", w, n)
		}
	}
}

// TestSchedulerMetrics reads what an operator's dashboard shows after real
// runs: the last success from the ledger at start, unchanged by a failed
// window, moved by a good one; the alerts opened; the last run's duration.
func TestSchedulerMetrics(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	now := time.Date(2020, 3, 2, 10, 30, 0, 0, time.UTC)
	earlier := time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, finished_at) VALUES ('test', $1, $2, 'done', $3)`,
		earlier.Add(-time.Hour), earlier, earlier); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := detectors.NewScheduler(pool, &recorder{}, func(context.Context) (time.Time, error) { return now, nil }, "a", reg, slog.New(slog.DiscardHandler))
	s.Now = func() time.Time { return now }
	s.MaxCatchUp = 3
	c := &counting{}
	d := c.def()
	slow := d.Detect
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		time.Sleep(20 * time.Millisecond)
		return slow(ctx, w)
	}

	// Run reads the last success from the ledger before its first tick.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Run(rctx, []detectors.Definition{d}) }()
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, reg, "risk_detector_last_success_timestamp_seconds", "test") != float64(earlier.Unix()) {
		if time.Now().After(deadline) {
			t.Fatalf("last success = %v after start, want %v from the ledger", metric(t, reg, "risk_detector_last_success_timestamp_seconds", "test"), earlier.Unix())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w := metric(t, reg, "risk_detector_window_seconds", "test"); w != time.Hour.Seconds() {
		t.Errorf("window = %vs, want 3600", w)
	}

	c.fail.Store(true)
	s.Tick(ctx, d)
	if got := metric(t, reg, "risk_detector_last_success_timestamp_seconds", "test"); got != float64(earlier.Unix()) {
		t.Errorf("last success after failed windows = %v, want still %v", got, earlier.Unix())
	}
	if got := metric(t, reg, "risk_detector_alerts_total", "test"); got != 0 {
		t.Errorf("alerts after failed windows = %v, want 0", got)
	}
	c.fail.Store(false)
	ran := s.Tick(ctx, d)
	if ran == 0 {
		t.Fatal("the retry ran no window")
	}
	if got := metric(t, reg, "risk_detector_last_success_timestamp_seconds", "test"); got != float64(now.Unix()) {
		t.Errorf("last success after %d good windows = %v, want %v", ran, got, now.Unix())
	}
	if got := metric(t, reg, "risk_detector_alerts_total", "test"); got != float64(ran) {
		t.Errorf("alerts = %v after %d windows raising one each, want %d", got, ran, ran)
	}
	if got := metric(t, reg, "risk_detector_last_run_duration_seconds", "test"); got < 0.02 {
		t.Errorf("last run took %vs, but the detector sleeps 20ms", got)
	}
}

// metric gathers reg and returns name's value in the series whose first
// label is label (0 when absent).
func metric(t testing.TB, reg prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}
