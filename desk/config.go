package desk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// Config holds the desks' rules, loaded from one YAML file; the zero value
// of a field means its default (DefaultConfig).
type Config struct {
	Routing   RoutingConfig  `yaml:"routing"`
	Deadlines DeadlineConfig `yaml:"deadlines"`
	Sessions  SessionConfig  `yaml:"sessions"`
	Notify    NotifyConfig   `yaml:"notify"`
}

// RoutingConfig is the rule that picks the one desk an alert goes to: the
// lowest desk whose region covers the alert's and whose tier is competent
// for the alert's level, its breadth and its detector.
type RoutingConfig struct {
	// Levels is the lowest tier competent for an alert of each level.
	Levels map[risk.Level]risk.Tier `yaml:"levels"`
	// Detectors lifts a detector's alerts to at least this tier:
	// skip-level petitions go to the county whatever their level.
	Detectors map[string]risk.Tier `yaml:"detectors"`
}

// DeadlineConfig sets how long a desk has for a case, in working days
// (package desk/calendar), and what happens past it.
type DeadlineConfig struct {
	Tiers map[risk.Tier]int `yaml:"tiers"` // working days at each tier
	Kinds map[string]int    `yaml:"kinds"` // working days for a detector's cases, at any tier: fewer for urgent kinds
	// DueSoon warns the mediator this many working days before the due time (将到期).
	DueSoon int `yaml:"due_soon"`
	// RedCard is how many working days past due a yellow card (黄牌督办)
	// turns red and the case escalates to the desk above.
	RedCard int `yaml:"red_card"`
	// PauseClock lets a mediator stop the clock while waiting on an outside
	// party (a court, an expert's report); the deadline moves by the time
	// paused.
	PauseClock bool `yaml:"pause_clock"`
}

// SessionConfig tunes logins, sessions and API tokens.
type SessionConfig struct {
	TTL         time.Duration `yaml:"ttl"`          // a session lasts at most this long; default 12h
	Idle        time.Duration `yaml:"idle"`         // … and ends after this long unused; default 30m
	MaxFailures int           `yaml:"max_failures"` // failed logins in a row before a lock; default 5
	Lock        time.Duration `yaml:"lock"`         // the lock's length, doubling with each further failure; default 1m
	// PerAddress is how many sign-ins one client address may try a minute,
	// whatever the names: password spraying across accounts.
	PerAddress int `yaml:"per_address"` // default 20
	// Hashing is how many passwords are hashed at once (argon2id takes
	// 19 MiB and a core for tens of milliseconds); a sign-in finding them
	// all busy is answered "busy, try again" at once.
	Hashing  int           `yaml:"hashing"`   // default 2
	TokenTTL time.Duration `yaml:"token_ttl"` // an API token's life when its maker gives none; default 90 days (2160h)
}

// NotifyConfig tunes the outbox and says where robots may be reached.
type NotifyConfig struct {
	MaxAttempts int           `yaml:"max_attempts"` // before a robot's notification is given up (events never are); default 8
	Backoff     time.Duration `yaml:"backoff"`      // first retry delay, doubling; default 30s
	MaxBackoff  time.Duration `yaml:"max_backoff"`  // retry delays double up to this; an event that keeps failing is retried this often, forever; default 10m
	// Lease is how long a replica holds a robot's notification it is
	// sending, or a topic whose events it publishes, before another replica
	// may take it over (timed by PostgreSQL's clock); default 1m.
	Lease time.Duration `yaml:"lease"`
	// SendTimeout bounds one send, at most half the lease, so that a send
	// and its record end while the claim still holds; default 20s.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// Robots are the hosts and networks robot URLs may point to.
	Robots robot.Allowlist `yaml:"robots"`
}

// DefaultConfig is the documented default of every setting.
func DefaultConfig() Config {
	return Config{
		Routing: RoutingConfig{
			Levels: map[risk.Level]risk.Tier{
				risk.LevelBlue:   risk.TierVillage,
				risk.LevelYellow: risk.TierVillage,
				risk.LevelOrange: risk.TierTownship,
				risk.LevelRed:    risk.TierCounty,
			},
			Detectors: map[string]risk.Tier{"skip_level": risk.TierCounty},
		},
		Deadlines: DeadlineConfig{
			Tiers:   map[risk.Tier]int{risk.TierVillage: 10, risk.TierTownship: 15, risk.TierCounty: 20, risk.TierCity: 30},
			Kinds:   map[string]int{"extreme_intent": 2, "collective": 5},
			DueSoon: 1,
			RedCard: 2,
		},
		Sessions: SessionConfig{TTL: 12 * time.Hour, Idle: 30 * time.Minute, MaxFailures: 5, Lock: time.Minute,
			PerAddress: 20, Hashing: 2, TokenTTL: 90 * 24 * time.Hour},
		Notify: NotifyConfig{MaxAttempts: 8, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute, Lease: time.Minute, SendTimeout: 20 * time.Second,
			Robots: robot.Allowlist{Hosts: slices.Clone(robot.DefaultHosts)}},
	}
}

// LoadConfig reads a YAML file over the defaults: what it sets replaces the
// default, what it leaves out keeps it. Unknown keys are errors.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("open desk config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	for _, l := range []risk.Level{risk.LevelBlue, risk.LevelYellow, risk.LevelOrange, risk.LevelRed} {
		if c.Routing.Levels[l].Rank() == 0 {
			errs = append(errs, fmt.Errorf("routing.levels.%s: want village, township, county or city", l))
		}
	}
	for d, t := range c.Routing.Detectors {
		if t.Rank() == 0 {
			errs = append(errs, fmt.Errorf("routing.detectors.%s: unknown tier %q", d, t))
		}
	}
	for _, t := range risk.Tiers {
		if c.Deadlines.Tiers[t] <= 0 {
			errs = append(errs, fmt.Errorf("deadlines.tiers.%s: want a positive number of working days", t))
		}
	}
	for k, n := range c.Deadlines.Kinds {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("deadlines.kinds.%s: want a positive number of working days", k))
		}
	}
	if c.Deadlines.DueSoon < 0 || c.Deadlines.RedCard < 1 {
		errs = append(errs, errors.New("deadlines: due_soon ≥ 0 and red_card ≥ 1"))
	}
	if ss := c.Sessions; ss.TTL <= 0 || ss.Idle <= 0 || ss.MaxFailures < 1 || ss.Lock <= 0 || ss.PerAddress < 1 || ss.Hashing < 1 || ss.TokenTTL <= 0 {
		errs = append(errs, errors.New("sessions: ttl, idle, max_failures, lock, per_address, hashing and token_ttl must be positive"))
	}
	if n := c.Notify; n.MaxAttempts < 1 || n.Backoff <= 0 || n.MaxBackoff < n.Backoff {
		errs = append(errs, errors.New("notify: max_attempts and backoff must be positive, max_backoff at least backoff"))
	}
	if n := c.Notify; n.SendTimeout <= 0 || n.Lease < 2*n.SendTimeout {
		errs = append(errs, errors.New("notify: send_timeout must be positive and at most half the lease"))
	}
	if err := c.Notify.Robots.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("notify.%w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("desk config: %w", err)
	}
	return nil
}

// days is the working days a case of kind has at tier.
func (c DeadlineConfig) days(tier risk.Tier, kind string) int {
	n := c.Tiers[tier]
	if k, ok := c.Kinds[kind]; ok && k < n {
		n = k
	}
	return n
}
