// Package desk turns alerts into work for the resolution desks of the
// Fengqiao ladder — village mediation committees, township governance
// centres, county dispute-resolution centres, the city — and keeps that work
// moving: routing, review, cases, deadlines in working days, cards and
// escalation, notifications, users and the audit log. Its state lives in
// PostgreSQL; it meets the detectors at the alerts table, which it alone
// writes.
//
// Each concept is its own type over the tables it owns: Directory (desks),
// Accounts (users, sessions, tokens), Review (alerts), Cases (cases and
// their notes, parties and ladder), Clock (deadlines), Outbox (notifications
// and events), AuditLog and Stats. New wires them over one database.
package desk

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	risk "riskwatch"
)

// Parts are the desks' concepts over one database, wired to each other.
type Parts struct {
	Directory *Directory
	Accounts  *Accounts
	Review    *Review
	Cases     *Cases
	Clock     *Clock
	Outbox    *Outbox
	Audit     *AuditLog
	Stats     *Stats
}

// Deps are what the desks need besides PostgreSQL.
type Deps struct {
	// Calendar counts deadlines in working days (package desk/calendar).
	Calendar calendar
	// Mask hides personal numbers (phone, ID) in free text people type —
	// notes, contact records, reasons — before it is stored, published or
	// sent to a robot: the same masking the pipeline applies to complaints.
	Mask func(string) string
	// Parties finds the persons of an alert's evidence; nil: cases have no
	// parties.
	Parties partyFinder
	// Contacts opens a party's sealed contact; nil: no contact can be
	// revealed.
	Contacts unsealer
	// Deleted says which records were deleted upstream, for
	// Review.Withdraw; nil: no alert is withdrawn.
	Deleted deletedFinder
	// Now is the clock; nil is time.Now. Tests and backtests inject time.
	Now func() time.Time
}

// New wires the desks' parts over a migrated database.
func New(pool *pgxpool.Pool, cfg Config, deps Deps) (Parts, error) {
	if deps.Calendar == nil || deps.Mask == nil {
		return Parts{}, errors.New("desk: a calendar and a masking function are required")
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	b := base{pool: pool, now: now, mask: deps.Mask}
	dir := &Directory{base: b, routing: cfg.Routing, robots: cfg.Notify.Robots}
	cases := &Cases{base: b, deadlines: cfg.Deadlines, cal: deps.Calendar, dir: dir, seal: deps.Contacts}
	return Parts{
		Directory: dir,
		Accounts:  newAccounts(b, cfg.Sessions),
		Review:    &Review{base: b, routing: cfg.Routing, dir: dir, cases: cases, party: deps.Parties, deleted: deps.Deleted},
		Cases:     cases,
		Clock:     &Clock{base: b, cases: cases},
		Outbox:    &Outbox{base: b},
		Audit:     &AuditLog{base: b, cases: cases},
		Stats:     &Stats{base: b},
	}, nil
}

// base is what every part shares: the database, the clock and the masking
// of free text.
type base struct {
	pool *pgxpool.Pool
	now  func() time.Time
	mask func(string) string
}

// write runs fn in a transaction as actor.
func (b base) write(ctx context.Context, actor string, fn func(*change) error) error {
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		return fn(&change{tx: tx, at: b.now().UTC(), actor: actor})
	})
}

// calendar counts deadlines in working days (package desk/calendar).
type calendar interface {
	AddWorkingDays(start time.Time, n int) time.Time
	WorkingTimeBetween(from, to time.Time) time.Duration
	ExtendBy(deadline time.Time, paused time.Duration) time.Time
	DueWithin(now, deadline time.Time, days int) bool
}

// partyFinder finds the persons of an alert's evidence (in ClickHouse),
// masked and sealed as the pipeline stored them.
type partyFinder interface {
	Parties(ctx context.Context, evidence []risk.Evidence) ([]Party, error)
}

// unsealer opens a party's sealed contact for the mediator who owns the case.
type unsealer interface {
	Unseal(sealed string) (Contact, error)
}
