package detectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/robfig/cron/v3"

	risk "riskwatch"
)

// alertRecorder keeps what a run found, and tells other systems of it
// (desk.Review: the alerts and their events in one transaction each).
type alertRecorder interface {
	Record(ctx context.Context, alerts []risk.Alert) (int, error)
}

// Scheduler runs detectors on their cron schedules over event-time windows.
// A window runs only once ingestion has passed its end on every partition;
// each window runs once, on one replica, as recorded in the run ledger
// (detector_runs); missed windows are caught up oldest first, and those
// beyond MaxCatchUp are recorded as a gap.
type Scheduler struct {
	pool       *pgxpool.Pool
	store      alertRecorder
	watermark  func(context.Context) (time.Time, error)
	Now        func() time.Time // the wall clock; tests set it
	owner      string
	MaxCatchUp int // windows one tick may catch up; older ones become a gap
	log        *slog.Logger
	metrics    schedulerMetrics
}

type schedulerMetrics struct {
	runs        *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	duration    *prometheus.GaugeVec
	window      *prometheus.GaugeVec
}

// NewScheduler returns a scheduler recording alerts through store (in
// serve, desk.Review) and runs in pool's ledger. watermark says how far
// ingestion has got (IngestWatermark); owner names this replica in the
// ledger.
func NewScheduler(pool *pgxpool.Pool, store alertRecorder, watermark func(context.Context) (time.Time, error), owner string, reg prometheus.Registerer, log *slog.Logger) *Scheduler {
	return &Scheduler{
		pool: pool, store: store, watermark: watermark, Now: time.Now, owner: owner, MaxCatchUp: 288,
		log: log.With("component", "detectors"), metrics: newSchedulerMetrics(reg),
	}
}

func newSchedulerMetrics(reg prometheus.Registerer) schedulerMetrics {
	f := promauto.With(reg)
	return schedulerMetrics{
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_detector_runs_total",
			Help: "Detector windows run, by outcome: done, failed, gap, waiting (ingestion behind).",
		}, []string{"detector", "outcome"}),
		alerts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_detector_alerts_total",
			Help: "Alerts opened by this replica's detector runs (an alert joining an open one of its scope is not counted).",
		}, []string{"detector"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "risk_detector_last_success_timestamp_seconds",
			Help: "When a window of the detector last finished without error: the run ledger's latest (any replica) when this replica started, then its own runs; take the max over replicas.",
		}, []string{"detector"}),
		duration: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "risk_detector_last_run_duration_seconds",
			Help: "How long this replica's last run of the detector took: detection, recording and history.",
		}, []string{"detector"}),
		window: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "risk_detector_window_seconds",
			Help: "The event time one run of the detector looks at: a window completes this often, so rules can tell a late detector from a slow schedule.",
		}, []string{"detector"}),
	}
}

// seed sets each detector's last success from the ledger, so that a
// replica that just started does not report detectors as never run.
func (s *Scheduler) seed(ctx context.Context, defs []Definition) {
	for _, d := range defs {
		s.metrics.window.WithLabelValues(d.Name).Set(d.Window.Seconds())
		s.metrics.alerts.WithLabelValues(d.Name) // 0 from the start, so that rates see the first alert
	}
	rows, err := s.pool.Query(ctx, `SELECT detector, max(finished_at) FROM detector_runs WHERE status = 'done' AND finished_at IS NOT NULL GROUP BY detector`)
	if err != nil {
		s.log.Warn("read last successes from the run ledger", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			s.log.Warn("read last successes from the run ledger", "err", err)
			return
		}
		s.metrics.lastSuccess.WithLabelValues(name).Set(float64(at.Unix()))
	}
}

// Run schedules defs until ctx ends, then waits for running detectors.
func (s *Scheduler) Run(ctx context.Context, defs []Definition) error {
	s.seed(ctx, defs)
	c := cron.New(cron.WithLocation(risk.CST), cron.WithChain(cron.Recover(cronLogger{s.log}), cron.SkipIfStillRunning(cronLogger{s.log})))
	for _, d := range defs {
		if _, err := c.AddFunc(d.Schedule, func() { s.Tick(ctx, d) }); err != nil {
			return fmt.Errorf("detector %s: schedule %q: %w", d.Name, d.Schedule, err)
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// Tick runs every window of d that is due and not yet run: failed ones
// first, then those since the last run, oldest first. It returns how many
// windows it ran.
func (s *Scheduler) Tick(ctx context.Context, d Definition) int {
	log := s.log.With("detector", d.Name)
	mark, err := s.watermark(ctx)
	if !d.IngestTime {
		if err != nil {
			log.Error("read ingest watermark; windows wait", "err", err)
			return 0
		}
		if mark.IsZero() {
			return 0 // nothing ingested yet: no window can be complete
		}
	}
	bound := align(minTime(s.Now(), mark), d.Window)
	if d.IngestTime {
		bound = align(s.Now().Add(-ingestSettle), d.Window)
	}
	windows, err := s.due(ctx, d, bound)
	if err != nil {
		log.Error("read run ledger", "err", err)
		return 0
	}
	ran := 0
	for _, w := range windows {
		if ctx.Err() != nil {
			break
		}
		if s.runWindow(ctx, d, w, log) {
			ran++
		}
	}
	if align(s.Now(), d.Window).After(bound) {
		s.metrics.runs.WithLabelValues(d.Name, "waiting").Inc()
	}
	if d.IngestTime && ran > 0 && s.Now().Minute() == 0 {
		if err := s.Prune(ctx, d, s.Now().Add(-LedgerKeep)); err != nil {
			log.Warn("prune run ledger", "err", err)
		}
	}
	return ran
}

// LedgerKeep is how long the ledger keeps the quiet windows of a detector
// that runs every few seconds: 17,280 rows a day would otherwise pile up.
const LedgerKeep = 7 * 24 * time.Hour

// Prune deletes d's done windows that raised nothing, with no note, and
// ended before before. Failed windows, gaps, windows with alerts and the latest window
// (where the next run resumes) stay.
func (s *Scheduler) Prune(ctx context.Context, d Definition, before time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM detector_runs WHERE detector = $1 AND status = 'done' AND alerts = 0 AND note = '' AND window_end < $2
		AND window_end < (SELECT max(window_end) FROM detector_runs WHERE detector = $1)`, d.Name, before)
	return err
}

// due lists the windows to run before bound, recording a gap for those
// older than MaxCatchUp windows.
func (s *Scheduler) due(ctx context.Context, d Definition, bound time.Time) ([]risk.Window, error) {
	var due []risk.Window // failed, or left running: the claim decides
	rows, err := s.pool.Query(ctx, `SELECT window_start, window_end FROM detector_runs
		WHERE detector = $1 AND status IN ('failed', 'running') AND window_end <= $2 ORDER BY window_start LIMIT $3`, d.Name, bound, s.MaxCatchUp)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var w risk.Window
		if err := rows.Scan(&w.Start, &w.End); err != nil {
			return nil, err
		}
		due = append(due, w)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var last *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT max(window_end) FROM detector_runs WHERE detector = $1`, d.Name).Scan(&last); err != nil {
		return nil, err
	}
	from := bound.Add(-d.Window) // a detector's first run starts with the latest window
	if last != nil {
		from = *last
	}
	if oldest := bound.Add(-time.Duration(s.MaxCatchUp) * d.Window); from.Before(oldest) {
		if _, err := s.pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, claimed_by, error)
			VALUES ($1, $2, $3, 'gap', $4, $5) ON CONFLICT DO NOTHING`,
			d.Name, from, oldest, s.owner, fmt.Sprintf("%d windows beyond the catch-up limit of %d", int(oldest.Sub(from)/d.Window), s.MaxCatchUp)); err != nil {
			return nil, err
		}
		s.metrics.runs.WithLabelValues(d.Name, "gap").Inc()
		s.log.Warn("windows skipped as a gap", "detector", d.Name, "from", from, "to", oldest)
		from = oldest
	}
	return append(due, windows(from, bound, d.Window)...), nil
}

// runWindow claims w in the ledger and runs it; false when another replica
// has it or it failed.
func (s *Scheduler) runWindow(ctx context.Context, d Definition, w risk.Window, log *slog.Logger) bool {
	lease := 2*d.Timeout + time.Minute
	var claimed bool
	err := s.pool.QueryRow(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, claimed_by, claimed_at)
		VALUES ($1, $2, $3, 'running', $4, now())
		ON CONFLICT (detector, window_start) DO UPDATE SET status = 'running', claimed_by = $4, claimed_at = now(), error = ''
		WHERE detector_runs.status = 'failed' OR (detector_runs.status = 'running' AND detector_runs.claimed_at < now() - $5::interval)
		RETURNING true`, d.Name, w.Start, w.End, s.owner, fmt.Sprintf("%d seconds", int(lease.Seconds()))).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false // done, a gap, or running elsewhere
	}
	if err != nil {
		log.Error("claim window", "window_start", w.Start, "err", err)
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, d.Timeout)
	began := time.Now()
	alerts, err := d.Detect(rctx, w)
	opened, note := 0, ""
	if err == nil {
		opened, err = s.store.Record(rctx, alerts)
	}
	if err == nil && d.History != nil {
		note, err = d.History(rctx, w)
	}
	cancel()
	status, text := "done", ""
	if err != nil {
		// A store that does not answer is an error, never "no risk".
		status, text = "failed", err.Error()
		log.Error("detector window failed", "window_start", w.Start, "err", err)
	}
	if _, uerr := s.pool.Exec(context.WithoutCancel(ctx), `UPDATE detector_runs SET status = $3, finished_at = now(), alerts = $4, error = $5, note = $6
		WHERE detector = $1 AND window_start = $2`, d.Name, w.Start, status, opened, text, note); uerr != nil {
		log.Error("record run", "window_start", w.Start, "err", uerr)
	}
	s.metrics.runs.WithLabelValues(d.Name, status).Inc()
	s.metrics.alerts.WithLabelValues(d.Name).Add(float64(opened))
	s.metrics.duration.WithLabelValues(d.Name).Set(time.Since(began).Seconds())
	if err == nil {
		s.metrics.lastSuccess.WithLabelValues(d.Name).Set(float64(s.Now().Unix()))
	}
	return err == nil
}

// ingestSettle is how long after a window of ingestion time ends before it
// runs: the rows of a flush in progress become visible by then.
const ingestSettle = 2 * time.Second

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// align floors t to a multiple of step in the centres' time zone, so that
// daily windows start at midnight in UTC+8.
func align(t time.Time, step time.Duration) time.Time {
	_, secs := t.In(risk.CST).Zone()
	offset := time.Duration(secs) * time.Second
	return t.Add(offset).Truncate(step).Add(-offset).UTC()
}

// IngestWatermark returns how far ingestion has got on every partition:
// the oldest of the partitions' watermarks, each the time of its latest
// write (the furthest offset, then the newest write) — not the greatest
// time ever written, so that one implausible time written before the
// pipeline refused such times cannot hold a partition "caught up" for
// ever. Zero before anything was stored, so no window is due.
func IngestWatermark(conn driver.Conn) func(context.Context) (time.Time, error) {
	return func(ctx context.Context) (time.Time, error) {
		var t time.Time
		err := conn.QueryRow(ctx, `SELECT min(t) FROM (SELECT topic, partition, argMax(event_time, (next_offset, written_at)) AS t FROM ingest_watermarks GROUP BY topic, partition)`).Scan(&t)
		if err != nil {
			return time.Time{}, fmt.Errorf("read ingest watermark: %w", err)
		}
		if t.Unix() <= 0 {
			return time.Time{}, nil
		}
		return t.UTC(), nil
	}
}

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// Backfill runs defs over the past event-time range [from, to) by their
// range forms (Backtest), records the alerts window by window in event-time
// order, and writes each window to the run ledger as done, so that Tick
// resumes after it instead of starting from the latest window. It is how a
// first deployment (or the living demo) fills the queue from a history
// ingested at once. An ingestion-time detector replays the range by event
// time and is marked done up to the present, since the history is already
// ingested. Windows already in the ledger are left as they are. It returns
// the alerts opened. cfg says how the range is run, as for Backtest.
func (s *Scheduler) Backfill(ctx context.Context, defs []Definition, from, to time.Time, cfg BacktestConfig) (int, error) {
	runs, err := Backtest(ctx, defs, from, to, cfg)
	if err != nil {
		return 0, err
	}
	opened := 0
	for i, r := range runs {
		d := defs[i]
		for j, w := range r.Windows {
			n, err := s.store.Record(ctx, r.Alerts[j])
			if err != nil {
				return opened, fmt.Errorf("%s: record window %s: %w", d.Name, w.Start.Format(time.RFC3339), err)
			}
			opened += n
			s.metrics.alerts.WithLabelValues(d.Name).Add(float64(n))
			if d.IngestTime {
				continue
			}
			if err := s.markDone(ctx, d, w, n); err != nil {
				return opened, err
			}
		}
		if d.IngestTime {
			end := align(s.Now().Add(-ingestSettle), d.Window)
			if err := s.markDone(ctx, d, risk.Window{Start: end.Add(-d.Window), End: end}, 0); err != nil {
				return opened, err
			}
		}
	}
	return opened, nil
}

func (s *Scheduler) markDone(ctx context.Context, d Definition, w risk.Window, alerts int) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO detector_runs (detector, window_start, window_end, status, claimed_by, claimed_at, finished_at, alerts)
		VALUES ($1, $2, $3, 'done', $4, now(), now(), $5) ON CONFLICT (detector, window_start) DO NOTHING`, d.Name, w.Start, w.End, s.owner, alerts)
	if err != nil {
		return fmt.Errorf("%s: ledger: %w", d.Name, err)
	}
	return nil
}
