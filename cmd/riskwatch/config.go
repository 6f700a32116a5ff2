package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// config is what every command that touches the stores shares. Flags win
// over the environment, which wins over the defaults.
type config struct {
	Kafka        string // broker list, or embedded / embedded://HOST:PORT
	KafkaSec     pipeline.KafkaSecurity
	Production   bool // refuse the embedded test broker
	KafkaDataDir string
	KafkaGroup   string
	Partitions   int
	ClickHouse   string
	Cluster      string // ClickHouse cluster of the schema; "" one server
	Postgres     string
	DBSecrets    dbSecrets
	HTTP         string
	PIIKeyFile   string
	PIIPrevious  string // file of the personal-data keys replaced, oldest first
	Topics       map[risk.Source]*string
	AlertTopic   string
	Detectors    string // YAML settings file
	DeskConfig   string // YAML file of the desks' rules
	Directory    string // YAML desk directory
	Regions      string // YAML region directory: the places' names
	Calendar     string // YAML working-day calendar, over the built-in one
	CaseTopic    string
	Briefs       briefConfig
	LogLevel     slog.Level
	LogFormat    string
	Pipeline     pipeline.Config
	HTTPLimits   console.HTTPConfig
	getenv       func(string) string
}

// briefConfig says which briefs serve makes on schedule.
type briefConfig struct {
	Regions          string // comma-separated; "" the directory's city and county desks
	Weekly, Business string // crons; "" none
	Link             string
	Population       string // region file of residents per place; "" none
}

// populations are the residents of places: from -brief.population if it
// is given, else from the region directory's entries that have them.
func (c *config) populations() (brief.Populations, error) {
	if c.Briefs.Population == "" {
		_, residents, err := readRegions(c.Regions)
		if err != nil || len(residents) == 0 {
			return nil, err
		}
		return brief.NewPopulations(residents)
	}
	f, err := os.Open(c.Briefs.Population)
	if err != nil {
		return nil, fmt.Errorf("open populations: %w", err)
	}
	defer f.Close()
	return brief.ReadPopulations(f)
}

// schedules are the scheduled briefs: each region's weekly and business
// month's brief.
func (b briefConfig) schedules(desks []desk.Desk) []brief.Schedule {
	var regions []string
	for _, r := range strings.Split(b.Regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regions = append(regions, r)
		}
	}
	if b.Regions == "" {
		for _, d := range desks {
			if d.Tier == risk.TierCity || d.Tier == risk.TierCounty {
				regions = append(regions, d.Region)
			}
		}
	}
	var out []brief.Schedule
	for _, r := range regions {
		for kind, spec := range map[string]string{"week": b.Weekly, "business": b.Business} {
			if spec != "" {
				out = append(out, brief.Schedule{Region: r, Kind: kind, Cron: spec})
			}
		}
	}
	return out
}

const defaultEmbeddedAddr = "127.0.0.1:9092"

func (c *config) register(fs *flag.FlagSet, getenv func(string) string) {
	c.getenv = getenv
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Kafka, "kafka", env("RISKWATCH_KAFKA", ""), "Kafka brokers (host:port,…), or embedded / embedded://HOST:PORT for the in-process test broker (deploy/local/run.sh); none by default, so that nobody runs the test broker by mistake. Env RISKWATCH_KAFKA.")
	c.KafkaSec.RegisterFlags(fs)
	fs.BoolVar(&c.Production, "production", getenv("RISKWATCH_ENV") == "production", "A production deployment: serve refuses the embedded test broker. Default true when RISKWATCH_ENV=production.")
	fs.StringVar(&c.KafkaDataDir, "kafka.data-dir", env("RISKWATCH_KAFKA_DATA_DIR", "var/kafka"), "Where the embedded broker keeps its data; empty keeps it in memory.")
	fs.StringVar(&c.KafkaGroup, "kafka.group", "riskwatch", "Prefix of the feeds' consumer groups: riskwatch.hotline, riskwatch.petition, riskwatch.grid.")
	fs.IntVar(&c.Partitions, "kafka.partitions", 3, "Partitions of each topic the embedded broker creates.")
	fs.StringVar(&c.ClickHouse, "clickhouse", env("RISKWATCH_CLICKHOUSE", "clickhouse://127.0.0.1:19000/default"), "ClickHouse DSN. Env RISKWATCH_CLICKHOUSE.")
	fs.StringVar(&c.Cluster, "clickhouse.cluster", env("RISKWATCH_CLICKHOUSE_CLUSTER", ""), "ClickHouse cluster (a remote_servers name) that migrate makes the schema on: replicated tables under Distributed ones, ON CLUSTER; empty: one server. Env RISKWATCH_CLICKHOUSE_CLUSTER.")
	fs.StringVar(&c.Postgres, "postgres", env("RISKWATCH_POSTGRES", "postgres://riskwatch@127.0.0.1:15432/riskwatch?sslmode=disable"), "PostgreSQL DSN (alerts, workflow state). Env RISKWATCH_POSTGRES.")
	c.DBSecrets.register(fs)
	fs.StringVar(&c.HTTP, "http", env("RISKWATCH_HTTP", "127.0.0.1:8080"), "HTTP listen address of the API. Env RISKWATCH_HTTP.")
	fs.StringVar(&c.PIIKeyFile, "pii.key-file", env("RISKWATCH_PII_KEY_FILE", ""), "File holding the personal-data key (hex, 32+ bytes), when RISKWATCH_PII_KEY is not set.")
	fs.StringVar(&c.PIIPrevious, "pii.previous-keys-file", env("RISKWATCH_PII_PREVIOUS_KEYS_FILE", ""), "After a rotation: file of the personal-data keys replaced, one hex key a line, oldest first. Their boxes still open; persons are hashed with the oldest, so links hold.")
	c.Topics = map[risk.Source]*string{
		risk.SourceHotline:  fs.String("topic.hotline", "hotline.workorders", "Topic of the 12345 hotline work orders."),
		risk.SourcePetition: fs.String("topic.petition", "petition.cases", "Topic of the petitions."),
		risk.SourceGrid:     fs.String("topic.grid", "grid.events", "Topic of the grid-governance reports."),
	}
	fs.StringVar(&c.Detectors, "detectors.config", "", "YAML file of detector settings (deploy/detectors.yaml documents them); empty for the defaults.")
	fs.StringVar(&c.AlertTopic, "topic.alerts", "riskwatch.alerts", "Topic the alerts are published to.")
	fs.StringVar(&c.CaseTopic, "topic.cases", "riskwatch.cases", "Topic every alert review and case change is published to.")
	fs.StringVar(&c.DeskConfig, "desk.config", "", "YAML file of the desks' rules: routing, deadlines, sessions, notifications (deploy/desk.yaml documents them); empty for the defaults.")
	fs.StringVar(&c.Directory, "desks", env("RISKWATCH_DESKS", ""), "YAML desk directory (deploy/desks.yaml is 诸暨市's), loaded at start and on SIGHUP. Env RISKWATCH_DESKS.")
	fs.StringVar(&c.Regions, "regions", env("RISKWATCH_REGIONS", ""), "YAML region directory naming the divisions in alerts (deploy/regions.yaml is the demo's 诸暨市); empty: places are shown by their codes. Env RISKWATCH_REGIONS.")
	fs.StringVar(&c.Calendar, "calendar", "", "YAML working-day calendar for years after the built-in 2020–2026, or to override them.")
	fs.StringVar(&c.Briefs.Regions, "brief.regions", "", "Regions (division codes, comma-separated) whose briefs serve makes on schedule; empty: those of the directory's city and county desks.")
	fs.StringVar(&c.Briefs.Weekly, "brief.weekly", brief.DefaultCron["week"], "Cron (UTC+8) of the last week's brief; empty: none.")
	fs.StringVar(&c.Briefs.Business, "brief.business", brief.DefaultCron["business"], "Cron (UTC+8) of the last business month's brief (信访业务月); empty: none.")
	fs.StringVar(&c.Briefs.Population, "brief.population", "", "Region file (YAML: division code → residents) rating the briefs' hotspots per 10,000 residents; empty: by matters only.")
	fs.StringVar(&c.Briefs.Link, "brief.link", env("RISKWATCH_CONSOLE_URL", ""), "The console's address as leaders reach it, for the robots' link to a brief. Env RISKWATCH_CONSOLE_URL.")
	fs.TextVar(&c.LogLevel, "log.level", slog.LevelInfo, "Log level: debug, info, warn, error.")
	fs.StringVar(&c.LogFormat, "log.format", "text", "Log format: text or json.")
	c.Pipeline.RegisterFlags(fs)
	c.HTTPLimits.RegisterFlags(fs)
}

// parse parses args into a new config for the command name.
func parse(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*config, error) {
	fs := flag.NewFlagSet("riskwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	c.register(fs, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := errors.Join(c.Pipeline.Validate(), c.HTTPLimits.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// embedded reports whether the in-process broker is wanted and where it
// listens.
func (c *config) embedded() (addr string, ok bool) {
	switch {
	case c.Kafka == "embedded":
		return defaultEmbeddedAddr, true
	case strings.HasPrefix(c.Kafka, "embedded://"):
		return strings.TrimPrefix(c.Kafka, "embedded://"), true
	}
	return "", false
}

// brokers are the -kafka brokers with their TLS and SASL; the SASL
// password is RISKWATCH_KAFKA_PASSWORD, else -kafka.password-file's.
func (c *config) brokers() (pipeline.Brokers, error) {
	password, err := secret(c.getenv, "RISKWATCH_KAFKA_PASSWORD", c.KafkaSec.PasswordFile, "kafka.password-file")
	if err != nil {
		return pipeline.Brokers{}, err
	}
	return c.KafkaSec.Brokers(strings.Split(c.Kafka, ","), password)
}

// checkBroker refuses what serve must not run with: no broker at all, or
// the embedded test broker in production or with a cluster's TLS or SASL
// settings (a production broker was meant).
func (c *config) checkBroker() error {
	if c.Kafka == "" {
		return errors.New("no Kafka brokers: set -kafka host:port,… (or RISKWATCH_KAFKA), or -kafka embedded for the in-process test broker (deploy/local/run.sh does)")
	}
	if _, ok := c.embedded(); !ok {
		return nil
	}
	switch {
	case c.Production:
		return errors.New("-kafka embedded is the in-process test broker, refused in production (-production or RISKWATCH_ENV=production): set -kafka to the cluster's brokers")
	case c.KafkaSec.Set():
		return errors.New("-kafka embedded is the in-process test broker, which speaks neither TLS nor SASL: the -kafka.tls/-kafka.sasl settings are for a cluster; set -kafka to its brokers")
	}
	return nil
}

func (c *config) feeds() []pipeline.Feed {
	feeds := make([]pipeline.Feed, 0, len(risk.Sources))
	for _, s := range risk.Sources {
		feeds = append(feeds, pipeline.Feed{Source: s, Topic: *c.Topics[s], Group: c.KafkaGroup + "." + string(s)})
	}
	return feeds
}

// feedTopics are the topics of the three feeds.
func (c *config) feedTopics() []string {
	var topics []string
	for _, f := range c.feeds() {
		topics = append(topics, f.Topic)
	}
	return topics
}

// memoryBroker starts an in-process broker with the feeds' topics, in
// memory on a free port: for the benchmarks and the demo.
func (c *config) memoryBroker(ctx context.Context) (*pipeline.EmbeddedBroker, error) {
	return pipeline.StartEmbeddedBroker(ctx, "127.0.0.1:0", "", c.feedTopics(), c.Partitions)
}

// piiKey reads the personal-data key: RISKWATCH_PII_KEY, else the key file.
// It is never a flag value, which would show in the process list.
func (c *config) piiKey() ([]byte, error) {
	text := c.getenv("RISKWATCH_PII_KEY")
	if text == "" && c.PIIKeyFile != "" {
		b, err := os.ReadFile(c.PIIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read personal-data key: %w", err)
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("no personal-data key: set RISKWATCH_PII_KEY (64 hex digits: `openssl rand -hex 32`) or -pii.key-file")
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("personal-data key: want hex digits: %w", err)
	}
	return key, nil
}

// protector is the personal-data keyring: the key (piiKey) and those it
// replaced (-pii.previous-keys-file).
func (c *config) protector() (*normalize.Protector, error) {
	key, err := c.piiKey()
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	if c.PIIPrevious != "" {
		b, err := os.ReadFile(c.PIIPrevious)
		if err != nil {
			return nil, fmt.Errorf("read previous personal-data keys: %w", err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, err := hex.DecodeString(line)
			if err != nil {
				return nil, fmt.Errorf("previous personal-data keys, line %d: want hex digits: %w", i+1, err)
			}
			previous = append(previous, k)
		}
	}
	return normalize.NewKeyring(key, previous...)
}

// detectorConfig loads the detectors' settings and the region directory
// that names the places in their alerts.
func (c *config) detectorConfig() (detectors.Config, *intent.Lexicon, error) {
	cfg, lex, err := detectors.LoadConfig(c.Detectors)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Places, err = readPlaces(c.Regions)
	return cfg, lex, err
}

// readPlaces reads a region directory's names (readRegions).
func readPlaces(path string) (risk.Places, error) {
	places, _, err := readRegions(path)
	return places, err
}

// division is an entry of the region directory: its name, or its name and
// residents ({name: 枫桥镇, residents: 63000}), which rate the briefs'
// hotspots per 10,000 residents.
type division struct {
	Name      string `yaml:"name"`
	Residents int    `yaml:"residents"`
}

func (d *division) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		d.Name = n.Value
		return nil
	}
	type plain division
	return n.Decode((*plain)(d))
}

// readRegions reads a region directory: division codes to their own names,
// and the residents of those that give them. No file, no names.
func readRegions(path string) (risk.Places, map[string]int, error) {
	if path == "" {
		return nil, nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read region directory: %w", err)
	}
	var raw map[string]division
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("region directory %s: %v: %w", path, err, risk.ErrInvalid)
	}
	places, residents := risk.Places{}, map[string]int{}
	for code, d := range raw {
		if _, err := risk.ParseRegion(code); err != nil || d.Name == "" || d.Residents < 0 {
			return nil, nil, fmt.Errorf("region directory %s: %q: want a division code of 6, 9 or 12 digits, its name and, if given, its residents: %w", path, code, risk.ErrInvalid)
		}
		places[code] = d.Name
		if d.Residents > 0 {
			residents[code] = d.Residents
		}
	}
	return places, residents, nil
}
