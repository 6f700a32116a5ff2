// Command riskwatch is the social-risk early-warning service: one binary with
// subcommands.
//
//	riskwatch serve      consume the feeds into ClickHouse and serve the API
//	riskwatch migrate    apply the ClickHouse migrations
//	riskwatch retention  drop the ClickHouse months past their retention
//	riskwatch bench      measure ingestion throughput
//	riskwatch quarantine list the messages that were rejected, with reasons
//	riskwatch detect     run the detectors over a past event-time range
//	riskwatch series     score one count series with the surge algorithm
//	riskwatch demo       generate a scenario with planted incidents; measure detection quality
//	riskwatch brief      write a leaders' trend brief of a region and a period
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "riskwatch:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: riskwatch <command> [flags]

commands:
  serve       consume the three feeds into ClickHouse and serve the HTTP API
  migrate     apply the ClickHouse migrations embedded in the binary
  retention   drop the months of records and quarantine past their age: riskwatch retention -older-than 540d [-dry-run]
  bench       measure ingestion and detection: riskwatch bench ingest -n 1000000 | bench detect | bench backtest -weeks 2 | bench brief -n 10000000
  quarantine  list rejected messages: riskwatch quarantine [-open]
  detect      run the detectors over past event time: riskwatch detect -from T1 -to T2 [-detector NAME] [-dry-run]
  series      score a count series from a CSV with the surge test: riskwatch series --input FILE.csv
  demo        a county's weeks of traffic with planted incidents: riskwatch demo generate -out DIR | demo evaluate
  brief       a leaders' trend brief: riskwatch brief -region 330681 -period week -at 2020-02-28 -format html > brief.html
  user        add a user (the first administrator too) or an API token: riskwatch user add -username NAME -role admin -jurisdiction 330681

Run "riskwatch <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "migrate":
		return migrateCmd(ctx, args, getenv, stderr)
	case "retention":
		return retentionCmd(ctx, args, getenv, stdout, stderr)
	case "bench":
		return bench(ctx, args, getenv, stdout, stderr)
	case "quarantine":
		return quarantine(ctx, args, getenv, stdout, stderr)
	case "detect":
		return detect(ctx, args, getenv, stdout, stderr)
	case "series":
		return series(ctx, args, os.Stdin, stdout, stderr)
	case "demo":
		return demo(ctx, args, getenv, stdout, stderr)
	case "brief":
		return briefCmd(ctx, args, getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args, getenv, os.Stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// newLogger builds the one handler of the process: text for people, JSON for
// log collectors.
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
