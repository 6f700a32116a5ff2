package desk

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	risk "riskwatch"
)

// Role is what a user does. The values are stored: never rename them.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"    // county IT: desks, people, settings
	RoleReviewer Role = "reviewer" // 综治中心/矛调中心 staff: review alerts, hand cases to desks
	RoleMediator Role = "mediator" // 调解员: works the cases of their desks
	RoleLeader   Role = "leader"   // reads aggregates, never a person
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleReviewer || r == RoleMediator || r == RoleLeader
}

// User is a person who signs in. Jurisdiction is a division code prefix:
// the user sees nothing outside it.
type User struct {
	ID           int64  `json:"id"`
	Username     string `json:"username"`
	DisplayName  string `json:"display_name"`
	Role         Role   `json:"role"`
	Jurisdiction string `json:"jurisdiction"`
	Disabled     bool   `json:"disabled"`
}

// within reports whether a division code lies in the user's jurisdiction.
func (u User) within(region string) bool {
	return region != "" && strings.HasPrefix(region, u.Jurisdiction)
}

var (
	username     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)
	jurisdiction = regexp.MustCompile(`^[0-9]{2,12}$`)
)

func (u User) validate() error {
	var errs []error
	if !username.MatchString(u.Username) {
		errs = append(errs, fmt.Errorf("username %q: want 2–64 lowercase letters, digits, dots, dashes or underscores", u.Username))
	}
	if !u.Role.Valid() {
		errs = append(errs, fmt.Errorf("role %q: want admin, reviewer, mediator or leader", u.Role))
	}
	if err := checkText("display name", u.DisplayName, 0, maxName); err != nil {
		errs = append(errs, err)
	}
	if !jurisdiction.MatchString(u.Jurisdiction) {
		errs = append(errs, fmt.Errorf("jurisdiction %q: want a division code prefix of 2–12 digits", u.Jurisdiction))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("user: %w: %w", err, risk.ErrInvalid)
	}
	return nil
}

// MinPassword is the shortest password accepted; maxPassword the longest.
const (
	MinPassword = 10
	maxPassword = 256
)

// argon2id parameters: OWASP's minimum (19 MiB, two passes), which costs a
// few tens of milliseconds on the county's small machines.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// hashPassword returns the argon2id hash of password in the PHC string
// format ($argon2id$v=19$m=…,t=…,p=…$salt$hash), with a random salt.
func hashPassword(password string) (string, error) {
	if err := checkNewPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkNewPassword refuses a password shorter than MinPassword or longer
// than maxPassword.
func checkNewPassword(password string) error {
	if n := len([]rune(password)); n < MinPassword || n > maxPassword {
		return fmt.Errorf("password: want %d to %d characters: %w", MinPassword, maxPassword, risk.ErrInvalid)
	}
	return nil
}

// checkPassword reports whether password matches a hashPassword hash, with
// the parameters the hash was made with.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the username is unknown, so that a
// wrong name takes as long as a wrong password.
var dummyHash, _ = hashPassword("riskwatch-no-such-user")

const userColumns = `id, username, display_name, role, jurisdiction, disabled`

func scanUser(row pgx.CollectableRow) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Jurisdiction, &u.Disabled)
	return u, err
}

// Accounts are the people who sign in (users), their browser sessions and
// their machines' API tokens.
type Accounts struct {
	base
	cfg SessionConfig
	// hashing holds a slot per password being hashed (SessionConfig.Hashing).
	hashing chan struct{}
	// addresses throttles sign-ins per client address.
	addresses addresses
	// strangers counts failed sign-ins of unknown names, so that they lock
	// like known ones: a lock must not tell which names exist.
	strangers strangers
}

func newAccounts(b base, cfg SessionConfig) *Accounts {
	return &Accounts{base: b, cfg: cfg, hashing: make(chan struct{}, cfg.Hashing)}
}

// hash hashes a new password in a hashing slot.
func (s *Accounts) hash(ctx context.Context, password string) (string, error) {
	release, err := s.slot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(password)
}

// AddUser creates a user with a password. It is the command line's
// bootstrap of the first administrator and the API's way to add people;
// by is the administrator asking, nil for the command line (whoever runs it
// already holds the server).
func (s *Accounts) AddUser(ctx context.Context, by *User, u User, password string) (User, error) {
	if err := u.validate(); err != nil {
		return User{}, err
	}
	if by != nil {
		if err := by.allow(permUsers, u.Jurisdiction); err != nil {
			return User{}, err
		}
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	err = s.write(ctx, actorName(by), func(c *change) error {
		rows, err := c.tx.Query(ctx, `INSERT INTO users (username, display_name, role, jurisdiction, password_hash)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+userColumns, u.Username, u.DisplayName, u.Role, u.Jurisdiction, hash)
		if err != nil {
			return err
		}
		if u, err = pgx.CollectExactlyOneRow(rows, scanUser); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("user %s exists: %w", u.Username, risk.ErrConflict)
			}
			return err
		}
		return c.audit(ctx, "user.add", auditRef{}, map[string]any{"username": u.Username, "role": u.Role, "jurisdiction": u.Jurisdiction})
	})
	return u, err
}

// UserChange is an administrator's change to a user; nil fields stay.
type UserChange struct {
	DisplayName  *string `json:"display_name"`
	Role         *Role   `json:"role"`
	Jurisdiction *string `json:"jurisdiction"`
	Disabled     *bool   `json:"disabled"`
	Password     *string `json:"password"`
}

// UpdateUser applies an administrator's change. Disabling a user or
// resetting their password ends their sessions.
func (s *Accounts) UpdateUser(ctx context.Context, by User, id int64, ch UserChange) (User, error) {
	if err := by.allow(permUsers, by.Jurisdiction); err != nil {
		return User{}, err
	}
	var hash string
	if ch.Password != nil {
		var err error
		if hash, err = s.hash(ctx, *ch.Password); err != nil {
			return User{}, err
		}
	}
	var u User
	err := s.write(ctx, by.Username, func(c *change) error {
		var err error
		if u, err = userOf(ctx, c.tx, &by, id); err != nil {
			return err
		}
		if ch.DisplayName != nil {
			u.DisplayName = *ch.DisplayName
		}
		if ch.Role != nil {
			u.Role = *ch.Role
		}
		if ch.Jurisdiction != nil {
			u.Jurisdiction = *ch.Jurisdiction
		}
		if ch.Disabled != nil {
			u.Disabled = *ch.Disabled
		}
		if err := u.validate(); err != nil {
			return err
		}
		if !by.within(u.Jurisdiction) {
			return fmt.Errorf("jurisdiction %s is outside yours: %w", u.Jurisdiction, risk.ErrForbidden)
		}
		if _, err := c.tx.Exec(ctx, `UPDATE users SET display_name = $2, role = $3, jurisdiction = $4, disabled = $5 WHERE id = $1`,
			id, u.DisplayName, u.Role, u.Jurisdiction, u.Disabled); err != nil {
			return err
		}
		detail := map[string]any{"username": u.Username, "role": u.Role, "jurisdiction": u.Jurisdiction, "disabled": u.Disabled}
		if ch.Password != nil {
			if _, err := c.tx.Exec(ctx, `UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1`, id, hash); err != nil {
				return err
			}
			detail["password"] = "reset"
		}
		if u.Disabled || ch.Password != nil {
			if _, err := c.tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		return c.audit(ctx, "user.update", auditRef{}, detail)
	})
	return u, err
}

// Users lists the users in by's jurisdiction.
func (s *Accounts) Users(ctx context.Context, by User) ([]User, error) {
	if err := by.allow(permUsers, by.Jurisdiction); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE starts_with(jurisdiction, $1) ORDER BY username`, by.Jurisdiction)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return pgx.CollectRows(rows, scanUser)
}

// UserByName returns a user by sign-in name: for the command line, which
// already holds the server.
func (s *Accounts) UserByName(ctx context.Context, name string) (User, error) {
	return userBy(ctx, s.pool, "username", name)
}

// userOf locks user id in a change; one outside by's jurisdiction does not
// exist for them (by nil: the command line sees everyone).
func userOf(ctx context.Context, tx pgx.Tx, by *User, id int64) (User, error) {
	u, err := userBy(ctx, tx, "id", id, " FOR UPDATE")
	if err == nil && by != nil && !by.within(u.Jurisdiction) {
		return User{}, notFound("user", id)
	}
	return u, err
}

// userBy reads the user whose column equals v.
func userBy(ctx context.Context, q querier, column string, v any, lock ...string) (User, error) {
	rows, err := q.Query(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = $1`+strings.Join(lock, ""), v)
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, notFound("user", v)
	}
	return u, err
}

// ChangePassword sets by's own password to new once old is theirs. The
// attempt counts like a sign-in (a wrong old password is a failure that
// locks the account after MaxFailures; while it is locked, ErrLocked), and
// its hashing waits for a slot like Login (ErrBusy). A wrong old password is
// ErrForbidden; a new one shorter than MinPassword (or longer than 256
// characters) ErrInvalid. On success every session of the user ends —
// browsers sign in again with the new password — in the same transaction
// as the change and its audit entry; API tokens, which are machines', stay.
func (s *Accounts) ChangePassword(ctx context.Context, by User, old, new string) error {
	if by.Disabled {
		return fmt.Errorf("%s is disabled: %w", by.Username, risk.ErrForbidden)
	}
	if err := checkNewPassword(new); err != nil { // before the attempt counts
		return err
	}
	if len(old) > 4*maxPassword {
		return fmt.Errorf("the current password is wrong: %w", risk.ErrForbidden)
	}
	release, err := s.slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	u, hash, attempt, err := s.reserve(ctx, by.Username, s.now())
	if errors.Is(err, errNoSuchUser) {
		return fmt.Errorf("user %s: %w", by.Username, risk.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if u.ID != by.ID || u.Disabled || !checkPassword(hash, old) {
		if err := s.write(ctx, by.Username, func(c *change) error {
			return c.audit(ctx, "user.password_failed", auditRef{}, map[string]any{"failures": attempt, "locked": attempt >= s.cfg.MaxFailures})
		}); err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		return fmt.Errorf("the current password is wrong: %w", risk.ErrForbidden)
	}
	newHash, err := hashPassword(new) // in the slot taken above
	if err != nil {
		return err
	}
	return s.write(ctx, by.Username, func(c *change) error {
		if _, err := c.tx.Exec(ctx, `UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1`, u.ID, newHash); err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		tag, err := c.tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
		if err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		return c.audit(ctx, "user.password_change", auditRef{}, map[string]any{"sessions_ended": tag.RowsAffected()})
	})
}
