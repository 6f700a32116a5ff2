package desk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	risk "riskwatch"
	"riskwatch/desk"
)

// topic is a broker's topic that keeps what is published to it. It can
// refuse the first messages, answer slowly, panic once, or blackhole: block
// until the sender gives up waiting.
type topic struct {
	mu        sync.Mutex
	msgs      []message
	fail      int // refuse this many publications first
	panics    int // panic in this many publications first
	delay     time.Duration
	blackhole bool
}

type message struct {
	key   string
	value []byte
}

func (tp *topic) Publish(ctx context.Context, _, key string, value []byte) error {
	tp.mu.Lock()
	blackhole, delay := tp.blackhole, tp.delay
	tp.mu.Unlock()
	if blackhole {
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(delay)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.panics > 0 {
		tp.panics--
		panic("broken message")
	}
	if tp.fail > 0 {
		tp.fail--
		return fmt.Errorf("kafka: leader not available")
	}
	tp.msgs = append(tp.msgs, message{key, value})
	return nil
}

func (tp *topic) published() []message {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.msgs)
}

// types lists the published events' types, in order.
func (tp *topic) types() []string {
	var out []string
	for _, m := range tp.published() {
		var e struct{ Type string }
		json.Unmarshal(m.value, &e)
		out = append(out, e.Type)
	}
	return out
}

// queued is the payloads of the events queued for topic, in the order
// they were written.
func (f *fixture) queued(t *testing.T, topic string) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT payload::text FROM outbox WHERE channel = 'kafka' AND target->>'topic' = $1 ORDER BY id`, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		rows.Scan(&p)
		out = append(out, p)
	}
	return out
}

// canonical re-encodes JSON so that the broker's and the store's forms compare.
func canonical(raw []byte) string {
	var v any
	json.Unmarshal(raw, &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTwoAlertsJoiningOneCaseAreTwoEvents: two alerts about one person
// join the person's case in one intake; other systems hear of both.
func TestTwoAlertsJoiningOneCaseAreTwoEvents(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "E1", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "E1", "", ""); err != nil {
		t.Fatal(err)
	}
	f.alert(t, "E2", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	f.alert(t, "E3", "convergence", risk.LevelOrange, "330681109201", "pk-wang", "")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	cases := &topic{}
	if _, err := f.sender(f.cfg.Notify, desk.Publishers{Cases: cases}).PublishEvents(ctx, desk.TopicCases); err != nil {
		t.Fatal(err)
	}
	var joined []string
	for _, m := range cases.published() {
		var e desk.Event
		json.Unmarshal(m.value, &e)
		if e.Type == "case.evidence" {
			joined = append(joined, e.Alert)
		}
	}
	if slices.Sort(joined); !slices.Equal(joined, []string{"E2", "E3"}) {
		t.Errorf("riskwatch.cases got case.evidence for %q (all: %q), want one for E2 and one for E3", joined, cases.types())
	}
}

// TestBlackholedBrokerDoesNotDelayRedNotice: while the broker takes nothing
// and answers nothing, a red matter's notice still reaches its desk's
// robot, and the events wait in order, not given up.
func TestBlackholedBrokerDoesNotDelayRedNotice(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "B1", "collective", risk.LevelOrange, "330681109201", "pk-wang", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "B1", "", ""); err != nil {
		t.Fatal(err)
	}
	f.alert(t, "B2", "extreme_intent", risk.LevelRed, "330681109201", "pk-wang", "")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	broker := &topic{blackhole: true}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.sender(f.cfg.Notify, desk.Publishers{Cases: broker, Alerts: broker}).Run(runCtx, 10*time.Millisecond)
	}()
	deadline := time.Now().Add(30 * time.Second) // a bound on a hang, not a measure
	for !slices.Contains(f.robot.told(), "案件新情况") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if got := f.robot.told(); !slices.Contains(got, "案件新情况") {
		t.Errorf("robot told %q while the broker blackholes; want the red evidence's notice (案件新情况)", got)
	}
	var unsent, failed int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FILTER (WHERE failed_at IS NOT NULL)
		FROM outbox WHERE channel = 'kafka'`).Scan(&unsent, &failed); err != nil {
		t.Fatal(err)
	}
	if unsent == 0 || failed != 0 {
		t.Errorf("events: %d unsent, %d given up; want them all waiting, none given up", unsent, failed)
	}
}

// TestTwoReplicasSendEachOnce: two replicas drain one outbox whose robot
// and broker are slow — a whole batch takes longer than a claim would last
// — and still every notice reaches the robot once, and every event the
// topic once, in the order written.
func TestTwoReplicasSendEachOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const n = 8
	for i := range n {
		key := fmt.Sprint("T", i)
		f.alert(t, key, "collective", risk.LevelOrange, fmt.Sprintf("3306811092%02d", i), "", "")
		if _, err := f.Review.Confirm(ctx, f.users["zhang"], key, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	f.robot.delay = 200 * time.Millisecond
	broker := &topic{delay: 100 * time.Millisecond}
	cfg := f.cfg.Notify
	cfg.Lease, cfg.SendTimeout = time.Second, 500*time.Millisecond // n sends outlast a lease
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		s := f.sender(cfg, desk.Publishers{Cases: broker})
		wg.Go(func() { s.Run(runCtx, 10*time.Millisecond) })
	}
	want := f.queued(t, desk.TopicCases)
	deadline := time.Now().Add(60 * time.Second) // a bound on a hang, not a measure
	for (len(f.robot.told()) < n || len(broker.published()) < len(want)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * cfg.Lease) // let any lapsed claim be taken again, as it would have been
	stop()
	wg.Wait()

	told := map[string]int{}
	for _, b := range f.robot.toldBodies() {
		told[strings.SplitN(b, "\n", 2)[0]]++ // "#### 新案件 #7（橙色预警）"
	}
	if len(told) != n {
		t.Errorf("robot told %d distinct notices, want %d", len(told), n)
	}
	for head, k := range told {
		if k != 1 {
			t.Errorf("robot told %q %d times, want once", head, k)
		}
	}
	var got []string
	for _, m := range broker.published() {
		got = append(got, canonical(m.value))
	}
	for i := range want {
		want[i] = canonical([]byte(want[i]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("riskwatch.cases got %d events, want the %d written, each once, in order:\n got %q\nwant %q", len(got), len(want), got, want)
	}
}

// TestEventsAreNeverGivenUp: an event the broker refuses more times than a
// robot's notice is tried is retried until it goes, and the events after it
// wait for it.
func TestEventsAreNeverGivenUp(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, key := range []string{"G1", "G2"} {
		f.alert(t, key, "collective", risk.LevelOrange, "330681109201", "", "")
		if _, err := f.Review.Confirm(ctx, f.users["zhang"], key, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	want := f.queued(t, desk.TopicCases)
	cfg := f.cfg.Notify
	cfg.MaxAttempts, cfg.Backoff, cfg.MaxBackoff = 2, time.Millisecond, time.Millisecond
	broker := &topic{fail: 5}
	reg := prometheus.NewRegistry()
	s := desk.NewSender(f.pool, f.robots, desk.Publishers{Cases: broker}, cfg, reg, slog.New(slog.DiscardHandler))
	backlog := `# HELP risk_outbox_backlog Outbox messages neither sent nor given up, by channel and topic (robots' notices include those held until their desk's working hours).
# TYPE risk_outbox_backlog gauge
risk_outbox_backlog{channel="kafka",topic="riskwatch.cases"} %d
risk_outbox_backlog{channel="webhook",topic=""} %d
`
	var notices int // the robots' notices of the confirmations: this test does not send them
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE channel = 'webhook' AND sent_at IS NULL`).Scan(&notices); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(backlog, len(want), notices)), "risk_outbox_backlog"); err != nil {
		t.Errorf("before sending: %v", err)
	}
	if !eventsDue(t, reg) {
		t.Error("before sending: no oldest-due time for riskwatch.cases")
	}
	for round := 0; round < 100 && len(broker.published()) < len(want); round++ {
		if _, err := s.PublishEvents(ctx, desk.TopicCases); err != nil {
			t.Fatal(err)
		}
		var failed int
		f.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE channel = 'kafka' AND failed_at IS NOT NULL`).Scan(&failed)
		if failed != 0 {
			t.Fatalf("after round %d: %d events given up, want none ever", round, failed)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var got []string
	for _, m := range broker.published() {
		got = append(got, canonical(m.value))
	}
	for i := range want {
		want[i] = canonical([]byte(want[i]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("riskwatch.cases got %q, want every event once, in order: %q", got, want)
	}
	var attempts int
	f.pool.QueryRow(ctx, `SELECT attempts FROM outbox WHERE channel = 'kafka' ORDER BY id LIMIT 1`).Scan(&attempts)
	if attempts != 6 {
		t.Errorf("the first event took %d attempts, want 6 (5 refused)", attempts)
	}
	// What an operator sees: five retries, every event sent, none given up.
	metrics := fmt.Sprintf(`# HELP risk_outbox_sends_total Outbox sends by channel (webhook, kafka), topic and outcome: sent, retry (failed, tried again later), given_up (robots only: events are never given up).
# TYPE risk_outbox_sends_total counter
risk_outbox_sends_total{channel="kafka",outcome="retry",topic="riskwatch.cases"} 5
risk_outbox_sends_total{channel="kafka",outcome="sent",topic="riskwatch.cases"} %d
`, len(want))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics), "risk_outbox_sends_total"); err != nil {
		t.Error(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(backlog, 0, notices)), "risk_outbox_backlog"); err != nil {
		t.Errorf("after sending: %v", err)
	}
	if eventsDue(t, reg) {
		t.Error("after sending: riskwatch.cases still has an oldest-due time")
	}
}

// eventsDue says whether the scrape shows riskwatch.cases events waiting.
func eventsDue(t testing.TB, reg prometheus.Gatherer) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "risk_outbox_oldest_due_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == desk.TopicCases {
					return true
				}
			}
		}
	}
	return false
}

// TestPanicInOneSendIsRecovered: a send that panics is logged and retried;
// the sender goes on.
func TestPanicInOneSendIsRecovered(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "P1", "collective", risk.LevelOrange, "330681109201", "", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "P1", "", ""); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := f.cfg.Notify
	cfg.Backoff, cfg.MaxBackoff = time.Millisecond, time.Millisecond
	broker := &topic{panics: 1}
	s := desk.NewSender(f.pool, f.robots, desk.Publishers{Cases: broker}, cfg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := s.PublishEvents(ctx, desk.TopicCases); err != nil {
		t.Fatalf("the pass with a panicking send: %v", err)
	}
	if !strings.Contains(logs.String(), "panic while sending") || !strings.Contains(logs.String(), "broken message") {
		t.Errorf("log %q: want the panic logged", logs.String())
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := s.PublishEvents(ctx, desk.TopicCases); err != nil {
		t.Fatal(err)
	}
	if got, want := len(broker.published()), len(f.queued(t, desk.TopicCases)); got != want {
		t.Errorf("%d events published after the panic, want all %d", got, want)
	}
}

// TestNoRobotSecretInTheOutbox: a notice names the desk's robot; its URL
// and 加签 secret stay in the desks table and are read when it is sent, so
// a token rotated meanwhile is the one used.
func TestNoRobotSecretInTheOutbox(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	admin := f.users["admin"]
	d, err := f.Directory.Desk(ctx, "fengqiao")
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := strings.Cut(d.Webhooks[0].URL, "?")
	d.Webhooks[0].URL, d.Webhooks[0].Secret = base+"?access_token=OLDTOKEN", "SECsigning0001"
	if _, err := f.Directory.SaveDesk(ctx, admin, d); err != nil {
		t.Fatal(err)
	}
	f.alert(t, "S1", "collective", risk.LevelOrange, "330681109201", "", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "S1", "", ""); err != nil {
		t.Fatal(err)
	}
	var leaks int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE target::text LIKE '%OLDTOKEN%' OR target::text LIKE '%SECsigning%'
		OR payload::text LIKE '%OLDTOKEN%' OR payload::text LIKE '%SECsigning%'`).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Errorf("%d outbox rows hold the robot's token or secret, want none", leaks)
	}
	d.Webhooks[0].URL = base + "?access_token=NEWTOKEN" // rotated
	d.Webhooks[0].Secret = "SECsigning0002"
	if _, err := f.Directory.SaveDesk(ctx, admin, d); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sender(f.cfg.Notify, desk.Publishers{}).SendNotices(ctx); err != nil {
		t.Fatal(err)
	}
	f.robot.mu.Lock()
	queries := slices.Clone(f.robot.queries)
	f.robot.mu.Unlock()
	if len(queries) != 1 || !strings.Contains(queries[0], "access_token=NEWTOKEN") || !strings.Contains(queries[0], "sign=") {
		t.Errorf("robot asked with %q; want the new token, signed", queries)
	}
}

// TestNoticesGoOnlyWhereAllowed: a robot whose address is not public is
// never posted to — the notice is given up at once, and the log says why
// without the robot's answer — and a notice whose robot the desk no longer
// has is given up with a clear reason.
func TestNoticesGoOnlyWhereAllowed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "W1", "collective", risk.LevelOrange, "330681109201", "", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "W1", "", ""); err != nil {
		t.Fatal(err)
	}
	// As written by the migration for a robot the desk no longer had.
	if _, err := f.pool.Exec(ctx, `INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at)
		VALUES ('old/1', 'webhook', '{"desk": "fengqiao", "robot": -1, "kind": "dingtalk"}', '{"desk": "fengqiao", "title": "旧通知", "markdown": "旧"}', now(), now())`); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg.Notify
	cfg.Robots.Networks = nil // 127.0.0.1, the robot's address, is loopback
	if _, err := f.sender(cfg, desk.Publishers{}).SendNotices(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.robot.told(); len(got) != 0 {
		t.Errorf("robot told %q, want nothing: its address is loopback", got)
	}
	log, err := f.Outbox.Notices(ctx, f.users["zhang"], "fengqiao", 0, 0)
	if err != nil || len(log) != 2 {
		t.Fatalf("notification log %+v, %v; want two notices", log, err)
	}
	for _, n := range log {
		want := "is loopback"
		if n.Title == "旧通知" {
			want = "robot of desk fengqiao this notice was for is unknown"
		}
		if n.FailedAt == nil || n.Attempts != 1 || !strings.Contains(n.LastError, want) {
			t.Errorf("notice %q: failed %v after %d attempts, error %q; want given up at once with %q", n.Title, n.FailedAt, n.Attempts, n.LastError, want)
		}
	}
}
