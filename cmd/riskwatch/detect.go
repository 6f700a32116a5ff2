package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/detectors"
)

// detect runs the detectors as if live over a past event-time range: each
// detector over each of its windows in [from, to) (detectors.Backtest), with
// progress on stderr. With -dry-run it writes nothing and prints each alert
// as a JSON line when it opens (later windows of the same scope would join
// it); without, it records them as the scheduler would, detector by
// detector, window by window.
func detect(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var from, to, only string
	var dry bool
	c, err := parse("detect", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "Start of the event-time range (RFC 3339, or 2006-01-02 in UTC+8).")
		fs.StringVar(&to, "to", "", "End of the event-time range, exclusive.")
		fs.StringVar(&only, "detector", "", "Run only this detector.")
		fs.BoolVar(&dry, "dry-run", false, "Print the alerts; write nothing.")
	})
	if err != nil {
		return err
	}
	start, err1 := parseWhen(from)
	end, err2 := parseWhen(to)
	if err := errors.Join(err1, err2); err != nil || !start.Before(end) {
		return fmt.Errorf("want -from before -to: %v", err)
	}
	conn, err := c.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var review *desk.Review // records alerts as serve does: with their events for riskwatch.alerts
	if !dry {
		d, closeDesks, err := openDesks(ctx, c)
		if err != nil {
			return err
		}
		defer closeDesks()
		review = d.Review
	}
	dcfg, lex, err := c.detectorConfig()
	if err != nil {
		return err
	}
	var defs []detectors.Definition
	for _, d := range detectors.All(conn, dcfg, lex) {
		if only == "" || d.Name == only {
			defs = append(defs, d)
		}
	}
	if len(defs) == 0 {
		return fmt.Errorf("no detector named %q", only)
	}
	p := newProgress(stderr, "detect", time.Now)
	runs, err := detectors.Backtest(ctx, defs, start, end, detectors.BacktestConfig{Parallel: 1, Progress: p.report})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	printed := map[string]bool{} // scopes: later windows join the alert, as in the store
	opened := 0
	for _, r := range runs {
		for _, alerts := range r.Alerts {
			if review != nil {
				n, err := review.Record(ctx, alerts)
				if err != nil {
					return err
				}
				opened += n
				continue
			}
			for _, a := range alerts {
				if printed[a.ScopeKey()] {
					continue
				}
				printed[a.ScopeKey()] = true
				if err := enc.Encode(alertLine(a)); err != nil {
					return err
				}
			}
		}
	}
	if review != nil {
		p.summary(len(defs), fmt.Sprintf("%d alerts opened", opened))
	} else {
		p.summary(len(defs), fmt.Sprintf("%d alerts printed", len(printed)))
	}
	return nil
}

// alertLine is the JSON of a previewed alert.
func alertLine(a risk.Alert) map[string]any {
	return map[string]any{
		"key": a.Key(), "detector": a.Detector(), "level": a.Level, "region": a.Labels["region"], "category": a.What(),
		"window_start": a.Window.Start, "window_end": a.Window.End, "summary": a.Summary, "numbers": a.Numbers, "evidence": a.Evidence,
	}
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, risk.CST)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or 2006-01-02", s)
	}
	return t.UTC(), nil
}
