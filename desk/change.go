package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// change is one transaction of the desks' state: every change writes its
// audit entry and its outgoing messages in the same transaction, so that
// none is lost and none is sent for a change that rolled back.
type change struct {
	tx    pgx.Tx
	at    time.Time
	actor string // username, or "system"

	xact   string // the transaction's id, once an event asked for it
	events int    // events queued so far
}

func actorName(u *User) string {
	if u == nil {
		return "system"
	}
	return u.Username
}

// auditRef says what an audit entry is about.
type auditRef struct {
	caseID   int64
	alertKey string
	deskID   string
}

// audit appends an entry to the audit log.
func (c *change) audit(ctx context.Context, action string, ref auditRef, detail any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := c.tx.Exec(ctx, `INSERT INTO audit_log (at, actor, action, case_id, alert_key, desk_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.at, c.actor, action, nullInt(ref.caseID), nullString(ref.alertKey), nullString(ref.deskID), detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// notify queues a message to each of the desk's robots. dedup names the
// fact told ("case/42/card/yellow"): a fact is told once, however many
// replicas or retries try. Only red matters are told outside the desk's
// working hours; the rest wait for the morning. A row names the robot — the
// desk and its place among the desk's robots — never its address or
// secret, which the sender reads from the desk when it sends.
func (c *change) notify(ctx context.Context, d Desk, dedup string, urgent bool, m robot.Message) error {
	next := c.at
	if !urgent {
		next = nextOpen(d.Hours, c.at)
	}
	payload, _ := json.Marshal(map[string]string{"title": m.Title, "markdown": m.Markdown, "desk": d.ID})
	for i, w := range d.Webhooks {
		if err := c.queue(ctx, dedup+"#"+strconv.Itoa(i), channelRobot, robotRef{Desk: d.ID, Robot: i, Kind: w.Kind}, payload, next); err != nil {
			return fmt.Errorf("queue notification: %w", err)
		}
	}
	return nil
}

// Event is a change published to other systems on the riskwatch.cases
// topic: every alert review and every case change.
type Event struct {
	Type   string    `json:"type"` // alert.routed, alert.confirmed, case.created, case.escalated …
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Case   int64     `json:"case,omitempty"`
	Alert  string    `json:"alert,omitempty"`
	Desk   string    `json:"desk,omitempty"`
	Status string    `json:"status,omitempty"`
	Level  string    `json:"level,omitempty"`
	Detail any       `json:"detail,omitempty"`
}

// publish queues an event for the riskwatch.cases topic, keyed by its case
// or alert so that one matter's events stay in order.
func (c *change) publish(ctx context.Context, e Event) error {
	e.At, e.Actor = c.at, c.actor
	key := e.Alert
	if e.Case != 0 {
		key = "case/" + strconv.FormatInt(e.Case, 10)
	}
	payload, _ := json.Marshal(e)
	// Every event is its own fact, even two of one type about one matter in
	// one change (two alerts joining a case): the transaction's id and the
	// event's place in it tell them apart, and no time needs to differ.
	if c.xact == "" {
		if err := c.tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&c.xact); err != nil {
			return fmt.Errorf("queue event: %w", err)
		}
	}
	c.events++
	dedup := fmt.Sprintf("event/%s/%s/%s.%d", key, e.Type, c.xact, c.events)
	if err := c.queue(ctx, dedup, channelKafka, eventRef{Topic: TopicCases, Key: key}, payload, c.at); err != nil {
		return fmt.Errorf("queue event: %w", err)
	}
	return nil
}

// The outbox's channels.
const (
	channelRobot = "webhook" // a desk's group robot
	channelKafka = "kafka"   // a topic of the broker
)

// robotRef is the target of a robot's notification.
type robotRef struct {
	Desk  string     `json:"desk"`
	Robot int        `json:"robot"` // index among the desk's robots; -1: none (a row from before robots were referenced, whose URL the desk had no more)
	Kind  robot.Kind `json:"kind"`  // for the notification log
}

// eventRef is the target of an event.
type eventRef struct {
	Topic string `json:"topic"` // TopicCases or TopicAlerts
	Key   string `json:"key"`   // the message key: one key's events stay in order
}

// queue writes a message to the outbox, due at next, unless the fact dedup
// names was queued before.
func (c *change) queue(ctx context.Context, dedup, channel string, target any, payload []byte, next time.Time) error {
	t, err := json.Marshal(target)
	if err != nil {
		return err
	}
	_, err = c.tx.Exec(ctx, `INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING`, dedup, channel, t, payload, c.at, next)
	return err
}

func nullInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func nullString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// notFound wraps risk.ErrNotFound for a thing outside the caller's sight.
func notFound(what string, id any) error {
	return fmt.Errorf("%s %v: %w", what, id, risk.ErrNotFound)
}
