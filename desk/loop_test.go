package desk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"riskwatch/desk"
)

// TestEveryOutlivesErrorsAndPanics: a background loop whose run fails or
// panics logs it and runs again at the next interval.
func TestEveryOutlivesErrorsAndPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logged bytes.Buffer
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(&syncWriter{w: &logged, mu: &mu}, nil))
		runs := 0
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			desk.Every(ctx, time.Second, log, "test loop", func(context.Context) error {
				runs++
				switch runs {
				case 1:
					panic("a bug in a rare path")
				case 2:
					return errors.New("the database did not answer")
				}
				return nil
			})
			close(done)
		}()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if runs != 3 {
			t.Errorf("%d runs in 2.5 s at 1 s, want 3: the loop stopped after a panic or an error", runs)
		}
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, want := range []string{"a bug in a rare path", "the database did not answer", "loop=\"test loop\""} {
			if !strings.Contains(logged.String(), want) {
				t.Errorf("the log lacks %q:\n%s", want, logged.String())
			}
		}
	})
}

type syncWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
