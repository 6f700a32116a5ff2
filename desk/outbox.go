package desk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// nextOpen is the first instant at or after t inside the working hours
// "HH:MM-HH:MM" (UTC+8); t itself when hours is empty.
func nextOpen(hours string, t time.Time) time.Time {
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(hours, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil {
		return t
	}
	local := t.In(risk.CST)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, risk.CST)
	open := day.Add(time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute)
	closes := day.Add(time.Duration(h2)*time.Hour + time.Duration(m2)*time.Minute)
	switch {
	case local.Before(open):
		return open.UTC()
	case local.Before(closes):
		return t
	}
	return open.AddDate(0, 0, 1).UTC()
}

// publisher sends an event to the riskwatch.cases topic.
type publisher interface {
	Publish(ctx context.Context, key string, value []byte) error
}

// Sender delivers the outbox: robots' webhooks and the topic. Any number
// of replicas may run one: each claims rows for a minute (SKIP LOCKED), so
// a message goes out once unless a replica dies between sending and
// marking it sent — then it goes out again after the claim lapses.
type Sender struct {
	pool   *pgxpool.Pool
	client *http.Client
	pub    publisher
	cfg    NotifyConfig
	log    *slog.Logger
	now    func() time.Time
}

// NewSender returns a sender; pub may be nil when no broker is configured
// (events then wait in the outbox).
func NewSender(pool *pgxpool.Pool, client *http.Client, pub publisher, cfg NotifyConfig, log *slog.Logger) *Sender {
	return &Sender{pool: pool, client: client, pub: pub, cfg: cfg, log: log, now: time.Now}
}

// Run sends due messages every interval until ctx ends.
func (s *Sender) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("outbox send", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type outboxRow struct {
	id       int64
	channel  string
	target   map[string]string
	payload  []byte
	attempts int
}

// SendDue claims and sends the messages that are due; it returns how many
// went out.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	now := s.now().UTC()
	channels := []string{"webhook"}
	if s.pub != nil {
		channels = append(channels, "kafka")
	}
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET claimed_until = $1::timestamptz + interval '1 minute'
		WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1
			AND channel = ANY($2) AND (claimed_until IS NULL OR claimed_until < $1)
			ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED)
		RETURNING id, channel, target, payload, attempts`, now, channels)
	if err != nil {
		return 0, fmt.Errorf("claim outbox: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := r.Scan(&o.id, &o.channel, &o.target, &o.payload, &o.attempts)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("claim outbox: %w", err)
	}
	sent := 0
	for _, o := range claimed {
		err := s.send(ctx, o)
		if err == nil {
			sent++
			_, err = s.pool.Exec(ctx, `UPDATE outbox SET sent_at = $2, attempts = attempts + 1, claimed_until = NULL WHERE id = $1`, o.id, s.now().UTC())
			if err != nil {
				return sent, fmt.Errorf("mark sent: %w", err)
			}
			continue
		}
		attempts := o.attempts + 1
		giveUp := attempts >= s.cfg.MaxAttempts || o.channel == "webhook" && !robot.Retryable(err)
		to := o.target["key"] // the topic's key
		if o.channel == "webhook" {
			to = robot.Redact(o.target["url"]) // never the token in its query
		}
		s.log.Warn("notification not sent", "outbox", o.id, "channel", o.channel, "to", to, "attempt", attempts, "give_up", giveUp, "err", err)
		next := now.Add(s.cfg.Backoff << min(attempts-1, 16))
		var failed *time.Time
		if giveUp {
			failed = &now
		}
		if _, err := s.pool.Exec(ctx, `UPDATE outbox SET attempts = $2, next_at = $3, failed_at = $4, last_error = $5, claimed_until = NULL WHERE id = $1`,
			o.id, attempts, next, failed, err.Error()); err != nil {
			return sent, fmt.Errorf("mark retry: %w", err)
		}
	}
	return sent, nil
}

func (s *Sender) send(ctx context.Context, o outboxRow) error {
	switch o.channel {
	case "webhook":
		var p struct{ Title, Markdown string }
		if err := json.Unmarshal(o.payload, &p); err != nil {
			return fmt.Errorf("outbox %d: %w", o.id, err)
		}
		w := storedWebhook(o.target)
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return w.Post(ctx, s.client, robot.Message{Title: p.Title, Markdown: p.Markdown}, s.now())
	case "kafka":
		return s.pub.Publish(ctx, o.target["key"], o.payload)
	}
	return fmt.Errorf("outbox %d: unknown channel %q", o.id, o.channel)
}

// Outbox reads the notification log.
type Outbox struct{ base }

// Notice is a notification as its log shows it: to which desk, what, and
// how its delivery went. Robot addresses stay in the store.
type Notice struct {
	ID        int64      `json:"id"`
	Desk      string     `json:"desk"`
	Title     string     `json:"title"`
	Text      string     `json:"text"`
	Robot     robot.Kind `json:"robot"`
	CreatedAt time.Time  `json:"created_at"`
	NextAt    time.Time  `json:"next_at"` // when it is (or was) due: non-urgent notices wait for working hours
	SentAt    *time.Time `json:"sent_at,omitempty"`
	FailedAt  *time.Time `json:"failed_at,omitempty"` // given up: a bad address, or too many attempts
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
}

// Notices returns the notification log of the desks in by's jurisdiction,
// newest first, for administrators and centre staff: what each desk was
// told, and what could not be delivered. before pages (ids below it).
func (s *Outbox) Notices(ctx context.Context, by User, desk string, before int64, limit int) ([]Notice, error) {
	if err := by.allow(permAudit, by.Jurisdiction); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	rows, err := s.pool.Query(ctx, `SELECT o.id, o.payload->>'desk', o.payload->>'title', o.payload->>'markdown', o.target->>'kind',
			o.created_at, o.next_at, o.sent_at, o.failed_at, o.attempts, o.last_error
		FROM outbox o JOIN desks d ON d.id = o.payload->>'desk'
		WHERE o.channel = 'webhook' AND starts_with(d.region, $1) AND ($2 = '' OR d.id = $2) AND ($3 = 0 OR o.id < $3)
		ORDER BY o.id DESC LIMIT $4`, by.Jurisdiction, desk, before, limit)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Notice])
}
