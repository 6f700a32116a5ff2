package desk_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/desk/desktest"
	"riskwatch/desk/robot"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// clock is the injected time of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func at(s string) time.Time {
	t, _ := time.ParseInLocation("2006-01-02 15:04", s, risk.CST)
	return t.UTC()
}
func (c *clock) advance(d time.Duration) { c.set(c.now().Add(d)) }

// fakeRobot is a group robot that records what it is told.
type fakeRobot struct {
	mu      sync.Mutex
	texts   []string // titles
	bodies  []string // markdown texts
	queries []string // raw queries: the token, and DingTalk's signature
	fail    int      // answer 503 to this many posts first
	delay   time.Duration
}

func (r *fakeRobot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	delay := r.delay
	r.mu.Unlock()
	time.Sleep(delay) // a slow robot
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var m struct {
		Markdown struct{ Title, Text string } `json:"markdown"`
	}
	json.Unmarshal(body, &m)
	r.texts = append(r.texts, m.Markdown.Title)
	r.bodies = append(r.bodies, m.Markdown.Text)
	r.queries = append(r.queries, req.URL.RawQuery)
	w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
}

func (r *fakeRobot) told() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.texts) }

func (r *fakeRobot) toldBodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

type fixture struct {
	desk.Parts
	pool   *pgxpool.Pool
	cfg    desk.Config
	clock  *clock
	robot  *fakeRobot
	robots *tls.Config // trusts the robot's certificate
	users  map[string]desk.User
}

const directory = `
desks:
  - {id: city, name: 绍兴市矛调中心, tier: city, region: "330600"}
  - {id: county, name: 诸暨市矛调中心, tier: county, region: "330681", members: [sun], heads: [sun]}
  - id: fengqiao
    name: 枫桥镇综治中心
    tier: township
    region: "330681109"
    members: [li, zhou]
    heads: [zhao]
    hours: "08:30-17:30"
    webhooks: [{kind: dingtalk, url: "ROBOT"}]
  - {id: fengyuan, name: 枫源村调委会, tier: village, region: "330681109201", members: [wang]}
`

func setup(t *testing.T) *fixture {
	t.Helper()
	pool, _ := schematest.OpenPostgres(t)
	f := &fixture{pool: pool, clock: &clock{t: at("2020-03-02 09:00")}, robot: &fakeRobot{}, users: map[string]desk.User{}}
	// The robot: a TLS server on loopback, its host and network allowed,
	// its certificate trusted by the sender.
	srv := httptest.NewTLSServer(f.robot)
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	f.robots = &tls.Config{RootCAs: roots}
	f.cfg = desk.DefaultConfig()
	f.cfg.Deadlines.PauseClock = true
	f.cfg.Notify.Robots.Hosts = append(f.cfg.Notify.Robots.Hosts, "127.0.0.1")
	f.cfg.Notify.Robots.Networks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	var err error
	f.Parts, err = desk.New(pool, f.cfg, desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText,
		Parties: desktest.Parties{}, Contacts: desktest.Sealer{}, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	desks, err := desk.ReadDirectory(strings.NewReader(strings.ReplaceAll(directory, "ROBOT", srv.URL+"/robot/send?access_token=secret")), f.cfg.Notify.Robots)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, err := f.Accounts.AddUser(ctx, nil, desk.User{Username: "admin", Role: desk.RoleAdmin, Jurisdiction: "330681"}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	f.users["admin"] = admin
	for _, d := range desks {
		if _, err := f.Directory.SaveDesk(ctx, admin, d); err != nil && d.ID != "city" {
			t.Fatal(err)
		}
	}
	// The city desk is outside the county administrator's jurisdiction.
	city := desks[0]
	cityAdmin, err := f.Accounts.AddUser(ctx, nil, desk.User{Username: "cityadmin", Role: desk.RoleAdmin, Jurisdiction: "3306"}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	f.users["cityadmin"] = cityAdmin
	if _, err := f.Directory.SaveDesk(ctx, cityAdmin, city); err != nil {
		t.Fatal(err)
	}
	for _, u := range []desk.User{
		{Username: "zhang", Role: desk.RoleReviewer, Jurisdiction: "330681"},
		{Username: "qian", Role: desk.RoleReviewer, Jurisdiction: "330682"},
		{Username: "li", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "zhou", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "zhao", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "wang", Role: desk.RoleMediator, Jurisdiction: "330681109201"},
		{Username: "sun", Role: desk.RoleMediator, Jurisdiction: "330681"},
		{Username: "chen", Role: desk.RoleLeader, Jurisdiction: "330681"},
	} {
		made, err := f.Accounts.AddUser(ctx, &admin, u, "correct horse battery")
		if err != nil && u.Username != "qian" {
			t.Fatal(err)
		}
		if u.Username == "qian" { // another county's reviewer: the county administrator cannot make them
			if !errors.Is(err, risk.ErrForbidden) {
				t.Fatalf("adding a user outside the jurisdiction: got %v, want ErrForbidden", err)
			}
			made, err = f.Accounts.AddUser(ctx, &cityAdmin, u, "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
		}
		f.users[u.Username] = made
	}
	return f
}

// alert inserts an open alert, as Review.Record would, without its event.
func (f *fixture) alert(t *testing.T, key, detector string, level risk.Level, region, person, subject string) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), `INSERT INTO alerts (key, scope_key, detector, level, region, category, subject, person, labels,
		window_start, window_end, first_seen, last_seen, summary, evidence)
		VALUES ($1, $1, $2, $3, $4, '劳资纠纷', $5, $6, '{}', $7, $7, $7, $7, $8, '[{"source":"hotline","id":"H-1"}]')`,
		key, detector, level, region, subject, person, f.clock.now(), "测试预警："+key)
	if err != nil {
		t.Fatal(err)
	}
}

// auditActionsOf lists the audit log's actions whose name starts with
// prefix, oldest first, as "actor action".
func (f *fixture) auditActionsOf(t *testing.T, prefix string) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT actor || ' ' || action FROM audit_log WHERE starts_with(action, $1) ORDER BY id`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sender is a replica's sender of the outbox, trusting the robot.
func (f *fixture) sender(cfg desk.NotifyConfig, topics desk.Publishers) *desk.Sender {
	return desk.NewSender(f.pool, f.robots, topics, cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
}

func (f *fixture) auditActions(t *testing.T, caseID int64) []string {
	t.Helper()
	entries, err := f.Audit.Entries(context.Background(), f.users["zhang"], desk.AuditFilter{Case: caseID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Actor+" "+entries[i].Action)
	}
	return out
}

// TestAlertToSettledCase is the whole story: an orange alert in a village
// lands at the township, a reviewer confirms it, a mediator accepts,
// records a contact, mediates and settles it; the audit log tells it all.
func TestAlertToSettledCase(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "A1", "collective", risk.LevelOrange, "330681109201", "", "firm:兴达")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := f.Review.GetAlert(ctx, f.users["zhang"], "A1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Desk != "fengqiao" || !strings.Contains(a.RouteReason, "分派至枫桥镇综治中心：橙色预警由乡镇级处置") {
		t.Fatalf("routed to %q because %q; want fengqiao because orange", a.Desk, a.RouteReason)
	}
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "A1", "", "已电话核实")
	if err != nil {
		t.Fatal(err)
	}
	// collective cases have five working days: 2020-03-02 (Mon) + 5 → end of Mon 03-09.
	if k.Status != risk.CasePending || k.Desk != "fengqiao" || !k.DueAt.Equal(at("2020-03-10 00:00")) {
		t.Fatalf("case %+v; want pending at fengqiao, due at the end of 2020-03-09", k)
	}
	if len(k.Parties) != 1 || k.Parties[0].Phone != "138****2345" {
		t.Errorf("parties %+v: want the caller, masked", k.Parties)
	}
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "A1", "", ""); !errors.Is(err, risk.ErrConflict) {
		t.Errorf("confirming twice: got %v, want a conflict", err)
	}
	li := f.users["li"]
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, ""); err != nil || k.Mediator != "li" {
		t.Fatalf("accept: %+v, %v", k, err)
	}
	if _, err := f.Cases.AddNote(ctx, li, k.ID, "contact", "电话联系来电人，约定周三到镇综治中心面谈"); err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActStart, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActSettle, ""); err != nil {
		t.Fatal(err)
	}
	k, err = f.Cases.Case(ctx, li, k.ID)
	if err != nil || k.Status != risk.CaseSettled || k.ClosedAt == nil {
		t.Fatalf("settled case %+v, %v", k, err)
	}
	want := []string{"zhang case.create", "zhang alert.confirm", "li case.accept", "li case.note", "li case.start", "li case.settle"}
	if got := f.auditActions(t, k.ID); !slices.Equal(got, want) {
		t.Errorf("audit log of the case:\n got %q\nwant %q", got, want)
	}
	fig, err := f.Stats.Figures(ctx, f.users["chen"])
	if err != nil || fig.Settled != 1 || fig.SettledFirst != 1 || fig.SettledShare != 1 {
		t.Errorf("figures %+v, %v; want one case settled where it was first received", fig, err)
	}
}

func TestReviewerDismissAndMerge(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	zhang := f.users["zhang"]
	f.alert(t, "D1", "surge", risk.LevelBlue, "330681109201", "", "")
	if _, err := f.Review.Dismiss(ctx, zhang, "D1", "bored", ""); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("dismiss without a valid reason: got %v, want ErrInvalid", err)
	}
	if a, err := f.Review.Dismiss(ctx, zhang, "D1", risk.DismissFalsePositive, "停电引起"); err != nil || a.Status != "dismissed" || a.DismissReason != "false_positive" {
		t.Errorf("dismiss: %+v, %v", a, err)
	}
	// The reasons feed the detectors' figures.
	if fig, err := f.Stats.Figures(ctx, f.users["chen"]); err != nil || fig.Reviewed["surge"]["false_positive"] != 1 {
		t.Errorf("figures after a dismissal: %+v, %v; want surge's false positive counted", fig.Reviewed, err)
	}
	f.alert(t, "M1", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	f.alert(t, "M2", "convergence", risk.LevelOrange, "330681109201", "pk-wang", "")
	k, err := f.Review.Confirm(ctx, zhang, "M1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	related, cases, err := f.Review.Related(ctx, zhang, "M2")
	if err != nil || len(related) != 0 || len(cases) != 1 || cases[0].ID != k.ID {
		t.Fatalf("related to M2: alerts %v, cases %v, %v; want case %d", related, cases, err, k.ID)
	}
	if k, err = f.Review.Merge(ctx, zhang, "M2", k.ID); err != nil || k.Level != risk.LevelOrange || !slices.Contains(k.Alerts, "M2") {
		t.Fatalf("merge: %+v, %v; want M2 in the case and its level orange", k, err)
	}
	// Another county's reviewer sees none of it.
	if _, err := f.Review.GetAlert(ctx, f.users["qian"], "M1"); !errors.Is(err, risk.ErrNotFound) {
		t.Errorf("reviewer of another county reading an alert: got %v, want not found", err)
	}
}

// TestIntakeJoinsOpenCase: new evidence about an open case's party joins
// the case and tells its desk instead of waiting for review.
func TestIntakeJoinsOpenCase(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "J1", "repeat", risk.LevelYellow, "330681109201", "pk-wang", "")
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "J1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.alert(t, "J2", "extreme_intent", risk.LevelRed, "330681109201", "pk-wang", "")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := f.Review.GetAlert(ctx, f.users["zhang"], "J2")
	if a.Status != "merged" || a.Case != k.ID {
		t.Fatalf("J2 %s case %d; want merged into %d", a.Status, a.Case, k.ID)
	}
	k, _ = f.Cases.Case(ctx, f.users["zhang"], k.ID)
	if k.Level != risk.LevelRed || k.Notes[len(k.Notes)-1].Kind != "evidence" {
		t.Errorf("case level %s, last note %+v; want red with the evidence noted", k.Level, k.Notes[len(k.Notes)-1])
	}
}

// TestDeadlineClock: 将到期, a yellow card, then a red card and escalation
// to the county, each once, whatever number of replicas tick.
func TestDeadlineClock(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "C1", "collective", risk.LevelOrange, "330681109201", "", "")
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "C1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	li := f.users["li"]
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, ""); err != nil {
		t.Fatal(err)
	}
	tick := func(when string) {
		t.Helper()
		var wg sync.WaitGroup
		for range 3 { // three replicas at once
			wg.Go(func() {
				if err := f.Clock.Tick(ctx, at(when)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	tick("2020-03-06 10:00") // Friday: due the end of Monday 03-09, not within a working day yet
	tick("2020-03-09 08:00") // Monday morning: due tonight
	tick("2020-03-09 09:00")
	tick("2020-03-10 09:00") // overdue: yellow card
	tick("2020-03-11 12:00")
	k, _ = f.Cases.Case(ctx, li, k.ID)
	if k.Card != "yellow" || k.Desk != "fengqiao" {
		t.Fatalf("after one day overdue: card %q at %s; want yellow at fengqiao", k.Card, k.Desk)
	}
	var card string
	if err := f.pool.QueryRow(ctx, `SELECT payload::text FROM outbox WHERE payload::text LIKE '%黄牌督办%'`).Scan(&card); err != nil || !strings.Contains(card, "请负责人督办：zhao") {
		t.Errorf("the yellow card to the robot: %v, %s; want it to name the head zhao", err, card)
	}
	tick("2020-03-12 00:00") // two working days past due: red card, up to the county
	tick("2020-03-12 00:05")
	k, _ = f.Cases.Case(ctx, f.users["zhang"], k.ID)
	if k.Desk != "county" || k.Status != risk.CasePending || k.Card != "" || k.Escalations != 1 {
		t.Fatalf("after red card: %+v; want pending at the county, no card, one escalation", k)
	}
	if len(k.Ladder) != 1 || k.Ladder[0].By != "" || !strings.Contains(k.Ladder[0].Reason, "红牌督办") {
		t.Errorf("ladder %+v: want one move by the clock with its reason", k.Ladder)
	}
	want := []string{"zhang case.create", "zhang alert.confirm", "li case.accept", "system case.due_soon", "system case.card", "system case.card", "system case.escalate"}
	if got := f.auditActions(t, k.ID); !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
	// The township keeps read access, not write.
	if _, err := f.Cases.Case(ctx, li, k.ID); err != nil {
		t.Errorf("the lower desk's mediator reading the escalated case: %v", err)
	}
	if _, err := f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, ""); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("the lower desk's mediator accepting at the county: got %v, want forbidden", err)
	}
	if _, err := f.Cases.Act(ctx, f.users["sun"], k.ID, k.Version, risk.ActAccept, ""); err != nil {
		t.Errorf("the county mediator accepting: %v", err)
	}
	fig, _ := f.Stats.Figures(ctx, f.users["chen"])
	if fig.Escalated != 1 {
		t.Errorf("figures: %d escalated, want 1", fig.Escalated)
	}
}

// TestConcurrentChangesOneWins: two people act on the same version; one
// wins, the other gets a conflict; notes written at once are both kept.
func TestConcurrentChangesOneWins(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "X1", "collective", risk.LevelOrange, "330681109201", "", "")
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "X1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"li", "zhou"} {
		wg.Go(func() {
			_, errs[i] = f.Cases.Act(ctx, f.users[who], k.ID, k.Version, risk.ActAccept, "")
			f.Cases.AddNote(ctx, f.users[who], k.ID, "note", who+"的记录")
		})
	}
	wg.Wait()
	won, lost := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, risk.ErrConflict):
			lost++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if won != 1 || lost != 1 {
		t.Errorf("%d won, %d conflicts; want one each", won, lost)
	}
	k, _ = f.Cases.Case(ctx, f.users["zhang"], k.ID)
	if len(k.Notes) != 2 {
		t.Errorf("%d notes kept, want both", len(k.Notes))
	}
}

func TestRevealIsTheMediatorsAndAudited(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "R1", "repeat", risk.LevelYellow, "330681109", "pk-wang", "")
	k, err := f.Review.Confirm(ctx, f.users["zhang"], "R1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.Act(ctx, f.users["li"], k.ID, k.Version, risk.ActAccept, ""); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"zhang", "zhou", "wang", "chen", "admin"} {
		if _, err := f.Cases.Reveal(ctx, f.users[who], k.ID, "pk-wang"); !errors.Is(err, risk.ErrForbidden) && !errors.Is(err, risk.ErrNotFound) {
			t.Errorf("%s revealing a contact: got %v, want refused", who, err)
		}
	}
	c, err := f.Cases.Reveal(ctx, f.users["li"], k.ID, "pk-wang")
	if err != nil || c.Phone != "13805712345" {
		t.Fatalf("the mediator's reveal: %+v, %v", c, err)
	}
	entries, _ := f.Audit.Entries(ctx, f.users["zhang"], desk.AuditFilter{Case: k.ID})
	if entries[0].Action != "party.reveal" || entries[0].Actor != "li" || !strings.Contains(string(entries[0].Detail), "pk-wang") {
		t.Errorf("last audit entry %+v: want li's reveal of pk-wang", entries[0])
	}
}

// TestNotificationsOnceAcrossReplicas: two senders drain one outbox; the
// robot hears each message once, after retrying a busy robot.
func TestNotificationsOnceAcrossReplicas(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.robot.fail = 1
	for i := range 5 {
		key := fmt.Sprint("N", i)
		f.alert(t, key, "collective", risk.LevelRed, "330681109201", "", "")
		if _, err := f.Review.Confirm(ctx, f.users["zhang"], key, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	// Red cases go to the county, which has no robot; an orange one to fengqiao.
	f.alert(t, "N9", "collective", risk.LevelOrange, "330681109201", "", "")
	if _, err := f.Review.Confirm(ctx, f.users["zhang"], "N9", "", ""); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg.Notify
	cfg.Backoff = time.Millisecond
	senders := []*desk.Sender{f.sender(cfg, desk.Publishers{}), f.sender(cfg, desk.Publishers{})}
	for round := 0; round < 20 && len(f.robot.told()) < 1; round++ {
		var wg sync.WaitGroup
		for _, s := range senders {
			wg.Go(func() {
				if _, err := s.SendNotices(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.robot.told(); len(got) != 1 || !strings.HasPrefix(got[0], "新案件") {
		t.Errorf("robot told %q; want the new case once", got)
	}
	// The log shows it sent on the second attempt, and never the robot's address.
	log, err := f.Outbox.Notices(ctx, f.users["zhang"], "", 0, 0)
	if err != nil || len(log) != 1 || log[0].SentAt == nil || log[0].Attempts != 2 || log[0].Desk != "fengqiao" {
		t.Errorf("notification log %+v, %v; want fengqiao's new case, sent at the second attempt", log, err)
	}
	if b, _ := json.Marshal(log); strings.Contains(string(b), "access_token") {
		t.Errorf("the log shows the robot's address: %s", b)
	}
	if _, err := f.Outbox.Notices(ctx, f.users["li"], "", 0, 0); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("a mediator reading the notification log: %v, want forbidden", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for range 5 {
		if _, _, err := f.Accounts.Login(ctx, "li", "wrong password!", "10.0.0.1"); !errors.Is(err, desk.ErrUnauthenticated) {
			t.Fatalf("wrong password: got %v", err)
		}
	}
	if _, _, err := f.Accounts.Login(ctx, "li", "correct horse battery", "10.0.0.1"); !errors.Is(err, desk.ErrLocked) {
		t.Fatalf("right password while locked: got %v, want locked", err)
	}
	f.clock.advance(2 * time.Minute)
	u, sess, err := f.Accounts.Login(ctx, "li", "correct horse battery", "10.0.0.1")
	if err != nil || u.Username != "li" || sess.Token == "" || sess.CSRF == "" {
		t.Fatalf("after the lock: %+v %+v %v", u, sess, err)
	}
	if got, csrf, err := f.Accounts.SessionUser(ctx, sess.Token); err != nil || got.Username != "li" || csrf != sess.CSRF {
		t.Errorf("session: %+v %q %v", got, csrf, err)
	}
	// An unknown name answers and locks like a known one: a lock tells
	// nothing about which names exist.
	for range 5 {
		if _, _, err := f.Accounts.Login(ctx, "nobody", "whatever it is", "10.0.0.1"); !errors.Is(err, desk.ErrUnauthenticated) {
			t.Errorf("unknown user: got %v", err)
		}
	}
	if _, _, err := f.Accounts.Login(ctx, "nobody", "whatever it is", "10.0.0.1"); !errors.Is(err, desk.ErrLocked) {
		t.Errorf("unknown user after five failures: got %v, want locked", err)
	}
	admin := f.users["admin"]
	if _, err := f.Accounts.CreateToken(ctx, &admin, f.users["li"].ID, "李的令牌", 0); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("an administrator making a mediator's token: got %v, want forbidden", err)
	}
	token, err := f.Accounts.CreateToken(ctx, &admin, f.users["zhang"].ID, "对接系统", 0)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := f.Accounts.TokenUser(ctx, token); err != nil || u.Username != "zhang" {
		t.Errorf("token user: %+v %v", u, err)
	}
}

func TestPausedClockMovesTheDeadline(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.alert(t, "P1", "collective", risk.LevelOrange, "330681109201", "", "")
	k, _ := f.Review.Confirm(ctx, f.users["zhang"], "P1", "", "")
	li := f.users["li"]
	k, _ = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, "")
	due := k.DueAt
	f.clock.set(at("2020-03-04 00:00")) // Wednesday
	k, err := f.Cases.Pause(ctx, li, k.ID, k.Version, "等待司法鉴定结论")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(at("2020-03-09 00:00")) // the next Monday: three working days later
	if k, err = f.Cases.Resume(ctx, li, k.ID, k.Version); err != nil {
		t.Fatal(err)
	}
	if want := calendar.Default().ExtendBy(due, 3*24*time.Hour); !k.DueAt.Equal(want) {
		t.Errorf("due %s after three working days paused, want %s", k.DueAt, want)
	}
}

func TestAlertsListedInTheJurisdiction(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for i := range 7 {
		level := risk.LevelYellow
		if i%2 == 0 {
			level = risk.LevelRed
		}
		f.alert(t, fmt.Sprint("L", i), "repeat", level, fmt.Sprintf("3306811%02d", i), fmt.Sprint("p", i), "")
		f.clock.advance(time.Second)
	}
	f.alert(t, "ELSEWHERE", "repeat", risk.LevelRed, "330682101", "q", "")
	zhang := f.users["zhang"]
	var keys []string
	after := ""
	for pages := 0; ; pages++ {
		page, next, err := f.Review.Alerts(ctx, zhang, desk.AlertFilter{Detector: "repeat", Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			keys = append(keys, a.Key)
		}
		if next == "" {
			break
		}
		if after = next; pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(keys) != 7 || slices.Contains(keys, "ELSEWHERE") {
		t.Errorf("paged through %q; want the county's 7, not another county's", keys)
	}
	red, _, err := f.Review.Alerts(ctx, zhang, desk.AlertFilter{Level: "red", Region: "33068110"})
	if err != nil || len(red) != 4 {
		t.Errorf("red alerts under 33068110: %d, %v; want 4", len(red), err)
	}
	if got, _, _ := f.Review.Alerts(ctx, zhang, desk.AlertFilter{Region: "330682"}); len(got) != 0 {
		t.Errorf("asking for another county: %d alerts, want none", len(got))
	}
	if _, _, err := f.Review.Alerts(ctx, zhang, desk.AlertFilter{After: "no-such-key"}); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
	if _, _, err := f.Review.Alerts(ctx, f.users["chen"], desk.AlertFilter{}); !errors.Is(err, risk.ErrForbidden) {
		t.Errorf("a leader listing alerts: %v, want forbidden", err)
	}
}

// TestDeskEditKeepsRobotSecrets: secrets are never shown, so an edit that
// resends a robot without its secret keeps the stored one.
func TestDeskEditKeepsRobotSecrets(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	admin := f.users["admin"]
	d := desk.Desk{ID: "datang", Name: "大唐街道综治中心", Tier: risk.TierTownship, Region: "330681004",
		Webhooks: []robot.Webhook{{Kind: robot.DingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=T", Secret: "SECabc"}}}
	if _, err := f.Directory.SaveDesk(ctx, admin, d); err != nil {
		t.Fatal(err)
	}
	d.Webhooks[0].Secret = ""
	d.Members = []string{"dt-luo"}
	if _, err := f.Directory.SaveDesk(ctx, admin, d); err != nil {
		t.Fatal(err)
	}
	got, err := f.Directory.Desk(ctx, "datang")
	if err != nil || got.Webhooks[0].Secret != "SECabc" || len(got.Members) != 1 {
		t.Errorf("after an edit without the secret: %+v, %v; want the secret kept", got, err)
	}
	listed, _ := f.Directory.DesksFor(ctx, f.users["zhang"])
	for _, l := range listed {
		if len(l.Webhooks) > 0 {
			t.Errorf("a reviewer sees %s's robots", l.ID)
		}
	}
}

// TestRobotsOnlyInJurisdiction: an administrator sees the robots (whose
// addresses carry access tokens) of the desks in their jurisdiction only,
// not of the desks above it they escalate to — in the list and in a route
// preview alike.
func TestRobotsOnlyInJurisdiction(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	county, err := f.Directory.Desk(ctx, "county")
	if err != nil {
		t.Fatal(err)
	}
	county.Webhooks = []robot.Webhook{{Kind: robot.WeCom, URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=COUNTY-KEY"}}
	if _, err := f.Directory.SaveDesk(ctx, f.users["admin"], county); err != nil {
		t.Fatal(err)
	}
	admin := f.users["admin"]
	township, err := f.Accounts.AddUser(ctx, &admin, desk.User{Username: "fq-admin", Role: desk.RoleAdmin, Jurisdiction: "330681109"}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := f.Directory.DesksFor(ctx, township)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range listed {
		seen[d.ID] = len(d.Webhooks)
	}
	if n, ok := seen["county"]; !ok || n != 0 {
		t.Errorf("the township's administrator sees the county desk with %d robots (listed %v); want it listed, without robots", n, ok)
	}
	if seen["fengqiao"] != 1 {
		t.Errorf("the township's administrator sees %d robots of their own desk, want 1", seen["fengqiao"])
	}
	route, err := f.Directory.PreviewRoute(ctx, township, desk.Scope{Detector: "surge", Level: risk.LevelRed, Region: "330681109201"})
	if err != nil {
		t.Fatal(err)
	}
	if route.Desk.ID != "county" || len(route.Desk.Webhooks) != 0 {
		t.Errorf("route preview to %s with robots %v; want the county desk without its robots", route.Desk.ID, route.Desk.Webhooks)
	}
}

// TestTypedTextIsLimitedAndMasked: what people type — notes, contact
// records, reasons — is refused past 4,000 characters, and its phone and
// ID numbers are masked before it is stored, published or told to a robot,
// as in the complaints themselves.
func TestTypedTextIsLimitedAndMasked(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	zhang, li := f.users["zhang"], f.users["li"]
	const phone, idNo = "13912345678", "330681199001011234"
	long := strings.Repeat("长", 4001)

	f.alert(t, "A1", "collective", risk.LevelOrange, "330681109201", "", "firm:兴达")
	f.alert(t, "A2", "surge", risk.LevelBlue, "330681109201", "", "")
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Review.Confirm(ctx, zhang, "A1", "", long); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("confirm with a 4,001-character note: %v, want invalid", err)
	}
	if _, err := f.Review.Dismiss(ctx, zhang, "A2", risk.DismissFalsePositive, long); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("dismiss with a 4,001-character note: %v, want invalid", err)
	}
	if _, err := f.Review.Dismiss(ctx, zhang, "A2", risk.DismissFalsePositive, "来电人"+phone+"已撤回"); err != nil {
		t.Fatal(err)
	}
	k, err := f.Review.Confirm(ctx, zhang, "A1", "", "已电话核实，联系电话 "+phone)
	if err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActAccept, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Cases.AddNote(ctx, li, k.ID, "contact", long); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("a 4,001-character contact record: %v, want invalid", err)
	}
	if _, err := f.Cases.AddNote(ctx, li, k.ID, "contact", "电话 "+phone+" 联系当事人，身份证号"+idNo); err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.Pause(ctx, li, k.ID, k.Version, "等待鉴定，鉴定机构电话"+phone); err != nil {
		t.Fatal(err)
	}
	if k, err = f.Cases.Resume(ctx, li, k.ID, k.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActEscalate, long); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("escalate with a 4,001-character reason: %v, want invalid", err)
	}
	if _, err := f.Cases.Act(ctx, li, k.ID, k.Version, risk.ActEscalate, "当事人（"+phone+"）要求上级处理"); err != nil {
		t.Fatal(err)
	}

	// Nowhere in the desks' tables is a number in clear; the masked form is.
	for _, q := range []string{
		`SELECT body FROM case_notes`,
		`SELECT reason FROM escalations`,
		`SELECT detail::text FROM audit_log`,
		`SELECT payload::text FROM outbox`,
	} {
		rows, err := f.pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(texts, "\n")
		if strings.Contains(all, phone) || strings.Contains(all, idNo) {
			t.Errorf("%s holds a number in clear:\n%s", q, all)
		}
		if q == `SELECT body FROM case_notes` && !strings.Contains(all, "139****5678") {
			t.Errorf("the notes lack the masked phone:\n%s", all)
		}
	}
}

// TestOneFailingCaseDoesNotStopTheClock: a case the database refuses to
// change (a trigger stands in for a broken row) is reported, and the
// other cases of the tick get their cards all the same.
func TestOneFailingCaseDoesNotStopTheClock(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var ids []int64
	for _, key := range []string{"B1", "B2"} {
		f.alert(t, key, "collective", risk.LevelOrange, "330681109201", "", "")
		k, err := f.Review.Confirm(ctx, f.users["zhang"], key, "", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	broken := ids[0] // due first, so ticked first
	if _, err := f.pool.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION refuse_case() RETURNS trigger AS $$
		BEGIN IF NEW.id = %d THEN RAISE EXCEPTION 'case %% is broken', NEW.id; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
		CREATE TRIGGER refuse_case BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION refuse_case()`, broken)); err != nil {
		t.Fatal(err)
	}
	err := f.Clock.Tick(ctx, at("2020-03-10 09:00")) // both overdue
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("case %d", broken)) {
		t.Errorf("tick: %v; want the broken case reported", err)
	}
	k, err := f.Cases.Case(ctx, f.users["zhang"], ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if k.Card != "yellow" {
		t.Errorf("the case after the broken one has card %q, want yellow", k.Card)
	}
}
