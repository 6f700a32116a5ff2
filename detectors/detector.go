package detectors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/surge"
)

// Definition is one detector: a stable name, when it runs and what event
// time one run looks at.
type Definition struct {
	Name     string        // stable id, part of every alert's labels
	Schedule string        // cron spec, in the centres' time zone (UTC+8); a tick runs the windows that are complete and ingested, so it may tick more often than Window
	Timeout  time.Duration // of one run
	Window   time.Duration // event time one run looks at
	// IngestTime makes Window a span of ingestion time, bounded by the
	// clock instead of the ingest watermark: for detectors that must act
	// seconds after a record arrives.
	IngestTime bool
	// Replay, for IngestTime detectors, detects over a window of event time
	// instead: what backtests run.
	Replay func(ctx context.Context, w risk.Window) ([]risk.Alert, error)
	// Detect returns every alert firing in w. It never reads the clock, so a
	// missed window can be re-run later with the same result.
	Detect func(ctx context.Context, w risk.Window) ([]risk.Alert, error)
	// DetectRange, when set, evaluates every window of Window in [from, to),
	// the first starting at from, in one pass (a few queries over the range,
	// not a few per window): out[i] is what Detect returns for the i-th
	// window. For IngestTime detectors it replays event time by the hour, as
	// Replay does. Backtests run it; Detect (Replay) is its one-window case,
	// so the two cannot drift.
	DetectRange func(ctx context.Context, from, to time.Time) ([][]risk.Alert, error)
	// History, when set, says in words for centre staff what of the
	// detector's scope has too little history in w to be compared against
	// ("" when nothing): silent for want of a baseline, not for want of
	// risk. The scheduler keeps it in the run ledger beside the window.
	History func(ctx context.Context, w risk.Window) (string, error)
}

// Config holds every detector's settings, loaded from one YAML file; the
// zero value of a field means its default (DefaultConfig).
type Config struct {
	Repeat      RepeatConfig      `yaml:"repeat"`
	SkipLevel   SkipLevelConfig   `yaml:"skip_level"`
	Overdue     OverdueConfig     `yaml:"overdue"`
	Collective  CollectiveConfig  `yaml:"collective"`
	Surge       surge.Config      `yaml:"surge"`
	Convergence ConvergenceConfig `yaml:"convergence"`
	Trend       TrendConfig       `yaml:"trend"`
	// Places names the divisions in summaries; detectors write codes.
	// It is the region directory (deploy/regions.yaml), not a setting.
	Places risk.Places `yaml:"-"`
}

// DefaultConfig is the documented default of every setting.
func DefaultConfig() Config {
	return Config{
		Repeat:      RepeatConfig{Times: 3, Days: 30},
		SkipLevel:   SkipLevelConfig{},
		Overdue:     OverdueConfig{PetitionDays: 60, DueSoon: 24 * time.Hour},
		Collective:  CollectiveConfig{Petitioners: 5, Gathering: 10, Persons: 5, Days: 3, Alpha: 1e-4},
		Surge:       surge.DefaultConfig(),
		Convergence: ConvergenceConfig{Days: 14, Similarity: 0.25, Shared: 2, Rare: 0.1},
		Trend:       TrendConfig{Weeks: 4, Tail: 1e-4, MinLast: 5, MinRatio: 1.5},
	}
}

// All lists every detector that runs. Adding one is a reviewed line here.
func All(conn driver.Conn, cfg Config, lex *intent.Lexicon) []Definition {
	defs := []Definition{
		Extreme(conn, lex),
		Repeat(conn, cfg.Repeat),
		SkipLevel(conn, cfg.SkipLevel),
		Overdue(conn, cfg.Overdue),
		Collective(conn, cfg.Collective),
		Surge(conn, cfg.Surge),
		Convergence(conn, cfg.Convergence),
		Trend(conn, cfg.Trend),
	}
	for i := range defs {
		defs[i] = named(defs[i], cfg.Places)
	}
	return defs
}

// named makes d's summaries and history notes name their places.
func named(d Definition, places risk.Places) Definition {
	if len(places) == 0 {
		return d
	}
	rename := func(alerts []risk.Alert) {
		for i := range alerts {
			alerts[i].Summary = places.Rename(alerts[i].Summary)
		}
	}
	name := func(detect func(context.Context, risk.Window) ([]risk.Alert, error)) func(context.Context, risk.Window) ([]risk.Alert, error) {
		if detect == nil {
			return nil
		}
		return func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
			alerts, err := detect(ctx, w)
			rename(alerts)
			return alerts, err
		}
	}
	d.Detect, d.Replay = name(d.Detect), name(d.Replay)
	if detectRange := d.DetectRange; detectRange != nil {
		d.DetectRange = func(ctx context.Context, from, to time.Time) ([][]risk.Alert, error) {
			out, err := detectRange(ctx, from, to)
			for _, alerts := range out {
				rename(alerts)
			}
			return out, err
		}
	}
	if history := d.History; history != nil {
		d.History = func(ctx context.Context, w risk.Window) (string, error) {
			note, err := history(ctx, w)
			return places.Rename(note), err
		}
	}
	return d
}

// ranged is a detector's range form over windows of any length step: out[i]
// holds the alerts of the i-th window of windows(from, to, step).
type ranged func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error)

// withRange sets d's DetectRange over windows of step and, for the live
// path, detect: the one-window case of the same code.
func withRange(r ranged, step time.Duration) (detect func(context.Context, risk.Window) ([]risk.Alert, error), detectRange func(context.Context, time.Time, time.Time) ([][]risk.Alert, error)) {
	detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		out, err := r(ctx, w.Start, w.End, w.End.Sub(w.Start))
		if err != nil || len(out) == 0 {
			return nil, err
		}
		return out[0], nil
	}
	detectRange = func(ctx context.Context, from, to time.Time) ([][]risk.Alert, error) {
		return r(ctx, from, to, step)
	}
	return detect, detectRange
}

// slot is the index of the window of step holding t, counting from from;
// -1 when t is before from.
func slot(t, from time.Time, step time.Duration) int {
	if t.Before(from) {
		return -1
	}
	return int(t.Sub(from) / step)
}

// queryAlerts runs a detector's query and turns each row into an alert.
func queryAlerts(ctx context.Context, conn driver.Conn, query string, scan func(driver.Rows) (risk.Alert, error), args ...any) ([]risk.Alert, error) {
	var out []risk.Alert
	err := eachRow(ctx, conn, query, func(rows driver.Rows) error {
		a, err := scan(rows)
		if errors.Is(err, errSkip) {
			return nil
		}
		out = append(out, a)
		return err
	}, args...)
	return out, err
}

// errSkip from a queryAlerts scan drops the row: it raises nothing.
var errSkip = errors.New("no alert")

// eachRow runs query and calls row for each result row.
func eachRow(ctx context.Context, conn driver.Conn, query string, row func(driver.Rows) error, args ...any) error {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
	}
	return rows.Err()
}

// placeOf names where a matter is for a summary: its township, or its
// county when the township is unknown.
func placeOf(township, county string) string {
	if township != "" {
		return township
	}
	return county
}

// evidence zips parallel arrays of sources and ids.
func evidence(sources, ids []string) []risk.Evidence {
	out := make([]risk.Evidence, len(ids))
	for i := range ids {
		out[i] = risk.Evidence{Source: risk.Source(sources[i]), ID: ids[i]}
	}
	return out
}
