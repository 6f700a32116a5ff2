package detectors

import (
	"context"
	"fmt"
	"sync"
	"time"

	risk "riskwatch"
)

// BacktestRun is what one detector raised over a backtest's range.
type BacktestRun struct {
	Detector string
	Windows  []risk.Window  // in event-time order
	Alerts   [][]risk.Alert // Alerts[i] fired in Windows[i]
	Busy     time.Duration  // spent in the detector's queries, summed over the windows
}

// BacktestConfig says how Backtest runs.
type BacktestConfig struct {
	// Parallel is how many windows run at once; 1 or less runs them one
	// by one. Windows are independent (a detector never reads the clock),
	// so the alerts do not depend on it.
	Parallel int
	// Progress, when set, is called after each window with how many of the
	// total are done. Calls never overlap, done rises by one each time,
	// and after the last window it equals total.
	Progress func(done, total int)
}

// Backtest runs defs as if live over the past event-time range [from, to):
// each detector over every window of its Window that fits in the range,
// the first starting at from. Ingestion-time detectors replay event time
// (Replay) by the hour. The runs come back in the order of defs, each with
// its windows in order, whatever cfg.Parallel is.
//
// On the first error Backtest starts no more windows, waits for those
// running and returns the error, naming the detector and the window. It
// writes nothing: recording the alerts is the caller's.
func Backtest(ctx context.Context, defs []Definition, from, to time.Time, cfg BacktestConfig) ([]BacktestRun, error) {
	type job struct{ d, w int }
	runs := make([]BacktestRun, len(defs))
	detect := make([]func(context.Context, risk.Window) ([]risk.Alert, error), len(defs))
	var jobs []job
	for i, d := range defs {
		if d.IngestTime {
			d.Detect, d.Window = d.Replay, time.Hour
		}
		if d.Detect == nil || d.Window <= 0 {
			return nil, fmt.Errorf("detector %s: nothing to backtest (no event-time Detect or Window)", d.Name)
		}
		detect[i] = d.Detect
		runs[i] = BacktestRun{Detector: d.Name, Windows: windows(from, to, d.Window)}
		runs[i].Alerts = make([][]risk.Alert, len(runs[i].Windows))
		for w := range runs[i].Windows {
			jobs = append(jobs, job{i, w})
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan job)
	var mu sync.Mutex // guards runs' Alerts and Busy, done; serialises Progress
	done := 0
	var wg sync.WaitGroup
	for range max(cfg.Parallel, 1) {
		wg.Go(func() {
			for j := range next {
				if ctx.Err() != nil {
					continue // stopping: drain
				}
				r, w := &runs[j.d], runs[j.d].Windows[j.w]
				start := time.Now()
				alerts, err := detect[j.d](ctx, w)
				if err != nil {
					cancel(fmt.Errorf("%s over %s–%s: %w", r.Detector, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), err))
					continue
				}
				mu.Lock()
				r.Alerts[j.w] = alerts
				r.Busy += time.Since(start)
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, len(jobs))
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return runs, nil
}

// windows lists the consecutive windows of length step that fit in
// [from, to), the first starting at from.
func windows(from, to time.Time, step time.Duration) []risk.Window {
	var out []risk.Window
	for start := from; !start.Add(step).After(to); start = start.Add(step) {
		out = append(out, risk.Window{Start: start, End: start.Add(step)})
	}
	return out
}
