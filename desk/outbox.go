package desk

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

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

// The topics the outbox publishes to, by the names its rows carry; serve
// maps them to the broker's topics (-topic.cases, -topic.alerts).
const (
	TopicCases  = "riskwatch.cases"  // Event: every alert review and case change
	TopicAlerts = "riskwatch.alerts" // AlertEvent: every alert a detector's run raised or joined
)

// publisher sends one message to a topic and returns once the broker has
// acknowledged it.
type publisher interface {
	// Publish sends an event; id names it (HeaderEventID), the same on a
	// redelivery.
	Publish(ctx context.Context, id, key string, value []byte) error
}

// Publishers are the topics the outbox's events go to. A nil one leaves
// its topic's events waiting in the outbox.
type Publishers struct {
	Cases  publisher // TopicCases
	Alerts publisher // TopicAlerts
}

// Sender delivers the outbox, each channel in its own loop, so that a broker
// that does not answer never delays a robot's notice, nor a slow robot an
// event.
//
// Robots' notifications: every replica sends them, noticeWorkers at a time
// so that one robot that does not answer holds up no other. A worker claims
// one due notice at a time, just before sending it, for the lease; a send lasts at most SendTimeout, at most half the lease, so no
// other replica can take a notice while it is being sent. A notice goes out
// once, unless a replica dies between sending it and recording so (then
// again, after the lease). It names its desk's robot, resolved when it is
// sent, and goes only where notify.robots allows. One that keeps failing is
// given up after MaxAttempts, and one that cannot succeed (a bad token, a
// robot the desk no longer has, an address refused) at once; the
// notification log shows both.
//
// Events, per topic: one replica at a time — the holder of the topic's lease,
// renewed before each send — publishes them in the order they were written,
// stopping at the first failure, so one matter's events arrive in order (a
// change locks its matter's row before it queues the matter's events, so
// their order of writing is that of their commits). An
// event is never given up: it is retried with delays doubling up to
// MaxBackoff, forever, while the topic waits behind it (logged at every
// attempt; risk_outbox_event_failures says how many in a row). A send that
// timed out may have reached the broker: an event arrives at least once,
// never after a later one of its key.
type Sender struct {
	pool    *pgxpool.Pool
	robots  *http.Client
	topics  map[string]publisher
	cfg     NotifyConfig
	log     *slog.Logger
	now     func() time.Time
	id      string // this replica, in claims and leases
	metrics senderMetrics
}

// noticeWorkers is how many robots' notifications a replica sends at once.
const noticeWorkers = 4

type senderMetrics struct {
	sends    *prometheus.CounterVec
	failures *prometheus.GaugeVec
}

// NewSender returns a sender over a migrated database. Robots are reached
// through a client that only goes where cfg.Robots allows, with tlsConfig
// (nil: the system's roots).
func NewSender(pool *pgxpool.Pool, tlsConfig *tls.Config, topics Publishers, cfg NotifyConfig, reg prometheus.Registerer, log *slog.Logger) *Sender {
	id := make([]byte, 8)
	rand.Read(id)
	s := &Sender{pool: pool, robots: cfg.Robots.Client(tlsConfig), topics: map[string]publisher{}, cfg: cfg, log: log,
		now: time.Now, id: hex.EncodeToString(id)}
	if topics.Cases != nil {
		s.topics[TopicCases] = topics.Cases
	}
	if topics.Alerts != nil {
		s.topics[TopicAlerts] = topics.Alerts
	}
	reg.MustRegister(backlog{s})
	f := promauto.With(reg)
	s.metrics = senderMetrics{
		sends: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_outbox_sends_total",
			Help: "Outbox sends by channel (webhook, kafka), topic and outcome: sent, retry (failed, tried again later), given_up (robots only: events are never given up).",
		}, []string{"channel", "topic", "outcome"}),
		failures: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "risk_outbox_event_failures",
			Help: "Failed attempts in a row of the event a topic waits on (0: the topic flows). Events are never given up; the topic's later events wait behind it.",
		}, []string{"topic"}),
	}
	return s
}

// backlog reports, at each scrape, what waits in the outbox: every
// replica reports the same rows, so rules take their max.
type backlog struct{ s *Sender }

var (
	backlogDesc = prometheus.NewDesc("risk_outbox_backlog",
		"Outbox messages neither sent nor given up, by channel and topic (robots' notices include those held until their desk's working hours).", []string{"channel", "topic"}, nil)
	oldestDueDesc = prometheus.NewDesc("risk_outbox_oldest_due_timestamp_seconds",
		"Since when the oldest message that is due (not held for working hours or a retry's delay) has been waiting; absent when none is due.", []string{"channel", "topic"}, nil)
	backlogUpDesc = prometheus.NewDesc("risk_outbox_backlog_up",
		"1 when the last scrape read the outbox from PostgreSQL, 0 when it could not (the backlog is then absent).", nil, nil)
)

func (b backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- oldestDueDesc
	ch <- backlogUpDesc
}

// Collect reads the backlog; the topics this sender publishes and the
// robots' channel are reported even when empty, so a rule sees them at 0.
func (b backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type key struct{ channel, topic string }
	count := map[key]float64{{channelRobot, ""}: 0}
	for t := range b.s.topics {
		count[key{channelKafka, t}] = 0
	}
	oldest := map[key]time.Time{}
	rows, err := b.s.pool.Query(ctx, `SELECT channel, coalesce(target->>'topic', ''), count(*), min(next_at) FILTER (WHERE next_at <= $1)
		FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL GROUP BY 1, 2`, b.s.now().UTC())
	if err == nil {
		for rows.Next() {
			var k key
			var n int64
			var due *time.Time
			if err = rows.Scan(&k.channel, &k.topic, &n, &due); err != nil {
				break
			}
			if k.channel == channelRobot {
				k.topic = "" // a notice's target names its desk and robot, not a topic
			}
			count[k] += float64(n)
			if due != nil && (oldest[k].IsZero() || due.Before(oldest[k])) {
				oldest[k] = *due
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(backlogUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogUpDesc, prometheus.GaugeValue, 1)
	for k, n := range count {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, n, k.channel, k.topic)
	}
	for k, t := range oldest {
		ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, float64(t.Unix()), k.channel, k.topic)
	}
}

// Run sends until ctx ends, each channel in its own loop, every interval;
// it returns once they have stopped. An error or a panic of one pass is
// logged, and the next pass comes as usual.
func (s *Sender) Run(ctx context.Context, interval time.Duration) error {
	var wg sync.WaitGroup
	for range noticeWorkers {
		wg.Go(func() {
			Every(ctx, interval, s.log, "robot notifications", func(ctx context.Context) error {
				_, err := s.SendNotices(ctx)
				return err
			})
		})
	}
	for topic := range s.topics {
		wg.Go(func() {
			Every(ctx, interval, s.log, "events to "+topic, func(ctx context.Context) error {
				_, err := s.PublishEvents(ctx, topic)
				return err
			})
		})
	}
	wg.Wait()
	// Let another replica take the topics over at once.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(rctx, `DELETE FROM outbox_leases WHERE holder = $1`, s.id); err != nil {
		s.log.Warn("release outbox leases", "err", err)
	}
	return nil
}

// SendNotices sends the robots' notifications that are due, one claim at a
// time, until none is left; it returns how many went out.
func (s *Sender) SendNotices(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		var n notice
		var hooks []map[string]string
		err := s.pool.QueryRow(ctx, `UPDATE outbox SET claimed_by = $1, claimed_until = clock_timestamp() + $2 * interval '1 microsecond'
			WHERE id = (SELECT id FROM outbox WHERE channel = 'webhook' AND sent_at IS NULL AND failed_at IS NULL AND next_at <= $3
				AND (claimed_until IS NULL OR claimed_until < clock_timestamp()) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING id, target, payload, attempts, (SELECT webhooks FROM desks WHERE desks.id = outbox.target->>'desk')`,
			s.id, s.cfg.Lease.Microseconds(), s.now().UTC()).Scan(&n.id, &n.to, &n.payload, &n.attempts, &hooks)
		if errors.Is(err, pgx.ErrNoRows) {
			return sent, nil
		}
		if err != nil {
			return sent, fmt.Errorf("claim a notification: %w", err)
		}
		err = s.sendNotice(ctx, n, hooks)
		if rerr := s.recordNotice(ctx, n, err); rerr != nil {
			return sent, rerr
		}
		if err == nil {
			sent++
		}
	}
	return sent, nil
}

// notice is a claimed robot's notification.
type notice struct {
	id       int64
	to       robotRef
	payload  struct{ Title, Markdown, Desk string }
	attempts int
}

// errNoRobot is a notice whose robot is gone: no retry can send it.
var errNoRobot = errors.New("no such robot")

// sendNotice posts n to its desk's robot.
func (s *Sender) sendNotice(ctx context.Context, n notice, hooks []map[string]string) error {
	switch {
	case hooks == nil:
		return fmt.Errorf("desk %s is gone: %w", n.to.Desk, errNoRobot)
	case n.to.Robot < 0:
		return fmt.Errorf("the robot of desk %s this notice was for is unknown: queued before notices named robots, to a URL the desk no longer has: %w", n.to.Desk, errNoRobot)
	case n.to.Robot >= len(hooks):
		return fmt.Errorf("desk %s has no robot %d (its robots changed before the notice was sent): %w", n.to.Desk, n.to.Robot+1, errNoRobot)
	}
	w := storedWebhook(hooks[n.to.Robot])
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	return s.safely(ctx, n.id, func(ctx context.Context) error {
		return w.Post(ctx, s.robots, robot.Message{Title: n.payload.Title, Markdown: n.payload.Markdown}, s.now())
	})
}

// recordNotice records how sending n went and releases its claim. It runs
// even when ctx has ended: a notice sent must be recorded as sent.
func (s *Sender) recordNotice(ctx context.Context, n notice, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now().UTC()
	attempts := n.attempts + 1
	if err == nil {
		s.metrics.sends.WithLabelValues(channelRobot, "", "sent").Inc()
		if _, err := s.pool.Exec(ctx, `UPDATE outbox SET sent_at = $2, attempts = $3, claimed_by = NULL, claimed_until = NULL WHERE id = $1`,
			n.id, now, attempts); err != nil {
			return fmt.Errorf("record notification %d sent: %w", n.id, err)
		}
		return nil
	}
	giveUp := errors.Is(err, errNoRobot) || !robot.Retryable(err) || attempts >= s.cfg.MaxAttempts
	outcome := map[bool]string{true: "given_up", false: "retry"}[giveUp]
	s.metrics.sends.WithLabelValues(channelRobot, "", outcome).Inc()
	s.log.Warn("notification not sent", "outbox", n.id, "desk", n.to.Desk, "robot", n.to.Robot+1, "attempt", attempts, "give_up", giveUp, "err", err)
	var failed *time.Time
	if giveUp {
		failed = &now
	}
	if _, uerr := s.pool.Exec(ctx, `UPDATE outbox SET attempts = $2, next_at = $3, failed_at = $4, last_error = $5, claimed_by = NULL, claimed_until = NULL
		WHERE id = $1`, n.id, attempts, now.Add(s.backoff(attempts)), failed, err.Error()); uerr != nil {
		return fmt.Errorf("record notification %d not sent: %w", n.id, uerr)
	}
	return nil
}

// backoff is the delay after the attempts-th failure: Backoff, doubling,
// at most MaxBackoff.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.cfg.Backoff
	for range attempts - 1 {
		if d >= s.cfg.MaxBackoff {
			break
		}
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// PublishEvents publishes the topic's events in order while this replica
// holds the topic's lease (taking it if it is free or has lapsed), up to
// the first that fails or waits out its delay; it returns how many went
// out. Without a publisher for the topic, or with another replica holding
// it, it does nothing.
func (s *Sender) PublishEvents(ctx context.Context, topic string) (int, error) {
	pub := s.topics[topic]
	if pub == nil {
		return 0, nil
	}
	lease := "kafka:" + topic
	if held, err := s.takeLease(ctx, lease); err != nil || !held {
		return 0, err
	}
	sent := 0
	for {
		// Read while holding the lease: nobody else sends these meanwhile.
		rows, err := s.pool.Query(ctx, `SELECT id, target->>'key', payload, attempts, next_at FROM outbox
			WHERE channel = 'kafka' AND target->>'topic' = $1 AND sent_at IS NULL ORDER BY id LIMIT 100`, topic)
		if err != nil {
			return sent, fmt.Errorf("read events of %s: %w", topic, err)
		}
		events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) {
			var e event
			err := r.Scan(&e.id, &e.key, &e.payload, &e.attempts, &e.nextAt)
			return e, err
		})
		if err != nil {
			return sent, fmt.Errorf("read events of %s: %w", topic, err)
		}
		for _, e := range events {
			if e.nextAt.After(s.now()) {
				return sent, nil // waiting out its delay; the later ones wait behind it
			}
			// Renew, or stop if the lease lapsed: another replica may have
			// taken it and sent what this one read.
			if held, err := s.renewLease(ctx, lease); err != nil || !held {
				return sent, err
			}
			ok, err := s.publish(ctx, topic, pub, e)
			if err != nil || !ok {
				return sent, err
			}
			sent++
		}
		if len(events) < 100 {
			return sent, nil
		}
	}
}

// event is an unsent event.
type event struct {
	id       int64
	key      string
	payload  []byte
	attempts int
	nextAt   time.Time
}

// publish sends e and records how it went: sent, or not (logged, and
// due again after its delay). The error is one of recording.
func (s *Sender) publish(ctx context.Context, topic string, pub publisher, e event) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	err := s.safely(sctx, e.id, func(ctx context.Context) error {
		return pub.Publish(ctx, strconv.FormatInt(e.id, 10), e.key, e.payload)
	})
	cancel()
	// Recorded even when ctx has ended: an event sent must be recorded so.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now().UTC()
	attempts := e.attempts + 1
	if err == nil {
		s.metrics.sends.WithLabelValues(channelKafka, topic, "sent").Inc()
		s.metrics.failures.WithLabelValues(topic).Set(0)
		if _, err := s.pool.Exec(rctx, `UPDATE outbox SET sent_at = $2, attempts = $3 WHERE id = $1`, e.id, now, attempts); err != nil {
			return true, fmt.Errorf("record event %d sent: %w", e.id, err)
		}
		return true, nil
	}
	s.metrics.sends.WithLabelValues(channelKafka, topic, "retry").Inc()
	s.metrics.failures.WithLabelValues(topic).Set(float64(attempts))
	next := now.Add(s.backoff(attempts))
	s.log.Warn("event not published; the topic waits for it, retried until it is", "outbox", e.id, "topic", topic, "attempt", attempts, "next_at", next, "err", err)
	if _, err := s.pool.Exec(rctx, `UPDATE outbox SET attempts = $2, next_at = $3, last_error = $4 WHERE id = $1`, e.id, attempts, next, err.Error()); err != nil {
		return false, fmt.Errorf("record event %d not sent: %w", e.id, err)
	}
	return false, nil
}

// takeLease takes the lease name for this replica, or renews it, for the
// lease's length on PostgreSQL's clock; false when another replica holds
// it.
func (s *Sender) takeLease(ctx context.Context, name string) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `INSERT INTO outbox_leases (name, holder, until) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
			WHERE outbox_leases.holder = EXCLUDED.holder OR outbox_leases.until < clock_timestamp()
		RETURNING true`, name, s.id, s.cfg.Lease.Microseconds()).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return held, nil
}

// renewLease extends the lease name that this replica holds and that has
// not lapsed; false otherwise.
func (s *Sender) renewLease(ctx context.Context, name string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox_leases SET until = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE name = $1 AND holder = $2 AND until > clock_timestamp()`, name, s.id, s.cfg.Lease.Microseconds())
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// safely runs a send, turning a panic into an error: one bad row never
// stops a channel. The stack is logged; the row's error says "panic".
func (s *Sender) safely(ctx context.Context, id int64, send func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while sending", "outbox", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic while sending: %v", p)
		}
	}()
	return send(ctx)
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

// Announce queues m for the robots of the desks of region (a division code
// or prefix, as the desks name theirs: the jurisdiction's own desks, not
// those below), in their working hours, once per key: a second call with
// the same key — another replica announcing the same brief — queues
// nothing (the outbox's dedup key). A region without a desk or a robot
// queues nothing either.
func (s *Outbox) Announce(ctx context.Context, region, key string, m robot.Message) error {
	err := s.write(ctx, "system", func(c *change) error {
		rows, err := c.tx.Query(ctx, `SELECT `+deskColumns+` FROM desks WHERE rpad(region, 12, '0') = rpad($1, 12, '0') ORDER BY id`, region)
		if err != nil {
			return err
		}
		desks, err := pgx.CollectRows(rows, scanDesk)
		if err != nil {
			return err
		}
		for _, d := range desks {
			if err := c.notify(ctx, d, key+"/"+d.ID, false, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("announce %s: %w", key, err)
	}
	return nil
}
