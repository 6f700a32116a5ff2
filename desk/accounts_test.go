package desk_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"riskwatch/desk"
)

// TestParallelGuessesGetNoMoreTries: a burst of wrong passwords sent at
// once gets no more tries than the same guesses one after another.
func TestParallelGuessesGetNoMoreTries(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const guesses = 24
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			_, _, err := f.Accounts.Login(ctx, "li", fmt.Sprintf("wrong password %d", i), fmt.Sprintf("10.0.0.%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, desk.ErrUnauthenticated):
				outcomes["checked"]++
			case errors.Is(err, desk.ErrLocked), errors.Is(err, desk.ErrBusy):
				outcomes["refused"]++
			default:
				t.Errorf("guess %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if outcomes["checked"] > 5 {
		t.Errorf("%d of %d parallel guesses had their password checked, want at most max_failures (5)", outcomes["checked"], guesses)
	}
	if _, _, err := f.Accounts.Login(ctx, "li", "correct horse battery", "10.0.1.1"); !errors.Is(err, desk.ErrLocked) {
		t.Errorf("the right password after the burst: %v, want locked", err)
	}
}

// TestSignInsPerAddress: one address may try per_address sign-ins a
// minute, whatever the names; other addresses are not held up.
func TestSignInsPerAddress(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for i := range 20 {
		if _, _, err := f.Accounts.Login(ctx, fmt.Sprintf("spray%d", i), "some password", "203.0.113.9"); !errors.Is(err, desk.ErrUnauthenticated) {
			t.Fatalf("sign-in %d from the address: %v, want unauthenticated", i+1, err)
		}
	}
	if _, _, err := f.Accounts.Login(ctx, "li", "correct horse battery", "203.0.113.9"); !errors.Is(err, desk.ErrThrottled) {
		t.Errorf("the 21st sign-in of the minute from one address: %v, want throttled", err)
	}
	if _, _, err := f.Accounts.Login(ctx, "li", "correct horse battery", "203.0.113.10"); err != nil {
		t.Errorf("another address: %v", err)
	}
	f.clock.advance(time.Minute)
	if _, _, err := f.Accounts.Login(ctx, "li", "correct horse battery", "203.0.113.9"); err != nil {
		t.Errorf("the next minute: %v", err)
	}
}

// TestSessionIdleTimeout: a session in use lives until its absolute
// expiry; one left alone for the idle time ends.
func TestSessionIdleTimeout(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, sess, err := f.Accounts.Login(ctx, "zhang", "correct horse battery", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // five hours of work, a request every half hour less a minute
		f.clock.advance(29 * time.Minute)
		if _, _, err := f.Accounts.SessionUser(ctx, sess.Token); err != nil {
			t.Fatalf("a session in use ended at %v: %v", f.clock.now(), err)
		}
	}
	f.clock.advance(31 * time.Minute)
	if _, _, err := f.Accounts.SessionUser(ctx, sess.Token); !errors.Is(err, desk.ErrUnauthenticated) {
		t.Errorf("after 31 idle minutes: %v, want unauthenticated", err)
	}

	// In use all along, it still ends at its absolute expiry (12 hours).
	_, sess, err = f.Accounts.Login(ctx, "zhang", "correct horse battery", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for range 24 {
		f.clock.advance(29 * time.Minute)
		f.Accounts.SessionUser(ctx, sess.Token)
	}
	f.clock.advance(29 * time.Minute)
	if _, _, err := f.Accounts.SessionUser(ctx, sess.Token); !errors.Is(err, desk.ErrUnauthenticated) {
		t.Errorf("after 12.1 hours in use: %v, want the session over", err)
	}
}

// TestTokenLife: tokens expire, are listed for administrators, can be
// revoked, and stop working when their user is disabled or becomes a
// mediator — checked on use, not only when they were made.
func TestTokenLife(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	admin := f.users["admin"]
	zhang := f.users["zhang"]
	works := func(token string) bool {
		_, err := f.Accounts.TokenUser(ctx, token)
		if err != nil && !errors.Is(err, desk.ErrUnauthenticated) {
			t.Fatal(err)
		}
		return err == nil
	}

	short, err := f.Accounts.CreateToken(ctx, &admin, zhang.ID, "短期", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	long, err := f.Accounts.CreateToken(ctx, &admin, zhang.ID, "对接系统", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !works(short) || !works(long) {
		t.Fatal("new tokens do not work")
	}
	f.clock.advance(49 * time.Hour)
	if works(short) || !works(long) {
		t.Errorf("after 49 hours: short works %v, long works %v; want only the long one", works(short), works(long))
	}
	if _, err := f.Accounts.CreateToken(ctx, &admin, zhang.ID, "永久", 10*365*24*time.Hour); err == nil {
		t.Error("a ten-year token was made")
	}

	list, err := f.Accounts.Tokens(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "对接系统" || list[0].Username != "zhang" || list[0].CreatedBy != "admin" ||
		list[0].LastUsedAt == nil || !list[0].ExpiresAt.Equal(list[0].CreatedAt.Add(90*24*time.Hour)) {
		t.Errorf("token list %+v; want both of zhang's, newest first, used, the default one for 90 days", list)
	}
	if _, err := f.Accounts.Tokens(ctx, zhang); err == nil {
		t.Error("a reviewer listed the tokens")
	}

	role := desk.RoleMediator
	if _, err := f.Accounts.UpdateUser(ctx, admin, zhang.ID, desk.UserChange{Role: &role}); err != nil {
		t.Fatal(err)
	}
	if works(long) {
		t.Error("the token still works after its user became a mediator")
	}
	role = desk.RoleReviewer
	yes, no := true, false
	f.Accounts.UpdateUser(ctx, admin, zhang.ID, desk.UserChange{Role: &role, Disabled: &yes})
	if works(long) {
		t.Error("the token works while its user is disabled")
	}
	f.Accounts.UpdateUser(ctx, admin, zhang.ID, desk.UserChange{Disabled: &no})
	if !works(long) {
		t.Error("the token does not work once its user is a reviewer again")
	}
	other := f.users["cityadmin"]
	if err := f.Accounts.RevokeToken(ctx, &other, list[0].ID); err != nil {
		t.Fatalf("the city's administrator revoking a county token: %v", err)
	}
	if works(long) {
		t.Error("a revoked token works")
	}
	actions := f.auditActionsOf(t, "token.")
	if want := []string{"admin token.create", "admin token.create", "cityadmin token.revoke"}; fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}
