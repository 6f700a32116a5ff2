package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/scenario"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// benchBacktest times a backtest of the detectors that have a range form
// (detectors.Definition.DetectRange), in a throw-away database:
//
//   - by default on the demo scenario, over its last -weeks weeks, by both
//     paths — window by window (Detect) and a -slice of event time a pass —
//     and checks that both raise the same alerts;
//   - with -history N, on N generated events spread over the last -months
//     months (a county raises about a million matters a year), over the
//     whole span by the range path only: the window-by-window path would
//     take hours.
//
// Progress goes to stderr, one summary line to stdout.
func benchBacktest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var weeks, history, months, parallel int
	var slice time.Duration
	var sc scenario.Config
	var profile string
	c, err := parse("bench backtest", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&weeks, "weeks", 2, "Weeks of the demo backtested, its last ones (the demo is generated with at least 5).")
		fs.DurationVar(&slice, "slice", detectors.DefaultSlice, "Event time of one range pass.")
		fs.IntVar(&parallel, "parallel", 1, "Windows (range passes) run at once, as detect's.")
		fs.IntVar(&history, "history", 0, "Instead of the demo: this many generated events of history, timed by the range path only.")
		fs.IntVar(&months, "months", 12, "With -history: months the history spans.")
		fs.Uint64Var(&sc.Seed, "seed", 1, "Seed of the demo.")
		fs.IntVar(&sc.Townships, "townships", 10, "Townships of the demo (2 to 10).")
		fs.Float64Var(&sc.Scale, "scale", 1, "Background volume of the demo; 1 is a county's.")
		fs.StringVar(&profile, "cpuprofile", "", "Write a CPU profile of the range path to this file.")
	})
	if err != nil {
		return err
	}
	db, err := benchDatabase(ctx, c.ClickHouse, "backtest")
	if err != nil {
		return err
	}
	defer db.Drop(context.WithoutCancel(ctx))
	conn := db.Conn

	var from, to time.Time
	var what string
	if history > 0 {
		to = time.Now().UTC().Truncate(24 * time.Hour)
		from = to.AddDate(0, -months, 0)
		fmt.Fprintf(stderr, "loading %d events over %d months…\n", history, months)
		if err := benchLoadHistory(ctx, conn, history, from, to); err != nil {
			return err
		}
		var records uint64
		if err := conn.QueryRow(ctx, `SELECT count() FROM events FINAL`).Scan(&records); err != nil {
			return err
		}
		what = fmt.Sprintf("%d events (%d records) over %d months", history, records, months)
	} else {
		sc.Weeks = max(weeks, 5)
		s := scenario.Generate(sc)
		fmt.Fprintf(stderr, "ingesting the demo: %d weeks, %d townships, scale %g…\n", sc.Weeks, sc.Townships, sc.Scale)
		if err := demoIngest(ctx, conn, s, c, newLogger(stderr, max(c.LogLevel, slog.LevelError), c.LogFormat)); err != nil {
			return err
		}
		from, to = s.Truth.To.AddDate(0, 0, -7*min(weeks, sc.Weeks)), s.Truth.To
		what = fmt.Sprintf("the last %d weeks of the demo (%d records)", min(weeks, sc.Weeks), s.Truth.Records[risk.SourceHotline]+s.Truth.Records[risk.SourcePetition]+s.Truth.Records[risk.SourceGrid])
	}
	if err := waitMerges(ctx, conn); err != nil {
		return err
	}
	dcfg, lex, err := c.detectorConfig()
	if err != nil {
		return err
	}
	defs := ranged(detectors.All(conn, dcfg, lex))

	timed := func(name string, cfg detectors.BacktestConfig) ([]detectors.BacktestRun, time.Duration, error) {
		p := newProgress(stderr, name, time.Now)
		cfg.Progress, cfg.Parallel = p.report, parallel
		start := time.Now()
		runs, err := detectors.Backtest(ctx, defs, from, to, cfg)
		if err != nil {
			return nil, 0, err
		}
		p.summary(len(defs), fmt.Sprintf("%d alerts", countAlerts(runs)))
		for _, r := range runs {
			fmt.Fprintf(stderr, "  %s: %v in the detector\n", r.Detector, r.Busy.Round(10*time.Millisecond))
		}
		return runs, time.Since(start), nil
	}
	var byRange []detectors.BacktestRun
	var tookRange time.Duration
	if err := profiled(profile, func() (err error) {
		byRange, tookRange, err = timed("range", detectors.BacktestConfig{Slice: slice})
		return err
	}); err != nil {
		return err
	}
	if history > 0 {
		_, err := fmt.Fprintf(stdout, "bench backtest: %s, %d detectors: range path (slice %v) %v, %d alerts\n",
			what, len(defs), slice, tookRange.Round(100*time.Millisecond), countAlerts(byRange))
		return err
	}
	byWindow, tookWindow, err := timed("per window", detectors.BacktestConfig{PerWindow: true})
	if err != nil {
		return err
	}
	same := "the same alerts"
	if err := sameAlerts(byWindow, byRange); err != nil {
		same = "DIFFERENT alerts: " + err.Error()
	}
	_, err = fmt.Fprintf(stdout, "bench backtest: %s, %d detectors: per window %v, range (slice %v) %v: %.1f× faster; %s (%d)\n",
		what, len(defs), tookWindow.Round(100*time.Millisecond), slice, tookRange.Round(100*time.Millisecond),
		tookWindow.Seconds()/tookRange.Seconds(), same, countAlerts(byRange))
	return err
}

// ranged keeps the detectors that have a range form.
func ranged(defs []detectors.Definition) []detectors.Definition {
	return slices.DeleteFunc(defs, func(d detectors.Definition) bool { return d.DetectRange == nil })
}

func countAlerts(runs []detectors.BacktestRun) int {
	n := 0
	for _, r := range runs {
		for _, alerts := range r.Alerts {
			n += len(alerts)
		}
	}
	return n
}

// sameAlerts says where two backtests of the same detectors and range
// differ: a window, or an alert of a window (labels, level, evidence,
// window, summary, figures). Order within a window does not count.
func sameAlerts(a, b []detectors.BacktestRun) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d runs, %d runs", len(a), len(b))
	}
	for i := range a {
		if a[i].Detector != b[i].Detector || !slices.Equal(a[i].Windows, b[i].Windows) {
			return fmt.Errorf("run %d: %s over %d windows, %s over %d", i, a[i].Detector, len(a[i].Windows), b[i].Detector, len(b[i].Windows))
		}
		for w := range a[i].Windows {
			x, y := sortedAlerts(a[i].Alerts[w]), sortedAlerts(b[i].Alerts[w])
			if len(x) != len(y) {
				return fmt.Errorf("%s, window %s: %d alerts, %d", a[i].Detector, a[i].Windows[w].Start.Format(time.RFC3339), len(x), len(y))
			}
			for j := range x {
				if !reflect.DeepEqual(x[j], y[j]) {
					return fmt.Errorf("%s, window %s: %+v, %+v", a[i].Detector, a[i].Windows[w].Start.Format(time.RFC3339), x[j], y[j])
				}
			}
		}
	}
	return nil
}

func sortedAlerts(alerts []risk.Alert) []risk.Alert {
	return slices.SortedFunc(slices.Values(alerts), func(a, b risk.Alert) int {
		if a.ScopeKey() < b.ScopeKey() {
			return -1
		}
		if a.ScopeKey() > b.ScopeKey() {
			return 1
		}
		return 0
	})
}

// benchLoadHistory writes n generated events (benchMessages) spread evenly
// over [from, to), as the ingesters would store them.
func benchLoadHistory(ctx context.Context, conn driver.Conn, n int, from, to time.Time) error {
	p, err := normalize.NewProtector(bytes.Repeat([]byte("bench-key-"), 4))
	if err != nil {
		return err
	}
	decoders := feedDecoders(normalize.New(p))
	w := pipeline.NewEventWriter(conn)
	shifts := map[string]time.Duration{} // of a chunk's records
	span := to.Sub(from)
	const chunk = 100_000
	for done := 0; done < n; done += chunk {
		msgs := benchMessages(min(chunk, n-done), uint64(done)+11)
		start := from.Add(time.Duration(float64(span) * float64(done) / float64(n)))
		width := float64(span) * float64(min(chunk, n-done)) / float64(n)
		var rows []pipeline.Stored
		for _, src := range risk.Sources {
			for _, m := range msgs[src] {
				e, err := decoders[src](m)
				if err != nil {
					return err
				}
				// A record's versions all move by the same shift, to a
				// place in the chunk's span its id chooses.
				h := fnv.New64a()
				io.WriteString(h, e.ID)
				at := start.Add(time.Duration(width * float64(h.Sum64()%1_000_000) / 1_000_000)).Truncate(time.Second)
				shift := at.Sub(e.OccurredAt)
				if prev, ok := shifts[e.ID]; ok {
					shift = prev
				}
				shifts[e.ID] = shift
				e.OccurredAt, e.UpdatedAt = e.OccurredAt.Add(shift), e.UpdatedAt.Add(shift)
				rows = append(rows, pipeline.Stored{Event: e, Topic: string(src)})
			}
		}
		if err := w.WriteEvents(ctx, rows); err != nil {
			return err
		}
		clear(shifts)
	}
	return nil
}
