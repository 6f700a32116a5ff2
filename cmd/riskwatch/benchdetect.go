package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// benchDetect measures one full cycle of every detector — each run once
// over the window that ends now — on a ClickHouse holding -history events
// spread over the past -months, in a throw-away database. A county raises
// about a million a year: 1M over 12 months and 10M over 120 months have
// the same density, and a cycle that prunes by time costs the same on both.
func benchDetect(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var history, cycles, months int
	c, err := parse("bench detect", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&history, "history", 1_000_000, "Events of history to load first.")
		fs.IntVar(&cycles, "cycles", 3, "Cycles to time; the best is reported.")
		fs.IntVar(&months, "months", 12, "Months the history spans.")
	})
	if err != nil {
		return err
	}
	db, err := benchDatabase(ctx, c.ClickHouse, "detect")
	if err != nil {
		return err
	}
	defer db.Drop(context.WithoutCancel(ctx))
	conn := db.Conn
	p, err := normalize.NewProtector(bytes.Repeat([]byte("bench-key-"), 4))
	if err != nil {
		return err
	}
	decoders := feedDecoders(normalize.New(p))

	// History: the generator's records, moved so that they spread evenly
	// over the months before now.
	span := time.Duration(months) * 30 * 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Hour)
	w := pipeline.NewEventWriter(conn)
	fmt.Fprintf(stderr, "loading %d events of history…\n", history)
	const chunk = 100_000
	prog := newProgress(stderr, "load", time.Now)
	prog.unit = "events"
	for done := 0; done < history; done += chunk {
		msgs := benchMessages(min(chunk, history-done), uint64(done)+7)
		var rows []pipeline.Stored
		i := 0
		for _, src := range risk.Sources {
			for _, m := range msgs[src] {
				e, err := decoders[src](m)
				if err != nil {
					return err
				}
				shift := now.Add(-time.Duration(float64(span) * float64(done+i) / float64(history))).Sub(e.OccurredAt)
				e.OccurredAt, e.UpdatedAt = e.OccurredAt.Add(shift), e.UpdatedAt.Add(shift)
				rows = append(rows, pipeline.Stored{Event: e, Topic: string(src)})
				i++
			}
		}
		if err := w.WriteEvents(ctx, rows); err != nil {
			return err
		}
		prog.report(done+len(rows), history)
	}
	if err := waitMerges(ctx, conn); err != nil {
		return err
	}
	cfg, lex, err := c.detectorConfig()
	if err != nil {
		return err
	}
	defs := detectors.All(conn, cfg, lex)
	best := map[string]time.Duration{}
	raised := map[string]int{}
	var bestTotal time.Duration
	for range cycles {
		var total time.Duration
		for _, d := range defs {
			win := risk.Window{Start: now.Add(-d.Window), End: now}
			if d.IngestTime {
				// Steady state: the history was ingested before this window
				// and its lookback, not in it.
				t := time.Now().Add(5 * time.Minute)
				win = risk.Window{Start: t, End: t.Add(d.Window)}
			}
			start := time.Now()
			alerts, err := d.Detect(ctx, win)
			if err != nil {
				return fmt.Errorf("%s: %w", d.Name, err)
			}
			took := time.Since(start)
			raised[d.Name] = len(alerts)
			total += took
			if b, ok := best[d.Name]; !ok || took < b {
				best[d.Name] = took
			}
		}
		if bestTotal == 0 || total < bestTotal {
			bestTotal = total
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "history\t%d events over %d months\t\n", history, months)
	for _, d := range defs {
		fmt.Fprintf(tw, "%s\t%v\t%d alerts\n", d.Name, best[d.Name].Round(time.Millisecond), raised[d.Name])
	}
	fmt.Fprintf(tw, "full cycle\t%v\tbest of %d\n", bestTotal.Round(time.Millisecond), cycles)
	return tw.Flush()
}
