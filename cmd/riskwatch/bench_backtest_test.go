package main

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/scenario"
	"riskwatch/schema/schematest"
)

// TestBacktestRangeIsWindowByWindow: on the demo's data, from its very
// first hour (no detector has history yet: the quiet start) to its end,
// every detector with a range form raises by it exactly what it raises
// window by window — the same windows, scopes, levels, evidence, summaries
// and figures — and cites no record deleted upstream.
func TestBacktestRangeIsWindowByWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	ctx := t.Context()
	c, err := parse("detect", []string{"-clickhouse", schematest.DSN()}, func(string) string { return "" }, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := scenario.Generate(scenario.Config{Seed: 2, Weeks: 5, Townships: 2, Scale: 0.3})
	conn, _ := schematest.Open(t)
	if err := demoIngest(ctx, conn, s, c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dcfg := detectors.DefaultConfig()
	dcfg.Places = scenario.Places()
	defs := ranged(detectors.All(conn, dcfg, lex))
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if want := []string{"collective", "convergence", "extreme_intent", "overdue", "repeat", "skip_level", "surge", "trend"}; !slices.Equal(names, want) {
		t.Errorf("detectors with a range form: %v, want %v", names, want)
	}

	byWindow, err := detectors.Backtest(ctx, defs, s.Truth.From, s.Truth.To, detectors.BacktestConfig{PerWindow: true, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 30 hours a pass: passes end at every hour of the day, and hold one
	// of trend's days each.
	byRange, err := detectors.Backtest(ctx, defs, s.Truth.From, s.Truth.To, detectors.BacktestConfig{Slice: 30 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameAlerts(byWindow, byRange); err != nil {
		t.Errorf("the range forms and window by window differ: %v", err)
	}

	deleted := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT id FROM events FINAL WHERE status = 'deleted'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		deleted[id] = true
	}
	rows.Close()
	if len(deleted) == 0 {
		t.Fatal("the demo deleted no record upstream: nothing to check")
	}
	for _, r := range byRange {
		if n := countAlerts([]detectors.BacktestRun{r}); n == 0 {
			t.Errorf("%s raised nothing in the demo: the comparison says nothing of it", r.Detector)
		}
		for _, alerts := range r.Alerts {
			for _, a := range alerts {
				for _, e := range a.Evidence {
					if deleted[e.ID] {
						t.Errorf("%s cites %s, deleted upstream: %s", r.Detector, e.ID, a.Summary)
					}
				}
				// Places are named, in a range as in a window.
				if (r.Detector == "surge" || r.Detector == "trend") && strings.Contains(a.Summary, "3306") {
					t.Errorf("%s names a place by its code: %s", r.Detector, a.Summary)
				}
			}
		}
	}
}
