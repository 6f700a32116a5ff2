package desk

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestHashingSlots: passwords are hashed a few at a time; a sign-in that
// finds every slot taken for the wait is answered busy at once, without
// touching the database, and one freed within the wait is taken.
func TestHashingSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newAccounts(base{now: time.Now}, DefaultConfig().Sessions) // no database: a busy answer needs none
		for range cap(s.hashing) {
			s.hashing <- struct{}{}
		}
		start := time.Now()
		if _, _, err := s.Login(t.Context(), "li", "correct horse battery", "10.0.0.1"); !errors.Is(err, ErrBusy) {
			t.Fatalf("sign-in with every slot taken: %v, want busy", err)
		}
		if waited := time.Since(start); waited != slotWait {
			t.Errorf("waited %v for a slot, want %v", waited, slotWait)
		}
		go func() {
			time.Sleep(time.Second)
			<-s.hashing
		}()
		release, err := s.slot(t.Context())
		if err != nil {
			t.Fatalf("a slot freed after a second: %v", err)
		}
		release()
	})
}
