package scenario

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// Replay publishes a scenario's messages at their publication times (At):
// those already past at once, in order, the rest as the clock reaches them.
// It feeds the living demo: a scenario whose weeks end in the near future
// gives a history to detect on and traffic that goes on arriving.
type Replay struct {
	Scenario Scenario
	// Publish sends one feed's messages, in order; an error stops Run.
	Publish func(ctx context.Context, src risk.Source, msgs []kafka.Message) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Since skips the messages published at or before it, so that a
	// restarted replay goes on where it stopped.
	Since time.Time
	// Published, when set, is told after each round how far the replay
	// has published (the Since of a restart).
	Published func(until time.Time) error
	// Progress, when set, is told after each round how many messages of
	// the scenario are published and how many there are.
	Progress func(done, total int)
}

// maxWait bounds a sleep between rounds, so that a clock that jumps (a
// suspended laptop, a test's fast clock) is noticed.
const maxWait = time.Second

// Run publishes until every message is, or ctx ends (then it returns nil).
func (r *Replay) Run(ctx context.Context) error {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	next := map[risk.Source]int{} // the first message of each feed not yet published
	total, done := 0, 0
	for _, src := range risk.Sources {
		at := r.Scenario.At[src]
		i := 0
		for i < len(at) && !at[i].After(r.Since) {
			i++
		}
		next[src] = i
		total += len(at)
		done += i
	}
	for {
		t := now()
		for _, src := range risk.Sources {
			at, msgs := r.Scenario.At[src], r.Scenario.Messages[src]
			j := next[src]
			for j < len(at) && !at[j].After(t) {
				j++
			}
			// In batches: a month of a county's hotline is a few hundred
			// thousand messages.
			for i := next[src]; i < j; i += 5000 {
				if err := r.Publish(ctx, src, msgs[i:min(i+5000, j)]); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				done += min(i+5000, j) - i
				next[src] = min(i+5000, j)
			}
		}
		if r.Published != nil {
			if err := r.Published(t); err != nil {
				return err
			}
		}
		if r.Progress != nil {
			r.Progress(done, total)
		}
		var first time.Time
		for _, src := range risk.Sources {
			if i := next[src]; i < len(r.Scenario.At[src]) && (first.IsZero() || r.Scenario.At[src][i].Before(first)) {
				first = r.Scenario.At[src][i]
			}
		}
		if first.IsZero() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(first.Sub(t), maxWait)):
		}
	}
}
