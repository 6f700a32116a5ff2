package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	risk "riskwatch"
	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/scenario"
	"riskwatch/schema/schematest"
)

// client signs in to the console and calls it as one person.
type client struct {
	t       *testing.T
	base    string
	cookie  *http.Cookie
	csrf    string
	version int
}

func signIn(t *testing.T, base, user string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	resp, body := c.do("POST", "/api/v1/login", map[string]string{"username": user, "password": "correct horse battery"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s signs in: %s %s", user, resp.Status, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "rw_session" {
			c.cookie = ck
		}
	}
	var in struct{ CSRF string }
	json.Unmarshal(body, &in)
	c.csrf = in.CSRF
	return c
}

func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.cookie != nil {
		req.AddCookie(c.cookie)
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.Bytes()
}

// call does a request that must succeed and decodes its answer.
func (c *client) call(method, path string, body, out any) {
	c.t.Helper()
	resp, b := c.do(method, path, body)
	if resp.StatusCode/100 != 2 {
		c.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type apiCase struct {
	ID      int64
	Desk    string
	Status  string
	Version int
	Card    string
	DueAt   time.Time `json:"due_at"`
	Ladder  []struct{ From, To, By, Reason string }
}

// TestDemoAtTheDesks is the desks' "done": on the demo's data, a planted
// incident's alert lands at the right desk; through the API a reviewer
// confirms it, a mediator accepts, records progress and settles it; an
// overdue case gets its cards and goes up to the county on time; the audit
// log tells the whole story.
func TestDemoAtTheDesks(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse and PostgreSQL")
	}
	ctx := context.Background()
	c, err := parse("serve", []string{"-clickhouse", schematest.DSN(), "-desks", filepath.Join("..", "..", "deploy", "desks.yaml")},
		func(string) string { return "" }, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	s := scenario.Generate(scenario.Config{Seed: 1, Weeks: 5, Townships: 2, Scale: 0.3})
	conn, _ := schematest.Open(t)
	if err := demoIngest(ctx, conn, s, c, log); err != nil {
		t.Fatal(err)
	}
	lex, _ := intent.New(intent.DefaultConfig())
	runs, err := detectors.Backtest(ctx, detectors.All(conn, detectors.DefaultConfig(), lex), s.Truth.From, s.Truth.To, detectors.BacktestConfig{Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := schematest.OpenPostgres(t)
	now := s.Truth.To.Add(9 * time.Hour) // the morning after the scenario
	store, _, err := newDesks(c, pool, conn, nil, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		for _, window := range r.Alerts {
			if _, err := store.Review.Record(ctx, window); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := store.Directory.LoadFile(ctx, nil, c.Directory); err != nil {
		t.Fatal(err)
	}
	desks, _ := store.Directory.Desks(ctx)
	for _, u := range []desk.User{
		{Username: "zj-reviewer", Role: desk.RoleReviewer, Jurisdiction: "330681"},
		{Username: "fq-li", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "jy-wu", Role: desk.RoleMediator, Jurisdiction: "330681001"},
		{Username: "zj-sun", Role: desk.RoleMediator, Jurisdiction: "330681"},
	} {
		if _, err := store.Accounts.AddUser(ctx, nil, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console.NewServer(consoleDeps(store, nil, nil, nil), 30*time.Second, prometheus.NewRegistry(), log))
	defer srv.Close()
	reviewer := signIn(t, srv.URL, "zj-reviewer")

	// The orange grid gathering, planted in a township: the township's centre.
	var gathering scenario.Incident
	for _, inc := range s.Truth.Incidents {
		if inc.Detector == "collective" && inc.Kind == "grid_gathering" {
			gathering = inc
		}
	}
	key, at := alertOf(t, reviewer, gathering)
	township := deskOf(desks, risk.TierTownship, gathering.Region[:9])
	if at != township.ID {
		t.Fatalf("the grid gathering in %s went to %q, want %s", gathering.Region, at, township.ID)
	}
	var k apiCase
	reviewer.call("POST", "/api/v1/alerts/"+key+"/confirm", map[string]string{"note": "网格员已到场，情况属实"}, &k)
	if k.Desk != township.ID || k.Status != "pending" {
		t.Fatalf("the confirmed case: %+v; want pending at %s", k, township.ID)
	}
	mediator := signIn(t, srv.URL, township.Members[0])
	mediator.call("POST", fmt.Sprintf("/api/v1/cases/%d/actions", k.ID), map[string]any{"action": "accept", "version": k.Version}, &k)
	mediator.call("POST", fmt.Sprintf("/api/v1/cases/%d/notes", k.ID), map[string]string{"kind": "contact", "body": "与企业负责人及工人代表电话沟通，约定次日协商"}, nil)
	mediator.call("POST", fmt.Sprintf("/api/v1/cases/%d/actions", k.ID), map[string]any{"action": "start", "version": k.Version}, &k)
	mediator.call("POST", fmt.Sprintf("/api/v1/cases/%d/notes", k.ID), map[string]string{"kind": "progress", "body": "企业承诺三日内结清工资"}, nil)
	mediator.call("POST", fmt.Sprintf("/api/v1/cases/%d/actions", k.ID), map[string]any{"action": "settle", "version": k.Version, "reason": "工资已结清"}, &k)
	if k.Status != "settled" {
		t.Fatalf("case after settling: %+v", k)
	}
	var audit struct {
		Entries []struct{ Actor, Action string }
	}
	reviewer.call("GET", fmt.Sprintf("/api/v1/audit?case=%d", k.ID), nil, &audit)
	var story []string
	for _, e := range slices.Backward(audit.Entries) {
		story = append(story, e.Actor+" "+e.Action)
	}
	m := township.Members[0]
	want := []string{"zj-reviewer case.create", "zj-reviewer alert.confirm", m + " case.accept", m + " case.note", m + " case.start", m + " case.note", m + " case.settle"}
	if !slices.Equal(story, want) {
		t.Errorf("the audit log of the settled case:\n got %q\nwant %q", story, want)
	}

	// Another township's case, accepted and left: cards, then the county.
	var open struct {
		Alerts []struct{ Key, Desk string }
	}
	reviewer.call("GET", "/api/v1/alerts?status=open&limit=500", nil, &open)
	key, at = "", ""
	for _, a := range open.Alerts {
		if d := deskOf(desks, "", a.Desk, true); d.Tier == risk.TierTownship && d.ID != township.ID && len(d.Members) > 0 {
			key, at = a.Key, a.Desk
			break
		}
	}
	if key == "" {
		t.Fatal("no open alert routed to another township's centre")
	}
	k = apiCase{}
	reviewer.call("POST", "/api/v1/alerts/"+key+"/confirm", nil, &k)
	late := signIn(t, srv.URL, deskOf(desks, "", at, true).Members[0])
	late.call("POST", fmt.Sprintf("/api/v1/cases/%d/actions", k.ID), map[string]any{"action": "accept", "version": k.Version}, &k)
	cal := calendar.Default()
	if err := store.Clock.Tick(ctx, k.DueAt.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var yellow apiCase
	reviewer.call("GET", fmt.Sprintf("/api/v1/cases/%d", k.ID), nil, &yellow)
	if yellow.Card != "yellow" || yellow.Desk != at {
		t.Fatalf("an hour overdue: card %q at %s; want a yellow card at %s", yellow.Card, yellow.Desk, at)
	}
	if err := store.Clock.Tick(ctx, cal.AddWorkingDays(yellow.DueAt.Add(-time.Nanosecond), 2)); err != nil {
		t.Fatal(err)
	}
	var up apiCase
	reviewer.call("GET", fmt.Sprintf("/api/v1/cases/%d", k.ID), nil, &up)
	if up.Desk != "zhuji" || up.Status != "pending" || up.Card != "" || len(up.Ladder) != 1 || up.Ladder[0].From != at {
		t.Errorf("two working days overdue: %+v; want it pending at the county (zhuji), no card, moved up from %s", up, at)
	}
}

// alertOf finds the alert holding an incident's records, through the API,
// and the desk it was routed to.
func alertOf(t *testing.T, c *client, inc scenario.Incident) (key, desk string) {
	t.Helper()
	var list struct {
		Alerts []struct {
			Key, Desk, Detector string
			Evidence            []risk.Evidence
		}
	}
	c.call("GET", "/api/v1/alerts?limit=500&detector="+inc.Detector, nil, &list)
	for _, a := range list.Alerts {
		for _, e := range a.Evidence {
			if slices.Contains(inc.Records, e) {
				return a.Key, a.Desk
			}
		}
	}
	t.Fatalf("no %s alert holds incident %s (%s)", inc.Detector, inc.ID, inc.What)
	return "", ""
}

// deskOf is the desk of a tier whose region is code (or, byID, whose id is).
func deskOf(desks []desk.Desk, tier risk.Tier, code string, byID ...bool) desk.Desk {
	for _, d := range desks {
		if len(byID) > 0 && d.ID == code || len(byID) == 0 && d.Tier == tier && d.Region == code {
			return d
		}
	}
	return desk.Desk{}
}
