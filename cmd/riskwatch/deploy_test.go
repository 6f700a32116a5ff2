package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"gopkg.in/yaml.v3"

	"riskwatch/schema/schematest"
)

// deployDir is the repository's deploy/ folder.
var deployDir = filepath.Join("..", "..", "deploy")

// TestDeployFilesParse: every YAML file under deploy/ (but local/) parses,
// every document of it; the dashboard is JSON.
func TestDeployFilesParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "local" {
			return filepath.SkipDir
		}
		b, rerr := os.ReadFile(path)
		switch {
		case d.IsDir():
		case strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml"):
			if rerr != nil {
				return rerr
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for {
				var doc any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Errorf("%s: %v", path, err)
					break
				}
			}
			n++
		case strings.HasSuffix(path, ".json"):
			if rerr != nil {
				return rerr
			}
			if !json.Valid(b) {
				t.Errorf("%s: not JSON", path)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("parsed %d files under deploy/, want the rules, the dashboard, compose and k8s", n)
	}
}

// metricName finds the series names in a PromQL expression: ours, the Go
// and process collectors', and up.
var metricName = regexp.MustCompile(`\b(?:(?:risk|go|process)_[a-z0-9_]+|up)\b`)

// queriedMetrics returns every series name the alert rules and the
// dashboard query, with the file that names it.
func queriedMetrics(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	rulesFile := filepath.Join(deployDir, "prometheus", "riskwatch.rules.yml")
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				used[m] = rulesFile
			}
		}
	}
	dashFile := filepath.Join(deployDir, "grafana", "riskwatch.json")
	b, err = os.ReadFile(dashFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashFile, err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				used[m] = dashFile
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("found %d metric names in the rules and the dashboard: is the pattern right?", len(used))
	}
	return used
}

// TestDeployMetricNames starts `riskwatch serve`, gives it real work (the
// contract examples on the feeds, a request, an event left waiting in the
// outbox) and scrapes /metrics until every series that the alert rules and
// the Grafana dashboard query has shown up: a renamed metric fails here,
// not on an operator's silent dashboard. The exposition passes promlint.
func TestDeployMetricNames(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	used := queriedMetrics(t)
	_, dsn := schematest.Open(t)
	pool, pg := schematest.OpenPostgres(t)
	// An event for a topic this replica does not publish: it stays due.
	if _, err := pool.Exec(context.Background(), `INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at)
		VALUES ('deploy-test', 'kafka', '{"topic": "riskwatch.elsewhere", "key": "k"}', '{}', now(), now())`); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t)}
	s.start()
	defer s.stop()
	examples := filepath.Join("..", "..", "..", "shared", "contracts", "examples")
	for feed, topic := range map[string]string{"hotline": "hotline.workorders", "petition": "petition.cases", "grid": "grid.events"} {
		b, err := os.ReadFile(filepath.Join(examples, feed+".jsonl"))
		if err != nil {
			t.Fatalf("contract examples: %v", err)
		}
		kcat(t, s.kafkaAddr, topic, b)
	}

	seen := map[string]bool{"up": true} // Prometheus' own, per target
	var last []byte
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + s.httpA + "/metrics")
		if err == nil {
			last, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		for line := range strings.Lines(string(last)) {
			if line == "" || line[0] == '#' {
				continue
			}
			name, _, _ := strings.Cut(line, "{")
			name, _, _ = strings.Cut(name, " ")
			seen[name] = true
		}
		var missing []string
		for m := range used {
			if !seen[m] {
				missing = append(missing, m+" ("+used[m]+")")
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			t.Fatalf("queried by deploy/ but never on /metrics after 90s of work:\n%s\n\nlast scrape:\n%s\n%s", strings.Join(missing, "\n"), last, s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}

	problems, err := promlint.New(bytes.NewReader(last)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "risk_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
