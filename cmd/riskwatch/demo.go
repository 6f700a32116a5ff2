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
	"text/tabwriter"
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
  riskwatch demo evaluate [-seed N] [-weeks N] [-townships N] [-scale X] [-json] [-clickhouse DSN]`

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
	fs.IntVar(&c.Weeks, "weeks", 10, "Weeks of traffic (at least 5: incidents come after 4 weeks of history; trend's need 9).")
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
	c, err := parse("demo evaluate", args, getenv, stderr, func(fs *flag.FlagSet) {
		scenarioFlags(fs, &cfg)
		fs.BoolVar(&asJSON, "json", false, "Print the results as JSON.")
		fs.IntVar(&parallel, "parallel", 3, "Detector windows run at once.")
		fs.BoolVar(&keep, "keep", false, "Keep the ClickHouse database of the run, to look into it; its name goes to stderr.")
	})
	if err != nil {
		return err
	}
	// Hundreds of messages are bad on purpose; each would be a warning.
	log := newLogger(stderr, max(c.LogLevel, slog.LevelError), c.LogFormat)

	s := scenario.Generate(cfg)
	ev := evaluation{Config: s.Truth.Config, From: s.Truth.From, To: s.Truth.To, Records: s.Truth.Records, Messages: s.Truth.Messages,
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

	start := time.Now()
	if err := demoIngest(ctx, conn, s, c, log); err != nil {
		return err
	}
	if ev.Stored, ev.Quarantined, err = demoStored(ctx, conn, c); err != nil {
		return err
	}
	ev.IngestSeconds = time.Since(start).Seconds()

	start = time.Now()
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		return err
	}
	defs := detectors.All(conn, detectors.DefaultConfig(), lex)
	p := newProgress(stderr, "detect", time.Now)
	runs, err := detectors.Backtest(ctx, defs, s.Truth.From, s.Truth.To, detectors.BacktestConfig{Parallel: parallel, Progress: p.report})
	if err != nil {
		return err
	}
	ev.DetectSeconds = time.Since(start).Seconds()
	alerts := 0
	for _, r := range runs {
		res := score(r, s.Truth)
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
	return ev.print(stdout)
}

// demoIngest produces the scenario into an embedded broker and ingests it
// with the real ingesters until every message is stored or quarantined.
func demoIngest(ctx context.Context, conn driver.Conn, s scenario.Scenario, c *config, log *slog.Logger) error {
	key := make([]byte, 32) // a key of this run only: the demo's people are made up
	rand.Read(key)
	p, err := normalize.NewProtector(key)
	if err != nil {
		return err
	}
	return ingestAll(ctx, conn, s.Messages, normalize.New(p), p, c, log, func() {})
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

// evaluation is what demo evaluate reports.
type evaluation struct {
	Config        scenario.Config `json:"scenario"`
	From          time.Time       `json:"from"`
	To            time.Time       `json:"to"`
	Records       scenario.Counts `json:"records"`     // generated
	Stored        scenario.Counts `json:"stored"`      // distinct records in ClickHouse
	Messages      scenario.Counts `json:"messages"`    // produced
	Bad           scenario.Counts `json:"bad"`         // bad on purpose
	Quarantined   scenario.Counts `json:"quarantined"` // in rejected_events
	Background    scenario.Counts `json:"background"`  // records in no incident
	IngestSeconds float64         `json:"ingest_seconds"`
	DetectSeconds float64         `json:"detect_seconds"`
	Detectors     []result        `json:"detectors"`
}

// miss is an incident not found (Found "") or found below its level.
type miss struct {
	ID    string     `json:"id"`
	Kind  string     `json:"kind"`
	Level risk.Level `json:"level"`
	Found risk.Level `json:"found"`
}

func (m miss) String() string {
	if m.Found == "" {
		return fmt.Sprintf("%s %s (%s): not found", m.ID, m.Kind, m.Level)
	}
	return fmt.Sprintf("%s %s (%s): found %s", m.ID, m.Kind, m.Level, m.Found)
}

// result scores one detector. An alert is one scope (later windows of the
// scope join it, as in the store); it is a true positive when the evidence
// it opened with holds a record of one of the detector's incidents (an
// alert without evidence, a trend's: when its region and category are an
// incident's, from the incident's KnowableAt on), "other" when it holds one of another detector's incidents (a
// real risk, not this detector's to find), and false otherwise. An incident is found when any
// alert of the detector, opening or joined, holds one of its records; its
// level is the highest such alert's; its delay runs from KnowableAt to the
// end of the first such alert's window.
type result struct {
	Detector        string   `json:"detector"`
	Windows         int      `json:"windows"` // run over: hourly, daily for trend
	Incidents       int      `json:"incidents"`
	Found           int      `json:"found"`
	Recall          float64  `json:"recall"`
	RedOrange       int      `json:"red_orange"`        // incidents whose level is red or orange
	RedOrangeFound  int      `json:"red_orange_found"`  // … found at that level or above
	RecallRedOrange *float64 `json:"recall_red_orange"` // null when there are none
	UnderLevel      int      `json:"under_level"`       // found below their level
	Alerts          int      `json:"alerts"`            // scopes raised
	TruePositives   int      `json:"true_positives"`
	FalsePositives  int      `json:"false_positives"`
	Other           int      `json:"other"`
	Precision       *float64 `json:"precision"`     // TP / (TP + FP); null without alerts
	FalsePer10k     float64  `json:"false_per_10k"` // false alerts per 10,000 background records
	Traps           int      `json:"traps"`
	TrapViolations  int      `json:"trap_violations"`
	DelayMedian     float64  `json:"delay_median_seconds"`
	DelayMax        float64  `json:"delay_max_seconds"`
	QuerySeconds    float64  `json:"query_seconds"`          // in its queries, summed over windows
	Missed          []miss   `json:"missed,omitempty"`       // not found, or below their level
	FalseAlerts     []string `json:"false_alerts,omitempty"` // summaries, the first few
	ViolatedTraps   []string `json:"violated_traps,omitempty"`
}

func score(r detectors.BacktestRun, t scenario.Truth) result {
	res := result{Detector: r.Detector, Windows: len(r.Windows), QuerySeconds: r.Busy.Seconds()}
	ours := map[risk.Evidence][]int{} // record → this detector's incidents
	planted := map[risk.Evidence]bool{}
	var incidents []scenario.Incident
	for _, in := range t.Incidents {
		if in.Detector == r.Detector {
			incidents = append(incidents, in)
		}
	}
	for i, in := range incidents {
		for _, e := range in.Records {
			ours[e] = append(ours[e], i)
		}
	}
	for _, in := range t.Incidents {
		for _, e := range in.Records {
			planted[e] = true
		}
	}
	traps := map[risk.Evidence][]string{}
	for _, tr := range t.Traps {
		if tr.Detector == r.Detector {
			res.Traps++
			for _, e := range tr.Records {
				traps[e] = append(traps[e], tr.ID+" "+tr.Kind)
			}
		}
	}

	// holds lists this detector's incidents an alert holds: by its
	// evidence, or, for an alert that names no records (trend), by its
	// region and category once the incident is knowable (earlier alerts of
	// the scope are about something else).
	holds := func(a risk.Alert) []int {
		var out []int
		for _, e := range a.Evidence {
			out = append(out, ours[e]...)
		}
		if len(a.Evidence) == 0 {
			for i, in := range incidents {
				if in.Category != "" && a.Labels["region"] == in.Region && a.Labels["category"] == in.Category && !a.Window.End.Before(in.KnowableAt) {
					out = append(out, i)
				}
			}
		}
		return out
	}
	type scope struct{ level risk.Level }
	scopes := map[string]*scope{}
	first := make([]time.Time, len(incidents)) // end of the first window that found it
	found := make([][]*scope, len(incidents))
	violated := map[string]bool{}
	for wi := range r.Windows {
		for _, a := range r.Alerts[wi] {
			held := holds(a)
			sc, ok := scopes[a.ScopeKey()]
			if !ok {
				sc = &scope{}
				scopes[a.ScopeKey()] = sc
				res.Alerts++
				switch {
				case len(held) > 0:
					res.TruePositives++
				case slices.ContainsFunc(a.Evidence, func(e risk.Evidence) bool { return planted[e] }):
					res.Other++
				default:
					res.FalsePositives++
					if len(res.FalseAlerts) < 5 {
						res.FalseAlerts = append(res.FalseAlerts, a.Window.Start.In(risk.CST).Format("01-02 15:04")+" "+string(a.Level)+" "+a.Summary)
					}
				}
			}
			sc.level = sc.level.Max(a.Level)
			for _, i := range held {
				if first[i].IsZero() {
					first[i] = a.Window.End
				}
				if !slices.Contains(found[i], sc) {
					found[i] = append(found[i], sc)
				}
			}
			for _, e := range a.Evidence {
				for _, tr := range traps[e] {
					if !violated[tr] {
						violated[tr] = true
						res.ViolatedTraps = append(res.ViolatedTraps, tr+": "+a.Summary)
					}
				}
			}
		}
	}
	res.TrapViolations = len(violated)

	var delays []float64
	for i, in := range incidents {
		res.Incidents++
		ro := in.Level.Rank() >= risk.LevelOrange.Rank()
		if ro {
			res.RedOrange++
		}
		var level risk.Level
		for _, sc := range found[i] {
			level = level.Max(sc.level)
		}
		switch {
		case first[i].IsZero():
			res.Missed = append(res.Missed, miss{in.ID, in.Kind, in.Level, ""})
			continue
		case level.Rank() < in.Level.Rank():
			res.UnderLevel++
			res.Missed = append(res.Missed, miss{in.ID, in.Kind, in.Level, level})
		case ro:
			res.RedOrangeFound++
		}
		res.Found++
		delays = append(delays, first[i].Sub(in.KnowableAt).Seconds())
	}
	res.Recall = ratio(res.Found, res.Incidents)
	if res.RedOrange > 0 {
		v := ratio(res.RedOrangeFound, res.RedOrange)
		res.RecallRedOrange = &v
	}
	if n := res.TruePositives + res.FalsePositives; n > 0 {
		v := ratio(res.TruePositives, n)
		res.Precision = &v
	}
	res.FalsePer10k = 10000 * float64(res.FalsePositives) / float64(max(t.Background.Total(), 1))
	if len(delays) > 0 {
		slices.Sort(delays)
		res.DelayMedian, res.DelayMax = delays[len(delays)/2], delays[len(delays)-1]
	}
	return res
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (ev evaluation) print(w io.Writer) error {
	c := ev.Config
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	days := ev.To.Sub(ev.From).Hours() / 24
	fmt.Fprintf(tw, "scenario\tseed %d, %d weeks from %s, %d townships, scale %g\n", c.Seed, c.Weeks, ev.From.In(risk.CST).Format("2006-01-02"), c.Townships, c.Scale)
	var bg, ing []string
	for _, src := range risk.Sources {
		bg = append(bg, fmt.Sprintf("%s %d (%.0f a day)", src, ev.Background[src], float64(ev.Background[src])/days))
		ing = append(ing, fmt.Sprintf("%s %d/%d records, %d/%d quarantined of %d messages", src, ev.Stored[src], ev.Records[src], ev.Quarantined[src], ev.Bad[src], ev.Messages[src]))
	}
	fmt.Fprintf(tw, "background\t%s\n", strings.Join(bg, ", "))
	fmt.Fprintf(tw, "ingest\t%.1fs: %s\n", ev.IngestSeconds, strings.Join(ing, "; "))
	fmt.Fprintf(tw, "detect\t%.1fs: %d detectors over every window of the scenario\n\n", ev.DetectSeconds, len(ev.Detectors))
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "detector\twindows\tincidents\tfound\trecall\tred/orange\talerts\tTP\tFP\tother\tprecision\tFP/10k\ttraps hit\tdelay p50\tdelay max\tquery s\t")
	for _, r := range ev.Detectors {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%d\t%d\t%d\t%d\t%s\t%.1f\t%d/%d\t%s\t%s\t%.1f\t\n",
			r.Detector, r.Windows, r.Incidents, r.Found, r.Recall, fraction(r.RedOrangeFound, r.RedOrange), r.Alerts, r.TruePositives, r.FalsePositives, r.Other,
			optional(r.Precision), r.FalsePer10k, r.TrapViolations, r.Traps, delay(r.DelayMedian, r.Found), delay(r.DelayMax, r.Found), r.QuerySeconds)
	}
	tw.Flush()
	for _, r := range ev.Detectors {
		for _, m := range r.Missed {
			fmt.Fprintf(w, "missed     %s\n", m)
		}
		for _, v := range r.ViolatedTraps {
			fmt.Fprintf(w, "trap hit   %s %s\n", r.Detector, v)
		}
		for _, f := range r.FalseAlerts {
			fmt.Fprintf(w, "false      %s %s\n", r.Detector, f)
		}
	}
	return nil
}

func fraction(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", a, b)
}

func optional(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *v)
}

func delay(s float64, n int) string {
	if n == 0 {
		return "–"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}
