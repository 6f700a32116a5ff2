package desk_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"riskwatch/desk"
)

// The documented rules file must say exactly what the defaults are: read
// over nothing, it gives DefaultConfig.
func TestDocumentedDefaults(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "deploy", "desk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cfg desk.Config
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if want := desk.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("deploy/desk.yaml gives\n%+v\nwant the defaults\n%+v", cfg, want)
	}
}

func TestLoadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "desk.yaml")
	os.WriteFile(p, []byte("routing:\n  levels:\n    orange: county\ndeadlines:\n  kinds:\n    repeat: 7\n"), 0o600)
	cfg, err := desk.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Routing.Levels["orange"] != "county" || cfg.Routing.Levels["blue"] != "village" || cfg.Deadlines.Kinds["repeat"] != 7 || cfg.Deadlines.Kinds["collective"] != 5 {
		t.Errorf("changed settings are not merged over the defaults: %+v", cfg)
	}
	// An on-premises gateway: its host and its network.
	os.WriteFile(p, []byte("notify:\n  robots:\n    hosts: [zzd.gw.zj.gov.cn]\n    networks: [10.32.0.0/16]\n"), 0o600)
	if cfg, err = desk.LoadConfig(p); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Notify.Robots; len(r.Hosts) != 1 || len(r.Networks) != 1 || r.Networks[0] != netip.MustParsePrefix("10.32.0.0/16") {
		t.Errorf("robots %+v: want the gateway's host and network only", r)
	}
	for _, bad := range []string{"routing:\n  levels:\n    orange: province\n", "deadlines:\n  tiers:\n    village: 0\n", "sessions:\n  tll: 1h\n",
		"notify:\n  send_timeout: 45s\n", "notify:\n  robots:\n    networks: [10.32.0.0/33]\n", "notify:\n  robots:\n    hosts: []\n",
		"notify:\n  robots:\n    hosts: [\"https://oapi.dingtalk.com/\"]\n"} {
		os.WriteFile(p, []byte(bad), 0o600)
		if _, err := desk.LoadConfig(p); err == nil || !strings.Contains(err.Error(), "") {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// The county's directory file is valid: every desk's region at its tier.
func TestDirectoryFile(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "deploy", "desks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	desks, err := desk.ReadDirectory(f, desk.DefaultConfig().Notify.Robots)
	if err != nil {
		t.Fatal(err)
	}
	if len(desks) < 10 {
		t.Errorf("%d desks, want the county's", len(desks))
	}
}
