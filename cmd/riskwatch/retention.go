package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"riskwatch/schema"
)

// retentionCmd drops the ClickHouse months older than -older-than (and the
// quarantine's older than -quarantine-older-than), printing each one; with
// -dry-run it only prints. Run it weekly (systemd timer, CronJob).
func retentionCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	events, quarantine := days(540*24*time.Hour), days(0)
	var dryRun bool
	c, err := parse("retention", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.Var(&events, "older-than", "Drop the months of records that ended longer ago than this (e.g. 540d; at least 90d).")
		fs.Var(&quarantine, "quarantine-older-than", "Drop the months of quarantined messages that ended longer ago than this (at least 7d); 0: as -older-than.")
		fs.BoolVar(&dryRun, "dry-run", false, "Print what would be dropped; drop nothing.")
	})
	if err != nil {
		return err
	}
	if quarantine == 0 {
		quarantine = events
	}
	if time.Duration(events) < schema.MinEventAge || time.Duration(quarantine) < schema.MinQuarantineAge {
		return fmt.Errorf("retention keeps at least %s of records and %s of quarantine (the detectors' history); got %s and %s",
			days(schema.MinEventAge), days(schema.MinQuarantineAge), events, quarantine)
	}
	conn, err := schema.Open(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	now := time.Now()
	expired, err := schema.Expired(ctx, conn, now.Add(-time.Duration(events)), now.Add(-time.Duration(quarantine)))
	if err != nil {
		return err
	}
	verb := "dropped"
	if dryRun {
		verb = "would drop"
	}
	for _, p := range expired {
		if !dryRun {
			if err := schema.Drop(ctx, conn, p); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%s %s %s: %d rows, %d bytes\n", verb, p.Table, p.Month.Format("2006-01"), p.Rows, p.Bytes)
	}
	if len(expired) == 0 {
		fmt.Fprintln(stdout, "nothing to drop")
	}
	return nil
}

// days is a duration flag that also takes whole days: 540d.
type days time.Duration

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 {
			return fmt.Errorf("%q: want whole days, like 540d", s)
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

func (d days) String() string {
	if time.Duration(d)%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", time.Duration(d)/(24*time.Hour))
	}
	return time.Duration(d).String()
}
