package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/detectors/surge"
)

// seriesSample is 11 weeks of daily counts of one township category:
// weekdays about 20, weekends 8, Golden Week (1–7 October) about 3, and a
// surge of 55 on Tuesday 15 October. It lives with the algorithm it samples.
const seriesSample = "../../detectors/surge/testdata/daily.csv"

func runSeries(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = series(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func readCSV(t *testing.T, text string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, text)
	}
	return recs
}

func TestSeriesFile(t *testing.T) {
	in, err := os.ReadFile(seriesSample)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "scores.csv")
	_, stderr, err := runSeries(t, "", "--input", seriesSample, "--output", out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "series: 77 points, step 24h0m0s, alerts: 1\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, input := readCSV(t, string(written)), readCSV(t, string(in))
	if len(got) != len(input) {
		t.Fatalf("got %d lines, want %d (a header and one per input point)", len(got), len(input))
	}
	if h := strings.Join(got[0], ","); h != "timestamp,value,score,alert" {
		t.Errorf("header = %q, want timestamp,value,score,alert", h)
	}
	for i, r := range got[1:] {
		if r[0] != input[i+1][0] || r[1] != input[i+1][1] {
			t.Errorf("line %d: got %s,%s, want the input's %s,%s", i+2, r[0], r[1], input[i+1][0], input[i+1][1])
		}
		wantAlert := "0"
		if r[0] == "2024-10-15" {
			wantAlert = "1"
		}
		if r[3] != wantAlert {
			t.Errorf("%s (value %s, score %s): alert = %s, want %s", r[0], r[1], r[2], r[3], wantAlert)
		}
		if i < 4 && r[2] != "0" { // daily points: the warm-up is three days, at least 4 points
			t.Errorf("%s in warm-up: score = %s, want 0", r[0], r[2])
		}
	}
}

func TestSeriesHeaderIsOptional(t *testing.T) {
	in, err := os.ReadFile(seriesSample)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := strings.Cut(string(in), "\n")
	if header != "timestamp,value" {
		t.Fatalf("sample's first line = %q, want a header", header)
	}
	with, _, err := runSeries(t, string(in), "--input", "-")
	if err != nil {
		t.Fatal(err)
	}
	without, _, err := runSeries(t, body, "--input", "-")
	if err != nil {
		t.Fatal(err)
	}
	if with != without {
		t.Errorf("output without the header line differs:\n%s\nwant\n%s", without, with)
	}
	// A BOM from a spreadsheet is not part of the header.
	bom, _, err := runSeries(t, "\ufeff"+string(in), "--input", "-")
	if err != nil || bom != with {
		t.Errorf("with a BOM: got error %v and %d bytes, want the same output", err, len(bom))
	}
}

// Every timestamp format, at hourly steps across offsets: the same instants
// however they are written.
func TestSeriesStdinFormats(t *testing.T) {
	start := time.Date(2024, 3, 4, 0, 0, 0, 0, risk.CST)
	var in strings.Builder
	for i := range 400 {
		t := start.Add(time.Duration(i) * time.Hour)
		v := "3"
		if i == 399 {
			v = "25" // a surge on the last point
		}
		var stamp string
		switch i % 4 {
		case 0:
			stamp = t.UTC().Format(time.RFC3339)
		case 1:
			stamp = t.Format(time.DateTime) // UTC+8
		case 2:
			stamp = t.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano)
		case 3:
			stamp = strconv.FormatInt(t.Unix(), 10)
		}
		in.WriteString(stamp + "," + v + "\n")
	}
	out, _, err := runSeries(t, in.String(), "--input", "-", "--min-count", "20")
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, out)
	if len(recs) != 401 {
		t.Fatalf("got %d lines, want 401", len(recs))
	}
	for i, r := range recs[1:] {
		want := "0"
		if i == 399 {
			want = "1"
		}
		if r[3] != want {
			t.Errorf("line %d (%s,%s score %s): alert = %s, want %s", i+1, r[0], r[1], r[2], r[3], want)
		}
	}
}

func TestSeriesRejects(t *testing.T) {
	tests := []struct {
		name, in string
		args     []string
		want     string
	}{
		{"gap", "2024-01-01,1\n2024-01-02,1\n2024-01-03,1\n2024-01-05,1\n2024-01-06,1\n", nil,
			"standard input: line 4: 2024-01-05 is 48h0m0s after line 3, but the series' step is 24h0m0s: irregular series"},
		{"unsorted", "timestamp,value\n2024-01-01,1\n2024-01-03,1\n2024-01-02,1\n2024-01-04,1\n", nil,
			"line 4: 2024-01-02 is not after line 3 (2024-01-03)"},
		{"duplicate", "2024-01-01,1\n2024-01-02,1\n2024-01-02,1\n2024-01-03,1\n", nil, "line 3: 2024-01-02 is not after line 2"},
		{"bad timestamp", "2024-01-01,1\n01/02/2024,1\n", nil, `line 2: timestamp "01/02/2024"`},
		{"header-like line later", "2024-01-01,1\ntimestamp,value\n", nil, `line 2: timestamp "timestamp"`},
		{"negative count", "2024-01-01,1\n2024-01-02,-1\n", nil, `line 2: value "-1": want a count ≥ 0`},
		{"not a number", "2024-01-01,1\n2024-01-02,many\n", nil, `line 2: value "many"`},
		{"NaN", "2024-01-01,1\n2024-01-02,NaN\n", nil, `line 2: value "NaN"`},
		{"one column", "2024-01-01,1\n2024-01-02\n", nil, "line 2: want timestamp,value"},
		{"one point", "timestamp,value\n2024-01-01,1\n", nil, "1 points: want at least 2"},
		{"bad alpha", "2024-01-01,1\n2024-01-02,1\n", []string{"--alpha", "0"}, "alpha"},
		{"stray argument", "", []string{"extra"}, "unexpected arguments: extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runSeries(t, tt.in, append([]string{"--input", "-"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSeriesUsage(t *testing.T) {
	_, stderr, err := runSeries(t, "")
	if err == nil || !strings.Contains(err.Error(), "--input is required") {
		t.Errorf("without --input: got error %v, want --input is required", err)
	}
	if !strings.Contains(stderr, "usage: riskwatch series") || !strings.Contains(stderr, "-min-excess") {
		t.Errorf("without --input: stderr = %q, want the usage with the flags", stderr)
	}
	if _, _, err := runSeries(t, "", "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: got error %v, want flag.ErrHelp", err)
	}
	if _, _, err := runSeries(t, "", "--input", filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got error %v, want os.ErrNotExist", err)
	}
}

// An open event absorbs the next rows until an hour passes without a row
// below alpha; rows outside events keep their scores.
func TestSeriesEvents(t *testing.T) {
	const alpha = 0.001
	row := func(p float64, alert bool) surge.Scored {
		return surge.Scored{P: p, Score: 0.1 + (1-p)/2, Alert: alert}
	}
	quiet, hot := row(0.5, false), row(1e-6, true)
	// 5-minute steps: 12 rows are an hour.
	in := []surge.Scored{quiet, hot, hot, quiet, hot}
	for range 13 {
		in = append(in, quiet)
	}
	in = append(in, hot, hot)
	got := events(in, 5*time.Minute, alpha)
	var alerts []int
	for i, s := range got {
		if s.Alert {
			alerts = append(alerts, i)
		}
	}
	if want := []int{1, 18}; !slices.Equal(alerts, want) {
		t.Errorf("alerts at rows %v, want %v", alerts, want)
	}
	for _, i := range []int{2, 3, 4, 16, 19} {
		if got[i].Score != 0 {
			t.Errorf("row %d in an open event: score %v, want 0", i, got[i].Score)
		}
	}
	if got[17].Score != quiet.Score || got[0].Score != quiet.Score {
		t.Errorf("rows outside events: scores %v, %v, want %v", got[0].Score, got[17].Score, quiet.Score)
	}
}
