package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/detectors/surge"
)

const seriesUsage = `usage: riskwatch series --input FILE.csv [--output FILE.csv] [--alpha A] [--min-excess E] [--min-count C]

Scores one count series with the surge (突增) test, as the detector would:
each point against the seasonal baseline of the points before it.

Input: lines timestamp,value, an optional header line first, any further
columns ignored. Timestamps are RFC 3339 (any offset), 2006-01-02 15:04:05 or
2006-01-02 (both UTC+8), or epoch seconds. The step is the most common
difference between timestamps; every difference must be that step (fill
missing steps with 0).

Output: timestamp,value,score,alert with the timestamp and value as given,
score = S/(S+3) with S = −log10 P(X ≥ value | baseline) (0.5 at P = 0.001,
below 1 for any P > 0) and alert 0 or 1. One event raises one alert, as the
detector does: an alert opens an event, and the open event absorbs the next
rows (score 0, alert 0) until an hour has passed without a row below
--alpha. The first day (see --warm-up) is history only: score 0.

flags:
`

// series scores a CSV series with surge.Score, so that analysts can try
// thresholds and the algorithm can be judged on public benchmarks
// (NAB-style timestamp,value files). It reads no store.
func series(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := surge.DefaultConfig()
	fs := flag.NewFlagSet("riskwatch series", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), seriesUsage)
		fs.PrintDefaults()
	}
	input := fs.String("input", "", "CSV file to score; - reads standard input. Required.")
	output := fs.String("output", "-", "Where to write the scores; - is standard output.")
	fs.Float64Var(&cfg.Alpha, "alpha", cfg.Alpha, "Alert when P(X ≥ value | baseline) is below this.")
	fs.Float64Var(&cfg.MinExcess, "min-excess", cfg.MinExcess, "Alert only when value − baseline is at least this.")
	fs.Float64Var(&cfg.MinCount, "min-count", cfg.MinCount, "Alert only when value is at least this.")
	fs.IntVar(&cfg.LookbackSeasons, "lookback", cfg.LookbackSeasons, "Weeks of history in the baseline.")
	fs.IntVar(&cfg.WarmUp, "warm-up", cfg.WarmUp, "Leading points that are history only; 0 means one day's worth.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("series: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *input == "" {
		fs.Usage()
		return errors.New("series: --input is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	in, name := stdin, *input
	if name == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(*input)
		if err != nil {
			return fmt.Errorf("series: %w", err)
		}
		defer f.Close()
		in = f
	}
	rows, err := readSeries(in)
	if err != nil {
		return fmt.Errorf("series: read %s: %w", name, err)
	}
	step, err := seriesStep(rows)
	if err != nil {
		return fmt.Errorf("series: %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	points := make([]surge.Point, len(rows))
	for i, r := range rows {
		points[i] = r.Point
	}
	scored, err := surge.Score(points, step, cfg)
	if err != nil {
		return fmt.Errorf("series: %s: %w", name, err)
	}

	out := stdout
	var f *os.File
	if *output != "-" && *output != "" {
		if f, err = os.Create(*output); err != nil {
			return fmt.Errorf("series: %w", err)
		}
		defer f.Close() // no-op after the checked Close below
		out = f
	}
	alerts, err := writeScored(out, rows, events(scored, step, cfg.Alpha))
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("series: write %s: %w", *output, err)
	}
	fmt.Fprintf(stderr, "series: %d points, step %v, alerts: %d\n", len(rows), step, alerts)
	return nil
}

// seriesRow is one input line: the point and its text, echoed as given.
type seriesRow struct {
	surge.Point
	line         int
	stamp, value string
}

// readSeries reads timestamp,value lines; the first line is a header when
// neither of its fields parses.
func readSeries(r io.Reader) ([]seriesRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // extra columns (labels) are ignored
	cr.TrimLeadingSpace = true
	var rows []seriesRow
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // spreadsheets write a BOM
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("line %d: want timestamp,value", line)
		}
		stamp, value := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		t, terr := seriesTime(stamp)
		v, verr := strconv.ParseFloat(value, 64)
		switch {
		case first && terr != nil && verr != nil:
			continue // header
		case terr != nil:
			return nil, fmt.Errorf("line %d: %w", line, terr)
		case verr != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v):
			return nil, fmt.Errorf("line %d: value %q: want a count ≥ 0", line, value)
		}
		rows = append(rows, seriesRow{Point: surge.Point{T: t, V: v}, line: line, stamp: stamp, value: value})
	}
	return rows, nil
}

// seriesTime reads the timestamp formats of the input.
func seriesTime(s string) (time.Time, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return time.Unix(n, 0), nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, risk.CST); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: want RFC 3339, 2006-01-02 15:04:05, 2006-01-02 or epoch seconds", s)
}

// seriesStep returns the most common difference between consecutive
// timestamps (the smallest, on a tie) and checks that it is the only one.
func seriesStep(rows []seriesRow) (time.Duration, error) {
	if len(rows) < 2 {
		return 0, fmt.Errorf("%d points: want at least 2 to know the step", len(rows))
	}
	count := map[time.Duration]int{}
	for i := 1; i < len(rows); i++ {
		count[rows[i].T.Sub(rows[i-1].T)]++
	}
	var step time.Duration
	for d, n := range count {
		if n > count[step] || n == count[step] && d < step {
			step = d
		}
	}
	for i := 1; i < len(rows); i++ {
		prev, r := rows[i-1], rows[i]
		switch d := r.T.Sub(prev.T); {
		case d <= 0:
			return 0, fmt.Errorf("line %d: %s is not after line %d (%s): sort the series and drop duplicates", r.line, r.stamp, prev.line, prev.stamp)
		case d != step:
			return 0, fmt.Errorf("line %d: %s is %v after line %d, but the series' step is %v: irregular series (fill missing steps with 0)", r.line, r.stamp, d, prev.line, step)
		}
	}
	return step, nil
}

// eventQuiet is how long an event stays open after its last row below
// alpha: as long as the series stays surprising, the scope's open alert
// absorbs its rows.
const eventQuiet = time.Hour

// events returns scored with one alert per event, as the detector raises
// them: an alert opens an event, and the open event absorbs every later row
// (score 0, no alert) until eventQuiet has passed without a row below
// alpha. Rows outside events keep their score, so that a threshold swept
// over the scores finds each event once.
func events(scored []surge.Scored, step time.Duration, alpha float64) []surge.Scored {
	out := make([]surge.Scored, len(scored))
	quiet := max(1, int(eventQuiet/step))
	open, last := false, 0
	for i, s := range scored {
		surprising := s.P < alpha
		if open && i-last > quiet {
			open = false
		}
		switch {
		case open:
			if surprising {
				last = i
			}
			s.Alert, s.Score = false, 0
		case s.Alert:
			open, last = true, i
		}
		out[i] = s
	}
	return out
}

// writeScored writes the scores as CSV and returns the number of alerts.
func writeScored(w io.Writer, rows []seriesRow, scored []surge.Scored) (alerts int, err error) {
	cw := csv.NewWriter(w)
	cw.Write([]string{"timestamp", "value", "score", "alert"})
	for i, s := range scored {
		alert := "0"
		if s.Alert {
			alert = "1"
			alerts++
		}
		cw.Write([]string{rows[i].stamp, rows[i].value, strconv.FormatFloat(s.Score, 'f', -1, 64), alert})
	}
	cw.Flush() // Write errors stick and surface here
	return alerts, cw.Error()
}
