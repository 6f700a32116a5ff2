package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/scenario"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
)

const demoUsage = `usage:
  riskwatch demo generate -out DIR [-seed N] [-weeks N] [-townships N] [-scale X]
  riskwatch demo evaluate [-seed N] [-weeks N] [-townships N] [-scale X] [-detector NAME,...] [-json] [-clickhouse DSN]`

// demo makes a scenario of the three feeds with planted incidents and traps
// (package scenario), and measures the detectors on it.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, demoUsage)
		return errors.New("demo: want generate or evaluate")
	}
	switch args[0] {
	case "generate":
		return demoGenerate(args[1:], stderr)
	case "evaluate":
		return demoEvaluate(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintln(stderr, demoUsage)
	return fmt.Errorf("demo: unknown command %q", args[0])
}

func scenarioFlags(fs *flag.FlagSet, c *scenario.Config) {
	fs.Uint64Var(&c.Seed, "seed", 1, "Seed of the scenario: the same seed makes the same messages.")
	fs.IntVar(&c.Weeks, "weeks", 10, "Weeks of traffic (at least 5: incidents come after 4 weeks of history).")
	fs.IntVar(&c.Townships, "townships", 10, "Townships with traffic, 枫桥镇 and 暨阳街道 first (2 to 10).")
	fs.Float64Var(&c.Scale, "scale", 1, "Background volume; 1 is a county's (≈ 320 work orders, 45 grid events, 5 petitions a day over 10 townships).")
}

// demoGenerate writes DIR/hotline.jsonl, petition.jsonl and grid.jsonl, one
// message value a line in publication order (kcat -P -l produces them), and
// DIR/truth.json.
func demoGenerate(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("riskwatch demo generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg scenario.Config
	var dir string
	scenarioFlags(fs, &cfg)
	fs.StringVar(&dir, "out", "", "Directory to write the feeds and truth.json to.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" || fs.NArg() > 0 {
		return errors.New("demo generate: want -out DIR and no arguments")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	s := scenario.Generate(cfg)
	for _, src := range risk.Sources {
		if err := writeLines(filepath.Join(dir, string(src)+".jsonl"), s.Messages[src]); err != nil {
			return err
		}
	}
	truth, err := json.MarshalIndent(s.Truth, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "truth.json"), append(truth, '\n'), 0o640); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d hotline, %d petition and %d grid messages, %d incidents and %d traps to %s\n",
		len(s.Messages[risk.SourceHotline]), len(s.Messages[risk.SourcePetition]), len(s.Messages[risk.SourceGrid]), len(s.Truth.Incidents), len(s.Truth.Traps), dir)
	return nil
}

func writeLines(path string, msgs []kafka.Message) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, m := range msgs {
		w.Write(m.Value) // JSON escapes line breaks inside strings: one message, one line
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// demoEvaluate generates a scenario in memory, ingests it end to end (the
// embedded broker, the real ingesters, a throw-away ClickHouse database,
// dropped at the end), runs every detector of detectors.All over every
// window of the scenario (hourly; trend's are days) with detectors.Backtest,
// as `riskwatch detect -dry-run` does, with progress on stderr, and scores
// the alerts against the truth. The alerts stay in memory, with the dry
// run's scope suppression, so no PostgreSQL database is needed.
func demoEvaluate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg scenario.Config
	var asJSON bool
	var parallel int
	var keep bool
	var only string
	c, err := parse("demo evaluate", args, getenv, stderr, func(fs *flag.FlagSet) {
		scenarioFlags(fs, &cfg)
		fs.BoolVar(&asJSON, "json", false, "Print the results as JSON.")
		fs.IntVar(&parallel, "parallel", 3, "Detector windows run at once.")
		fs.StringVar(&only, "detector", "", "Backtest and score only these detectors (comma-separated, e.g. convergence,collective).")
		fs.BoolVar(&keep, "keep", false, "Keep the ClickHouse database of the run, to look into it; its name goes to stderr.")
	})
	if err != nil {
		return err
	}
	// Hundreds of messages are bad on purpose; each would be a warning.
	log := newLogger(stderr, max(c.LogLevel, slog.LevelError), c.LogFormat)

	s := scenario.Generate(cfg)
	ev := scenario.Evaluation{Config: s.Truth.Config, From: s.Truth.From, To: s.Truth.To, Records: s.Truth.Records, Messages: s.Truth.Messages,
		Background: s.Truth.Background, Bad: s.Truth.Bad}
	db, err := schema.CreateTemp(ctx, c.ClickHouse, "riskwatch_demo")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(stderr, "database:", db.Name)
		defer db.Close()
	} else {
		defer db.Drop(context.WithoutCancel(ctx))
	}
	conn := db.Conn
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		return err
	}
	dcfg := detectors.DefaultConfig()
	dcfg.Places = scenario.Places()
	defs := detectors.All(conn, dcfg, lex)
	if only != "" {
		names := strings.Split(only, ",")
		for _, n := range names {
			if !slices.ContainsFunc(defs, func(d detectors.Definition) bool { return d.Name == n }) {
				return fmt.Errorf("demo evaluate: no detector %q", n)
			}
		}
		defs = slices.DeleteFunc(defs, func(d detectors.Definition) bool { return !slices.Contains(names, d.Name) })
	}

	start := time.Now()
	prog := newProgress(stderr, "ingest", time.Now)
	prog.unit = "messages"
	if err := demoIngestReporting(ctx, conn, s, c, log, prog.report); err != nil {
		return err
	}
	if ev.Stored, ev.Quarantined, err = demoStored(ctx, conn, c); err != nil {
		return err
	}
	ev.IngestSeconds = time.Since(start).Seconds()

	start = time.Now()
	p := newProgress(stderr, "detect", time.Now)
	runs, err := detectors.Backtest(ctx, defs, s.Truth.From, s.Truth.To, detectors.BacktestConfig{Parallel: parallel, Progress: p.report})
	if err != nil {
		return err
	}
	ev.DetectSeconds = time.Since(start).Seconds()
	alerts := 0
	for _, r := range runs {
		res := s.Truth.Score(r)
		ev.Detectors = append(ev.Detectors, res)
		alerts += res.Alerts
	}
	p.summary(len(defs), fmt.Sprintf("%d alerts", alerts))
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(ev)
	}
	return ev.Print(stdout)
}

// demoIngest produces the scenario into an embedded broker and ingests it
// with the real ingesters until every message is stored or quarantined.
func demoIngest(ctx context.Context, conn driver.Conn, s scenario.Scenario, c *config, log *slog.Logger) error {
	return demoIngestReporting(ctx, conn, s, c, log, nil)
}

// demoIngestReporting is demoIngest with the messages committed told to
// report.
func demoIngestReporting(ctx context.Context, conn driver.Conn, s scenario.Scenario, c *config, log *slog.Logger, report func(done, total int)) error {
	key := make([]byte, 32) // a key of this run only: the demo's people are made up
	rand.Read(key)
	p, err := normalize.NewProtector(key)
	if err != nil {
		return err
	}
	return ingestAll(ctx, conn, s.Messages, normalize.New(p), p, c, log, func() {}, report)
}

// demoStored counts the records stored and the messages quarantined per feed.
func demoStored(ctx context.Context, conn driver.Conn, c *config) (stored, quarantined scenario.Counts, err error) {
	stored, quarantined = scenario.Counts{}, scenario.Counts{}
	rows, err := conn.Query(ctx, `SELECT source, uniqExact(id) FROM events GROUP BY source`)
	if err != nil {
		return nil, nil, fmt.Errorf("count records: %w", err)
	}
	for rows.Next() {
		var src string
		var n uint64
		if err := rows.Scan(&src, &n); err != nil {
			rows.Close()
			return nil, nil, err
		}
		stored[risk.Source(src)] = int(n)
	}
	rows.Close()
	rows, err = conn.Query(ctx, `SELECT topic, count() FROM rejected_events FINAL GROUP BY topic`)
	if err != nil {
		return nil, nil, fmt.Errorf("count quarantined: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var topic string
		var n uint64
		if err := rows.Scan(&topic, &n); err != nil {
			return nil, nil, err
		}
		for _, f := range c.feeds() {
			if f.Topic == topic {
				quarantined[f.Source] = int(n)
			}
		}
	}
	return stored, quarantined, rows.Err()
}
