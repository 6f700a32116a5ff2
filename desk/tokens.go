package desk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
)

// tokenPrefix marks API tokens, so that a leaked one is recognisable.
const tokenPrefix = "rwt_"

// maxTokenTTL is the longest life a token may be given.
const maxTokenTTL = 2 * 366 * 24 * time.Hour

// Token is an API token as administrators see it: never its secret.
type Token struct {
	ID         int64      `json:"id"`
	Username   string     `json:"username"`
	Name       string     `json:"name"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// CreateToken gives a user an API token for machines and returns it: it is
// shown once and stored only as a hash. It expires after ttl (0: the
// configured token_ttl). Tokens are for staff and machine accounts, never
// mediators (who read contacts and sign in themselves). Administrators make
// them for the users of their jurisdiction; by is nil for the command line,
// which may make any.
func (s *Accounts) CreateToken(ctx context.Context, by *User, userID int64, name string, ttl time.Duration) (string, error) {
	if err := checkText("token name", name, 1, maxName); err != nil {
		return "", err
	}
	if ttl == 0 {
		ttl = s.cfg.TokenTTL
	}
	if ttl < 0 || ttl > maxTokenTTL {
		return "", fmt.Errorf("token life %v: want up to two years: %w", ttl, risk.ErrInvalid)
	}
	if by != nil {
		if err := by.allow(permUsers, by.Jurisdiction); err != nil {
			return "", err // a role without the right learns nothing of users
		}
	}
	token := tokenPrefix + randomToken()
	err := s.write(ctx, actorName(by), func(c *change) error {
		owner, err := userOf(ctx, c.tx, by, userID)
		if err != nil {
			return err
		}
		if owner.Role == RoleMediator {
			return fmt.Errorf("tokens are for machines and staff, not mediators, who sign in themselves: %w", risk.ErrForbidden)
		}
		if _, err := c.tx.Exec(ctx, `INSERT INTO api_tokens (token_hash, user_id, name, created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			tokenHash(token), userID, name, c.at, c.actor, c.at.Add(ttl)); err != nil {
			return err
		}
		return c.audit(ctx, "token.create", auditRef{}, map[string]any{"username": owner.Username, "name": name, "expires": c.at.Add(ttl)})
	})
	return token, err
}

// TokenUser returns the user of a live API token: not revoked, not expired,
// and its user neither disabled nor (since) a mediator — checked on every
// use, so a change of the user ends the token's power at once.
func (s *Accounts) TokenUser(ctx context.Context, token string) (User, error) {
	now := s.now()
	var u User
	var id int64
	var used *time.Time
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction, u.disabled, t.id, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND NOT u.disabled AND u.role <> 'mediator'`, tokenHash(token), now).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Jurisdiction, &u.Disabled, &id, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, fmt.Errorf("read token: %w", err)
	}
	if used == nil || now.Sub(*used) > touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, now); err != nil {
			return User{}, fmt.Errorf("touch token: %w", err)
		}
	}
	return u, nil
}

// Tokens lists the API tokens of the users in by's jurisdiction, newest
// first, revoked and expired ones included: for administrators.
func (s *Accounts) Tokens(ctx context.Context, by User) ([]Token, error) {
	if err := by.allow(permUsers, by.Jurisdiction); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT t.id, u.username, t.name, t.created_by, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE starts_with(u.jurisdiction, $1) ORDER BY t.id DESC LIMIT 1000`, by.Jurisdiction)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
}

// RevokeToken ends a token at once. Administrators revoke the tokens of the
// users of their jurisdiction; by is nil for the command line.
func (s *Accounts) RevokeToken(ctx context.Context, by *User, id int64) error {
	if by != nil {
		if err := by.allow(permUsers, by.Jurisdiction); err != nil {
			return err
		}
	}
	return s.write(ctx, actorName(by), func(c *change) error {
		var owner, name string
		var jurisdiction string
		err := c.tx.QueryRow(ctx, `UPDATE api_tokens t SET revoked_at = coalesce(t.revoked_at, $2) FROM users u
			WHERE t.id = $1 AND u.id = t.user_id RETURNING u.username, u.jurisdiction, t.name`, id, c.at).Scan(&owner, &jurisdiction, &name)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && by != nil && !by.within(jurisdiction) {
			return notFound("token", id)
		}
		if err != nil {
			return err
		}
		return c.audit(ctx, "token.revoke", auditRef{}, map[string]any{"username": owner, "name": name, "token": id})
	})
}
