package desk_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	risk "riskwatch"
	"riskwatch/desk"
)

// topic is a broker topic that records what is published to it.
type topic struct {
	mu   sync.Mutex
	msgs []message
}

type message struct {
	key   string
	value []byte
}

func (tp *topic) Publish(_ context.Context, key string, value []byte) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.msgs = append(tp.msgs, message{key, value})
	return nil
}

// types lists the published events' types, in order.
func (tp *topic) types() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []string
	for _, m := range tp.msgs {
		var e struct{ Type string }
		json.Unmarshal(m.value, &e)
		out = append(out, e.Type)
	}
	return out
}

// TestTwoAlertsJoiningOneCaseAreTwoEvents: two alerts about one person
// join the person's case in one intake; other systems hear of both.
func TestTwoAlertsJoiningOneCaseAreTwoEvents(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "E1", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "E1", ""); err != nil {
		t.Fatal(err)
	}
	f.alert(t, "E2", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	f.alert(t, "E3", "convergence", risk.LevelOrange, "330681109201", "pk-wang", "")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	cases := &topic{}
	s := desk.NewSender(f.pool, http.DefaultClient, cases, desk.DefaultConfig().Notify, slog.New(slog.DiscardHandler))
	if _, err := s.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	evidence := 0
	for _, typ := range cases.types() {
		if typ == "case.evidence" {
			evidence++
		}
	}
	if evidence != 2 {
		t.Errorf("riskwatch.cases got %d case.evidence events (all: %q), want 2: one per alert joining", evidence, cases.types())
	}
}
