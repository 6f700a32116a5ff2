package pipeline

import (
	"errors"
	"flag"
	"fmt"
	"time"

	risk "riskwatch"
)

// Config tunes batching, retries and what times are believed. One Config
// serves every feed.
type Config struct {
	MaxBatchRows  int           `yaml:"max_batch_rows"`
	MaxBatchBytes int           `yaml:"max_batch_bytes"`
	MaxBatchAge   time.Duration `yaml:"max_batch_age"`
	IdleMark      time.Duration `yaml:"idle_mark"`
	RetryMin      time.Duration `yaml:"retry_min"`
	RetryMax      time.Duration `yaml:"retry_max"`
	// MaxSkew is how far ahead of the clock an updateTime may be: upstream
	// clocks run a little fast. A later updateTime is quarantined; a later
	// time raised is replaced by the updateTime.
	MaxSkew time.Duration `yaml:"max_skew"`
	// Earliest is the first instant upstream could have written: an
	// updateTime before it is a typo or a unit mix-up, and is quarantined.
	Earliest time.Time `yaml:"earliest"`
}

// RegisterFlags registers the pipeline flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	// Big batches by default: an insert into the wide event tables has a
	// fixed cost of tens of milliseconds (a file per column per part), so a
	// replay of history needs them; live traffic flushes on age long before.
	fs.IntVar(&c.MaxBatchRows, "pipeline.max-batch-rows", 50000, "Flush a batch when it holds this many messages.")
	fs.IntVar(&c.MaxBatchBytes, "pipeline.max-batch-bytes", 32<<20, "Flush a batch when its messages hold this many bytes.")
	fs.DurationVar(&c.MaxBatchAge, "pipeline.max-batch-age", 2*time.Second, "Flush a non-empty batch at least this often.")
	fs.DurationVar(&c.IdleMark, "pipeline.idle-mark", 30*time.Second, "While a feed is idle and caught up, advance its watermark to the clock this often.")
	fs.DurationVar(&c.RetryMin, "pipeline.retry-min", 200*time.Millisecond, "First wait before retrying a failed write.")
	fs.DurationVar(&c.RetryMax, "pipeline.retry-max", 15*time.Second, "Longest wait between retries of a failed write.")
	fs.DurationVar(&c.MaxSkew, "pipeline.max-skew", 15*time.Minute, "Quarantine a message whose updateTime is later than the clock plus this; a later time raised is set to the updateTime.")
	c.Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, risk.CST)
	fs.Func("pipeline.earliest", "Quarantine a message whose updateTime is before this day (China time) or RFC 3339 time: upstream did not exist yet. (default 2000-01-01)",
		func(s string) (err error) {
			c.Earliest, err = parseDay(s)
			return err
		})
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBatchRows < 1:
		return errors.New("pipeline.max-batch-rows must be at least 1")
	case c.MaxBatchBytes < 1:
		return errors.New("pipeline.max-batch-bytes must be at least 1")
	case c.MaxBatchAge <= 0 || c.IdleMark <= 0:
		return errors.New("pipeline.max-batch-age and pipeline.idle-mark must be positive")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("pipeline.retry-min must be positive and at most pipeline.retry-max")
	case c.MaxSkew < 0:
		return errors.New("pipeline.max-skew must not be negative")
	case c.Earliest.IsZero():
		return errors.New("pipeline.earliest must be set")
	}
	return nil
}

// parseDay reads a day (2000-01-01, China time) or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, risk.CST); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a day (2000-01-01) or an RFC 3339 time: %q", s)
	}
	return t, nil
}
