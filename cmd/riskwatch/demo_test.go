package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/scenario"
	"riskwatch/schema/schematest"
)

// knownGaps are planted incidents the detectors cannot find yet, by
// detector and kind: trend needs four weeks of history before a rise, and
// the scenario here, five weeks long, ends before its rises can be planted. They are logged, not failed; one that
// starts being found is logged too, to be struck from here.
var knownGaps = map[string]string{
	"trend express_points": "trend needs four weeks before the rise; the scenario is too short to plant one",
	"trend elderly_meals":  "trend needs four weeks before the rise; the scenario is too short to plant one",
}

// TestDemoEvaluate runs `riskwatch demo evaluate` on a small scenario (2
// townships, 5 weeks, a third of the background) against the local
// ClickHouse: ingestion loses nothing, every detector has planted
// incidents, every red and orange one is found at its level, and no trap
// raises an alert.
func TestDemoEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse; skipped in -short mode")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"evaluate", "-seed", "1", "-weeks", "5", "-townships", "2", "-scale", "0.3", "-json",
		"-clickhouse", schematest.DSN(), "-postgres", schematest.PostgresDSN()}
	if err := demo(t.Context(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("demo evaluate: %v\n%s\n(start the local servers with deploy/local/up.sh, or set RISKWATCH_CLICKHOUSE)", err, stderr.String())
	}
	var ev scenario.Evaluation
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("demo evaluate -json: %v\n%s", err, stdout.String())
	}
	for _, src := range risk.Sources {
		if ev.Stored[src] != ev.Records[src] || ev.Quarantined[src] != ev.Bad[src] || ev.Bad[src] == 0 {
			t.Errorf("%s: %d of %d records stored, %d of %d bad messages quarantined; want all", src, ev.Stored[src], ev.Records[src], ev.Quarantined[src], ev.Bad[src])
		}
	}

	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	scored := map[string]scenario.Result{}
	for _, r := range ev.Detectors {
		scored[r.Detector] = r
	}
	all := detectors.All(nil, detectors.DefaultConfig(), lex)
	for _, name := range scenario.Detectors {
		if !slices.ContainsFunc(all, func(d detectors.Definition) bool { return d.Name == name }) {
			t.Errorf("the scenario plants incidents for %s, which detectors.All does not run", name)
		}
	}
	for _, d := range all {
		r, ok := scored[d.Name]
		if !ok || r.Incidents < 2 {
			t.Errorf("detector %s: %d planted incidents, want 2 or more", d.Name, r.Incidents)
			continue
		}
		if r.TrapViolations > 0 {
			t.Errorf("%s raised alerts on traps: %v", d.Name, r.ViolatedTraps)
		}
		gaps := map[string]bool{}
		for _, m := range r.Missed {
			why, known := knownGaps[d.Name+" "+m.Kind]
			gaps[m.Kind] = known
			switch {
			case known:
				t.Logf("known gap, %s: %s", m, why)
			case m.Level.Rank() >= risk.LevelOrange.Rank():
				t.Errorf("%s missed a red or orange incident: %s", d.Name, m)
			default:
				t.Logf("%s missed a yellow or blue incident: %s", d.Name, m)
			}
		}
		for k := range knownGaps {
			if name, kind, _ := strings.Cut(k, " "); name == d.Name && !gaps[kind] {
				t.Logf("%s %s is found now: strike it from knownGaps", name, kind)
			}
		}
		t.Logf("%-14s recall %.2f, %d true and %d false alerts, %.1f false per 10,000 background records", d.Name, r.Recall, r.TruePositives, r.FalsePositives, r.FalsePer10k)
	}
}

// TestDemoEvaluateDetector: -detector backtests and scores only the
// detectors named, and refuses a name that is none.
func TestDemoEvaluateDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse; skipped in -short mode")
	}
	run := func(only string) (scenario.Evaluation, error) {
		var stdout, stderr bytes.Buffer
		args := []string{"evaluate", "-seed", "2", "-weeks", "5", "-townships", "2", "-scale", "0.3", "-json", "-detector", only,
			"-clickhouse", schematest.DSN(), "-postgres", schematest.PostgresDSN()}
		var ev scenario.Evaluation
		if err := demo(t.Context(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
			return ev, err
		}
		if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
			t.Fatalf("demo evaluate -json: %v\n%s", err, stdout.String())
		}
		return ev, nil
	}
	if _, err := run("convergence,surges"); err == nil || !strings.Contains(err.Error(), `"surges"`) {
		t.Errorf("-detector convergence,surges: error %v, want one naming surges", err)
	}
	ev, err := run("convergence")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Detectors) != 1 || ev.Detectors[0].Detector != "convergence" {
		t.Fatalf("scored %+v, want convergence alone", ev.Detectors)
	}
	if r := ev.Detectors[0]; r.Incidents == 0 || r.Found != r.Incidents {
		t.Errorf("convergence found %d of %d incidents, want all", r.Found, r.Incidents)
	}
}
