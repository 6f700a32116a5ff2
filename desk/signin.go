package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sign-in errors. They are failures of the caller's credentials or rate,
// not of the request: the console answers 401 and 429.
var (
	ErrUnauthenticated = errors.New("not signed in or wrong credentials")
	ErrLocked          = errors.New("too many failed sign-ins: try again later")
	ErrThrottled       = errors.New("too many sign-ins from this address: try again in a minute")
	ErrBusy            = errors.New("too many sign-ins at once: try again in a moment")
)

// slotWait is how long a password waits for a hashing slot before the
// sign-in is answered ErrBusy.
const slotWait = 2 * time.Second

// slot takes a hashing slot, waiting at most slotWait; release gives it back.
func (s *Accounts) slot(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Session is a signed-in browser: Token goes in a cookie, CSRF in every
// form and every unsafe request's header.
type Session struct {
	Token   string    `json:"-"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// Login checks a password and opens a session. from is the client's
// address: one address may try PerAddress sign-ins a minute. Each attempt
// on an account is counted before its password is checked, in one update,
// so a burst in parallel gets no more tries than one in a row: after
// MaxFailures the account is locked for Lock, doubling with each further
// failure (across replicas: the count is in the database). At most Hashing
// passwords are checked at once; beyond, ErrBusy.
func (s *Accounts) Login(ctx context.Context, name, password, from string) (User, Session, error) {
	now := s.now()
	if !s.addresses.allow(from, now, s.cfg.PerAddress) {
		return User{}, Session{}, ErrThrottled
	}
	if len(password) > 4*maxPassword || len(name) > 4*maxName {
		return User{}, Session{}, ErrUnauthenticated // no hashing of a megabyte
	}
	release, err := s.slot(ctx)
	if err != nil {
		return User{}, Session{}, err
	}
	defer release()
	u, hash, attempt, err := s.reserve(ctx, name, now)
	if errors.Is(err, errNoSuchUser) {
		if s.strangers.locked(name, now, s.cfg) {
			return User{}, Session{}, ErrLocked
		}
		checkPassword(dummyHash, password)
		return User{}, Session{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, Session{}, err
	}
	if u.Disabled || !checkPassword(hash, password) {
		err := s.write(ctx, u.Username, func(c *change) error {
			return c.audit(ctx, "user.login_failed", auditRef{}, map[string]any{"failures": attempt, "locked": attempt >= s.cfg.MaxFailures})
		})
		if err != nil {
			return User{}, Session{}, fmt.Errorf("sign in: %w", err)
		}
		return User{}, Session{}, ErrUnauthenticated
	}
	sess := Session{Token: randomToken(), CSRF: randomToken(), Expires: now.Add(s.cfg.TTL)}
	err = s.write(ctx, u.Username, func(c *change) error {
		// Clears the count and the lock this attempt set, unless another
		// attempt came since: its lock stands.
		if _, err := c.tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND failed_logins = $2`, u.ID, attempt); err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $4)`,
			tokenHash(sess.Token), u.ID, sess.CSRF, now, sess.Expires); err != nil {
			return err
		}
		return c.audit(ctx, "user.login", auditRef{}, nil)
	})
	if err != nil {
		return User{}, Session{}, fmt.Errorf("sign in: %w", err)
	}
	return u, sess, nil
}

var errNoSuchUser = errors.New("no such user")

// reserve counts a sign-in attempt on the account before its password is
// checked, and returns the account, its hash and the attempt's number in
// the current run of failures. The attempt that reaches MaxFailures sets the
// lock at once (a correct password lifts it again), so that attempts in
// parallel are refused as soon as the run is long enough. It returns
// ErrLocked while the account is locked and errNoSuchUser for an unknown
// name.
func (s *Accounts) reserve(ctx context.Context, name string, now time.Time) (User, string, int, error) {
	var u User
	var hash string
	var attempt int
	err := s.pool.QueryRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1,
			locked_until = CASE WHEN failed_logins + 1 >= $3
				THEN $2::timestamptz + $4::float8 * power(2, least(failed_logins + 1 - $3, 10)) * interval '1 second' END
		WHERE username = $1 AND (locked_until IS NULL OR locked_until <= $2)
		RETURNING `+userColumns+`, password_hash, failed_logins`,
		name, now, s.cfg.MaxFailures, s.cfg.Lock.Seconds()).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Jurisdiction, &u.Disabled, &hash, &attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)`, name).Scan(&exists); err != nil {
			return User{}, "", 0, fmt.Errorf("sign in: %w", err)
		}
		if exists {
			return User{}, "", 0, ErrLocked
		}
		return User{}, "", 0, errNoSuchUser
	}
	if err != nil {
		return User{}, "", 0, fmt.Errorf("sign in: %w", err)
	}
	return u, hash, attempt, nil
}

// touchEvery is how stale a session's or a token's last use may get before
// a request writes it again: not a write per request.
const touchEvery = time.Minute

// SessionUser returns the user of a live session and its CSRF token. A
// session lives until its absolute expiry, and ends sooner when it went
// unused for the idle time.
func (s *Accounts) SessionUser(ctx context.Context, token string) (User, string, error) {
	now := s.now()
	var u User
	var csrf string
	var seen time.Time
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction, u.disabled, s.csrf, s.last_seen_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND NOT u.disabled`, tokenHash(token), now, now.Add(-s.cfg.Idle)).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Jurisdiction, &u.Disabled, &csrf, &seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, "", ErrUnauthenticated
	}
	if err != nil {
		return User{}, "", fmt.Errorf("read session: %w", err)
	}
	if now.Sub(seen) > touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1`, tokenHash(token), now); err != nil {
			return User{}, "", fmt.Errorf("touch session: %w", err)
		}
	}
	return u, csrf, nil
}

// Logout ends a session.
func (s *Accounts) Logout(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash(token))
	return err
}

// Sweep removes the sessions that have expired or gone idle.
func (s *Accounts) Sweep(ctx context.Context) error {
	now := s.now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2`, now, now.Add(-s.cfg.Idle)); err != nil {
		return fmt.Errorf("remove expired sessions: %w", err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// maxRemembered bounds the memory a spray of made-up names or addresses
// can take: past it, the record starts over.
const maxRemembered = 10_000

// strangers are the failed sign-ins of names that do not exist, in memory
// (one replica's view is enough to make the answers alike).
type strangers struct {
	mu    sync.Mutex
	names map[string]stranger
}

type stranger struct {
	failures int
	until    time.Time
}

// locked counts a sign-in of an unknown name and reports whether the name
// is locked, on the schedule of a real account's: every attempt fails.
func (st *strangers) locked(name string, now time.Time, cfg SessionConfig) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.names == nil || len(st.names) >= maxRemembered {
		st.names = map[string]stranger{}
	}
	g := st.names[name]
	if now.Before(g.until) {
		return true
	}
	g.failures++
	if over := g.failures - cfg.MaxFailures; over >= 0 {
		g.until = now.Add(cfg.Lock << min(over, 10))
	}
	st.names[name] = g
	return false
}

// addresses counts the sign-ins of each client address in the current
// minute, in memory: a replica's own share of a spray is what it can stop.
type addresses struct {
	mu     sync.Mutex
	minute time.Time
	seen   map[string]int
}

// allow counts a sign-in from addr and reports whether it is within the
// limit of this minute.
func (a *addresses) allow(addr string, now time.Time, limit int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := now.Truncate(time.Minute); !m.Equal(a.minute) || len(a.seen) >= maxRemembered {
		a.minute, a.seen = m, map[string]int{}
	}
	a.seen[addr]++
	return a.seen[addr] <= limit
}
