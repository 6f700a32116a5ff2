package detectors

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// Definition is one detector: a stable name, when it runs and what event
// time one run looks at.
type Definition struct {
	Name     string        // stable id, part of every alert's labels
	Schedule string        // cron spec, in the centres' time zone (UTC+8); a tick runs the windows that are complete and ingested, so it may tick more often than Window
	Timeout  time.Duration // of one run
	Window   time.Duration // event time one run looks at
	// Detect returns every alert firing in w. It never reads the clock, so a
	// missed window can be re-run later with the same result.
	Detect func(ctx context.Context, w risk.Window) ([]risk.Alert, error)
}

// Config holds every detector's settings, loaded from one YAML file; the
// zero value of a field means its default (DefaultConfig).
type Config struct {
	Repeat    RepeatConfig    `yaml:"repeat"`
	SkipLevel SkipLevelConfig `yaml:"skip_level"`
	Overdue   OverdueConfig   `yaml:"overdue"`
}

// DefaultConfig is the documented default of every setting.
func DefaultConfig() Config {
	return Config{
		Repeat:    RepeatConfig{Times: 3, Days: 30},
		SkipLevel: SkipLevelConfig{},
		Overdue:   OverdueConfig{PetitionDays: 60, DueSoon: 24 * time.Hour},
	}
}

// All lists every detector that runs. Adding one is a reviewed line here.
func All(conn driver.Conn, cfg Config) []Definition {
	return []Definition{
		Repeat(conn, cfg.Repeat),
		SkipLevel(conn, cfg.SkipLevel),
		Overdue(conn, cfg.Overdue),
	}
}

// queryAlerts runs a detector's query and turns each row into an alert.
func queryAlerts(ctx context.Context, conn driver.Conn, query string, scan func(driver.Rows) (risk.Alert, error), args ...any) ([]risk.Alert, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []risk.Alert
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// evidence zips parallel arrays of sources and ids.
func evidence(sources, ids []string) []risk.Evidence {
	out := make([]risk.Evidence, len(ids))
	for i := range ids {
		out[i] = risk.Evidence{Source: risk.Source(sources[i]), ID: ids[i]}
	}
	return out
}

// cst is the centres' time zone, for summaries and schedules.
var cst = time.FixedZone("CST", 8*3600)
