package main

import (
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/detectors/scenario"
)

// TestRegionsFile: deploy/regions.yaml, which run.sh serves with, names
// every division of the demo's scenario, so that its alerts read 枫桥镇,
// not 330681109; a code that is no division is refused.
func TestRegionsFile(t *testing.T) {
	places, err := readPlaces("../../deploy/regions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := scenario.Places(); !maps.Equal(places, want) {
		t.Errorf("deploy/regions.yaml has %d divisions, the scenario %d: regenerate it from scenario.Places", len(places), len(want))
	}
	if got := places.Name("330681109201"); got != "枫桥镇枫源村" {
		t.Errorf("330681109201 is %q, want 枫桥镇枫源村", got)
	}
	bad := filepath.Join(t.TempDir(), "regions.yaml")
	if err := os.WriteFile(bad, []byte("\"3306811\": 枫桥镇\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readPlaces(bad); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("a 7-digit code: %v, want ErrInvalid", err)
	}
}

// TestRegionsWithResidents: one region directory names places and, where
// an entry gives them, counts their residents for the briefs; a separate
// -brief.population file, when given, is used instead.
func TestRegionsWithResidents(t *testing.T) {
	dir := t.TempDir()
	regions := filepath.Join(dir, "regions.yaml")
	if err := os.WriteFile(regions, []byte(`"330681": {name: 诸暨市, residents: 1220000}
"330681109": {name: 枫桥镇, residents: 63000}
"330681109201": 枫源村
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse("brief", []string{"-regions", regions}, func(string) string { return "" }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	places, err := readPlaces(regions)
	if err != nil {
		t.Fatal(err)
	}
	if got := places.Name("330681109201"); got != "枫桥镇枫源村" {
		t.Errorf("330681109201 is %q, want 枫桥镇枫源村", got)
	}
	pops, err := c.populations()
	if err != nil {
		t.Fatal(err)
	}
	if want := (brief.Populations{"330681": 1220000, "330681109": 63000}); !maps.Equal(pops, want) {
		t.Errorf("residents %v, want %v", pops, want)
	}

	other := filepath.Join(dir, "population.yaml")
	if err := os.WriteFile(other, []byte("330681109: 64000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Briefs.Population = other
	if pops, err := c.populations(); err != nil || !maps.Equal(pops, brief.Populations{"330681109": 64000}) {
		t.Errorf("with -brief.population: %v, %v; want that file's", pops, err)
	}
	if err := os.WriteFile(regions, []byte(`"330681109": {name: 枫桥镇, residents: -5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readPlaces(regions); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("negative residents: %v, want ErrInvalid", err)
	}
}
