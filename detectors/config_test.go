package detectors_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"riskwatch/detectors"
)

// The documented settings file must say exactly what the defaults are.
func TestDocumentedDefaults(t *testing.T) {
	cfg, lex, err := detectors.LoadConfig(filepath.Join("..", "deploy", "detectors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := detectors.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("deploy/detectors.yaml gives\n%+v\nwant the defaults\n%+v", cfg, want)
	}
	if len(lex.Find("再不给钱就去北京上访")) == 0 {
		t.Error("the default lexicon is lost")
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "d.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, lex, err := detectors.LoadConfig(write("repeat:\n  times: 5\nintent:\n  classes:\n    blockade:\n      terms: [围堵高速]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Repeat.Times != 5 || cfg.Repeat.Days != 30 {
		t.Errorf("repeat = %+v, want times 5 and the default 30 days", cfg.Repeat)
	}
	if len(lex.Find("村民扬言围堵高速")) == 0 || len(lex.Find("再不给钱就去北京上访")) == 0 {
		t.Error("an added term, or a default one, does not fire")
	}
	if _, _, err := detectors.LoadConfig(write("repaet:\n  times: 5\n")); err == nil || !strings.Contains(err.Error(), "repaet") {
		t.Errorf("a misspelt key: %v, want an error naming it", err)
	}
	if _, _, err := detectors.LoadConfig(write("surge:\n  alpha: 2\n")); err == nil {
		t.Error("alpha 2 accepted")
	}
}
