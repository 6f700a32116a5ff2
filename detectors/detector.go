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
		Trend:       TrendConfig{Weeks: 4, Tail: 0.001, MinLast: 5, MinRatio: 1.5},
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
	name := func(detect func(context.Context, risk.Window) ([]risk.Alert, error)) func(context.Context, risk.Window) ([]risk.Alert, error) {
		if detect == nil {
			return nil
		}
		return func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
			alerts, err := detect(ctx, w)
			for i := range alerts {
				alerts[i].Summary = places.Rename(alerts[i].Summary)
			}
			return alerts, err
		}
	}
	d.Detect, d.Replay = name(d.Detect), name(d.Replay)
	if history := d.History; history != nil {
		d.History = func(ctx context.Context, w risk.Window) (string, error) {
			note, err := history(ctx, w)
			return places.Rename(note), err
		}
	}
	return d
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
