package detectors

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"riskwatch/detectors/intent"
)

// LoadConfig reads the detectors' YAML file: what it sets overrides
// DefaultConfig, the rest keeps its default. Its `intent` section adds
// terms, cues and exclusions to the default lexicon rather than replacing
// it. An unknown key is an error, so that a misspelt setting is not
// silently ignored. path "" gives the defaults.
func LoadConfig(path string) (Config, *intent.Lexicon, error) {
	cfg := DefaultConfig()
	var file struct {
		Config `yaml:",inline"`
		Intent intent.Config `yaml:"intent"`
	}
	file.Config = cfg
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, nil, fmt.Errorf("read detector settings: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			return cfg, nil, fmt.Errorf("detector settings %s: %w", path, err)
		}
		cfg = file.Config
	}
	if err := cfg.Surge.Validate(); err != nil {
		return cfg, nil, err
	}
	lex, err := intent.New(intent.DefaultConfig().Merge(file.Intent))
	if err != nil {
		return cfg, nil, fmt.Errorf("detector settings: intent: %w", err)
	}
	return cfg, lex, nil
}
