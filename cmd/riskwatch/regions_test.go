package main

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	risk "riskwatch"
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
