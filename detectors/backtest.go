package detectors

import (
	"context"
	"fmt"
	"slices"
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
	// Slice is how much event time one pass of a detector's range form
	// (DetectRange) covers; 0 means DefaultSlice. Progress is reported, and
	// memory bounded, per slice; the alerts do not depend on it.
	Slice time.Duration
	// PerWindow runs every detector window by window (Detect), never its
	// range form: the reference the range forms are checked against.
	PerWindow bool
	// Progress, when set, is called after each window, or each slice of
	// windows of a range form, with how many of the total windows are
	// done. Calls never overlap, done rises each time, and after the last
	// window it equals total.
	Progress func(done, total int)
}

// DefaultSlice is the event time of one range pass when
// BacktestConfig.Slice is 0. A pass rereads its detectors' lookbacks (30 to
// 120 days before its first window), so a week a pass spends most of the
// reading on the windows themselves, and a week of a county's matters is
// small in memory.
const DefaultSlice = 7 * 24 * time.Hour

// Backtest runs defs as if live over the past event-time range [from, to):
// each detector over every window of its Window that fits in the range,
// the first starting at from. Ingestion-time detectors replay event time
// (Replay) by the hour. A detector with a range form (DetectRange) runs a
// slice of windows (cfg.Slice) a pass; the others run window by window,
// cfg.Parallel at once (slices run that many at once too). The runs come
// back in the order of defs, each with its windows in order, whatever
// cfg.Parallel and cfg.Slice are.
//
// On the first error Backtest starts no more windows, waits for those
// running and returns the error, naming the detector and the window. It
// writes nothing: recording the alerts is the caller's.
func Backtest(ctx context.Context, defs []Definition, from, to time.Time, cfg BacktestConfig) ([]BacktestRun, error) {
	type job struct{ d, w, n int } // windows w to w+n of defs[d]
	runs := make([]BacktestRun, len(defs))
	slice := cfg.Slice
	if slice <= 0 {
		slice = DefaultSlice
	}
	var jobs []job
	total := 0
	defs = slices.Clone(defs) // the copies get the backtest's own settings
	for i, d := range defs {
		if d.IngestTime {
			d.Detect, d.Window = d.Replay, time.Hour
		}
		if d.Detect == nil || d.Window <= 0 {
			return nil, fmt.Errorf("detector %s: nothing to backtest (no event-time Detect or Window)", d.Name)
		}
		if cfg.PerWindow {
			d.DetectRange = nil
		}
		defs[i] = d
		runs[i] = BacktestRun{Detector: d.Name, Windows: windows(from, to, d.Window)}
		runs[i].Alerts = make([][]risk.Alert, len(runs[i].Windows))
		step := 1
		if d.DetectRange != nil {
			step = max(int(slice/d.Window), 1)
		}
		for w := 0; w < len(runs[i].Windows); w += step {
			jobs = append(jobs, job{i, w, min(step, len(runs[i].Windows)-w)})
		}
		total += len(runs[i].Windows)
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
				r, ws := &runs[j.d], runs[j.d].Windows[j.w:j.w+j.n]
				start := time.Now()
				alerts, err := run(ctx, defs[j.d], ws)
				if err != nil {
					cancel(fmt.Errorf("%s over %s–%s: %w", r.Detector, ws[0].Start.Format(time.RFC3339), ws[len(ws)-1].End.Format(time.RFC3339), err))
					continue
				}
				mu.Lock()
				copy(r.Alerts[j.w:], alerts)
				r.Busy += time.Since(start)
				done += j.n
				if cfg.Progress != nil {
					cfg.Progress(done, total)
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

// run evaluates the consecutive windows ws of d: in one pass of its range
// form when it has one, else the one window by Detect (Replay).
func run(ctx context.Context, d Definition, ws []risk.Window) ([][]risk.Alert, error) {
	if d.DetectRange == nil {
		alerts, err := d.Detect(ctx, ws[0]) // Replay, for IngestTime detectors
		return [][]risk.Alert{alerts}, err
	}
	out, err := d.DetectRange(ctx, ws[0].Start, ws[len(ws)-1].End)
	if err == nil && len(out) != len(ws) {
		err = fmt.Errorf("range form gave %d windows' alerts for %d windows", len(out), len(ws))
	}
	return out, err
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
