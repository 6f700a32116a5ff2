package scenario_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/detectors/scenario"
)

// A replay publishes what is past at once and the rest in its time, every
// message once and in order; restarted, it goes on where it stopped.
func TestReplay(t *testing.T) {
	s := scenario.Generate(scenario.Config{Seed: 3, Weeks: 5, Townships: 2, Scale: 0.1})
	start := s.Truth.From.Add(20 * 24 * time.Hour)
	// A fast clock: the scenario's last 15 days pass in about three seconds.
	t0 := time.Now()
	clock := func() time.Time { return start.Add(time.Since(t0) * 500_000) }

	var mu sync.Mutex
	got := map[risk.Source][]kafka.Message{}
	rounds := 0
	var stop time.Time
	r := scenario.Replay{Scenario: s, Now: clock,
		Publish: func(_ context.Context, src risk.Source, msgs []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			now := clock()
			for i, m := range msgs {
				at := s.At[src][len(got[src])+i]
				if at.After(now) {
					t.Fatalf("%s: message %s published at %v, before its time %v", src, m.Key, now, at)
				}
			}
			got[src] = append(got[src], msgs...)
			return nil
		},
		Published: func(until time.Time) error {
			rounds++
			if rounds == 1 {
				for _, src := range risk.Sources {
					want := 0
					for want < len(s.At[src]) && !s.At[src][want].After(start) {
						want++
					}
					if len(got[src]) < want {
						t.Errorf("%s: the first round published %d messages, want at least the %d already past", src, len(got[src]), want)
					}
				}
			}
			if rounds == 3 {
				stop = until
			}
			return nil
		}}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rounds < 3 {
		t.Fatalf("%d rounds: the future messages came at once", rounds)
	}
	for _, src := range risk.Sources {
		if !slices.EqualFunc(got[src], s.Messages[src], sameMessage) {
			t.Errorf("%s: published %d messages, want the scenario's %d in order", src, len(got[src]), len(s.Messages[src]))
		}
	}

	// Restarted after the third round: only the messages after it.
	again := map[risk.Source][]kafka.Message{}
	r = scenario.Replay{Scenario: s, Since: stop, Now: func() time.Time { return s.Truth.To.Add(time.Hour) },
		Publish: func(_ context.Context, src risk.Source, msgs []kafka.Message) error {
			again[src] = append(again[src], msgs...)
			return nil
		}}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, src := range risk.Sources {
		i := 0
		for i < len(s.At[src]) && !s.At[src][i].After(stop) {
			i++
		}
		if !slices.EqualFunc(again[src], s.Messages[src][i:], sameMessage) {
			t.Errorf("%s: restarted, published %d messages, want the %d after %v", src, len(again[src]), len(s.Messages[src])-i, stop)
		}
	}
}

func sameMessage(a, b kafka.Message) bool {
	return string(a.Key) == string(b.Key) && string(a.Value) == string(b.Value)
}
