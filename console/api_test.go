package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/desk/desktest"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// password is every test user's.
const password = "correct horse battery"

// clearPhone is the sealed contact's phone: only a reveal by the case's
// mediator may ever answer it.
const clearPhone = desktest.ClearPhone

// ourCounty is the county the matrix's objects are in; a response to a
// caller of another county must never carry it (unless they sent it).
const ourCounty = "330681"

// fakeStats is the ingestion's health; err makes it fail like a store that
// does not answer.
type fakeStats struct {
	mu  sync.Mutex
	err error
}

func (s *fakeStats) Stats(context.Context) ([]pipeline.FeedStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return []pipeline.FeedStats{{Source: "hotline", Topic: "riskwatch.hotline"}}, nil
}

func (s *fakeStats) fail(err error) { s.mu.Lock(); defer s.mu.Unlock(); s.err = err }

// The directory: 枫桥镇 (township) under 诸暨 (330681), one of its villages,
// and another county's centre (330682). ma is listed at 枫桥镇 though his
// jurisdiction is the other county: a membership never outweighs a
// jurisdiction.
const directory = `
desks:
  - {id: county, name: 诸暨市矛调中心, tier: county, region: "330681", members: [sun], heads: [sun]}
  - id: fengqiao
    name: 枫桥镇综治中心
    tier: township
    region: "330681109"
    members: [li, zhou, ma]
    heads: [zhao]
    webhooks: [{kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=ROBOT-SECRET"}]
  - {id: fengyuan, name: 枫源村调委会, tier: village, region: "330681109201", members: [wang]}
  - {id: shangyu, name: 上虞区矛调中心, tier: county, region: "330682", members: [zhu]}
`

type fixture struct {
	srv  *console.Server
	deps console.Deps
	desk.Parts
	pool  *pgxpool.Pool
	conn  driver.Conn // the ClickHouse database of the records
	stats *fakeStats
	users map[string]desk.User
	auths map[string]auth // username → an API token, or a mediator's session
	seq   int             // for fresh names

	// The seeded objects: an open alert in our village, an open alert in the
	// other county, and a case at 枫桥镇 accepted by li.
	openAlert, otherAlert string
	caseID                int64
}

func setup(t testing.TB) *fixture {
	t.Helper()
	pool, _ := schematest.OpenPostgres(t)
	ctx := context.Background()
	cfg := desk.DefaultConfig()
	cfg.Deadlines.PauseClock = true // so that pause and resume are about who asks
	f := &fixture{pool: pool, stats: &fakeStats{}, users: map[string]desk.User{}, auths: map[string]auth{}}
	var err error
	f.Parts, err = desk.New(pool, cfg, desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText, Parties: desktest.Parties{}, Contacts: desktest.Sealer{}})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := schematest.Open(t)
	f.conn = conn
	seedRecords(t, conn)
	f.deps = console.Deps{
		Ingest: f.stats, Accounts: f.Accounts, Review: f.Review, Cases: f.Cases, Directory: f.Directory,
		Audit: f.Audit, Outbox: f.Outbox, Stats: f.Stats,
		Records: pipeline.NewRecordReader(conn), Matters: pipeline.NewMatterReader(conn), Quarantine: pipeline.NewQuarantineReader(conn, nil),
		Briefs: brief.NewMaker(pipeline.NewMatterReader(conn), f.Stats, f.Directory, nil),
		Stored: brief.NewStore(pool),
		Reload: func(context.Context, *desk.User) (int, error) { return 4, nil }, // a directory file, so that reload answers 2xx when allowed
	}
	f.srv = console.NewServer(f.deps, 30*time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	storeBrief(t, f.deps, ourCounty, "week", "2024-03-04")

	admin, err := f.Accounts.AddUser(ctx, nil, desk.User{Username: "admin", Role: desk.RoleAdmin, Jurisdiction: ourCounty}, password)
	if err != nil {
		t.Fatal(err)
	}
	// The city's administrator makes the other county's people and desk,
	// and everyone's tokens.
	city, err := f.Accounts.AddUser(ctx, nil, desk.User{Username: "cityadmin", Role: desk.RoleAdmin, Jurisdiction: "3306"}, password)
	if err != nil {
		t.Fatal(err)
	}
	f.users["admin"], f.users["cityadmin"] = admin, city
	desks, err := desk.ReadDirectory(strings.NewReader(directory), cfg.Notify.Robots)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range desks {
		by := admin
		if !strings.HasPrefix(d.Region, ourCounty) {
			by = city
		}
		if _, err := f.Directory.SaveDesk(ctx, by, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []desk.User{
		{Username: "zhang", Role: desk.RoleReviewer, Jurisdiction: ourCounty},
		{Username: "li", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "zhou", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "zhao", Role: desk.RoleMediator, Jurisdiction: "330681109"},
		{Username: "wang", Role: desk.RoleMediator, Jurisdiction: "330681109201"},
		{Username: "sun", Role: desk.RoleMediator, Jurisdiction: ourCounty},
		{Username: "chen", Role: desk.RoleLeader, Jurisdiction: ourCounty},
		{Username: "wu", Role: desk.RoleAdmin, Jurisdiction: "330682"},
		{Username: "qian", Role: desk.RoleReviewer, Jurisdiction: "330682"},
		{Username: "ma", Role: desk.RoleMediator, Jurisdiction: "330682"},
		{Username: "zhu", Role: desk.RoleMediator, Jurisdiction: "330682"},
		{Username: "lu", Role: desk.RoleLeader, Jurisdiction: "330682"},
	} {
		by := admin
		if !strings.HasPrefix(u.Jurisdiction, ourCounty) {
			by = city
		}
		made, err := f.Accounts.AddUser(ctx, &by, u, password)
		if err != nil {
			t.Fatal(err)
		}
		f.users[u.Username] = made
	}
	for name, u := range f.users {
		if u.Role == desk.RoleMediator {
			f.signIn(t, name) // mediators sign in themselves: a token never works for them
			continue
		}
		token, err := f.Accounts.CreateToken(ctx, nil, u.ID, "测试", 0)
		if err != nil {
			t.Fatal(err)
		}
		f.auths[name] = bearer(token)
	}

	f.openAlert = f.alert(t, "330681109201")
	f.otherAlert = f.alert(t, "330682101201")
	f.caseID, _ = f.acceptedCase(t)
	return f
}

// recordTime is when the seeded records were raised.
var recordTime = time.Date(2024, 3, 4, 2, 0, 0, 0, time.UTC)

// seedRecords stores the evidence of the seeded alerts: one hotline record
// in each county's village (an alert of region R names H-R), with a caller
// whose contact is sealed, and one quarantined message.
func seedRecords(t testing.TB, conn driver.Conn) {
	t.Helper()
	var events []pipeline.Stored
	for _, region := range []string{"330681109201", "330682101201"} {
		events = append(events, pipeline.Stored{Event: risk.Event{Source: risk.SourceHotline, ID: "H-" + region, UpdatedAt: recordTime, OccurredAt: recordTime,
			Region: risk.Region{Code: region}, Category: "劳资纠纷", Kind: "投诉", Status: risk.StatusOpen, HeadCount: 20, PetitionerCount: -1, Amount: -1,
			Title: "兴达针织拖欠工资", Text: "<script>alert(1)</script>反映拖欠工资，电话138****2345", Subjects: []string{"firm:兴达"},
			Persons: []risk.Person{{Role: "caller", Name: "王*国", Phone: "138****2345", PhoneKey: "pk-wang", Sealed: "sealed:王建国:" + clearPhone}}}})
	}
	if err := pipeline.NewEventWriter(conn).WriteEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(context.Background(), `INSERT INTO rejected_events (topic, partition, offset, source, key, value_sealed, header_keys, header_values, reason, received_at)
		SELECT 'hotline.workorders', 0, 1, 'hotline', '', '', [], [], 'hotline: updateTime "2020-13-01": unparseable time', now()`); err != nil {
		t.Fatal(err)
	}
}

// next returns a fresh number, for names that must not repeat.
func (f *fixture) next() int { f.seq++; return f.seq }

// alert inserts an open orange alert in region as the detectors' store
// does, and returns its key. In our villages it routes to 枫桥镇.
func (f *fixture) alert(t testing.TB, region string) string {
	t.Helper()
	key := fmt.Sprintf("alert-%d", f.next())
	_, err := f.pool.Exec(context.Background(), `INSERT INTO alerts (key, scope_key, detector, level, region, category, subject, person, labels,
		window_start, window_end, first_seen, last_seen, summary, evidence)
		VALUES ($1, $1, 'collective', 'orange', $2, '劳资纠纷', 'firm:兴达', '', '{}', $3, $3, $3, $3, $4, jsonb_build_array(jsonb_build_object('source', 'hotline', 'id', 'H-' || $2)))`,
		key, region, time.Now(), "测试预警："+key)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// pendingCase confirms a fresh alert of our village: a case pending at 枫桥镇.
func (f *fixture) pendingCase(t testing.TB) desk.Case {
	t.Helper()
	k, err := f.Review.Confirm(context.Background(), f.users["zhang"], f.alert(t, "330681109201"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// acceptedCase is a fresh case at 枫桥镇 that li has accepted.
func (f *fixture) acceptedCase(t testing.TB) (int64, int) {
	t.Helper()
	k := f.pendingCase(t)
	k, err := f.Cases.Act(context.Background(), f.users["li"], k.ID, k.Version, risk.ActAccept, "")
	if err != nil {
		t.Fatal(err)
	}
	return k.ID, k.Version
}

// pausedCase is a fresh case of li's whose clock is stopped.
func (f *fixture) pausedCase(t *testing.T) (int64, int) {
	t.Helper()
	id, version := f.acceptedCase(t)
	k, err := f.Cases.Pause(context.Background(), f.users["li"], id, version, "等待司法鉴定结论")
	if err != nil {
		t.Fatal(err)
	}
	return k.ID, k.Version
}

// request is an API call before it is signed.
type request struct{ method, path, body string }

func (r request) String() string { return r.method + " " + r.path }

// auth signs a request in; nil leaves it anonymous.
type auth func(*http.Request)

func bearer(token string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// signIn gives a user a browser session, for as.
func (f *fixture) signIn(t testing.TB, username string) {
	t.Helper()
	_, sess, err := f.Accounts.Login(context.Background(), username, password, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	f.auths[username] = session(&http.Cookie{Name: "rw_session", Value: sess.Token}, sess.CSRF)
}

// token makes a spare token for a user and returns its id.
func (f *fixture) token(t *testing.T, username string) int64 {
	t.Helper()
	if _, err := f.Accounts.CreateToken(context.Background(), nil, f.users[username].ID, "备用", 0); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := f.pool.QueryRow(context.Background(), `SELECT max(id) FROM api_tokens`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// as signs in as a user: with their API token, or a mediator's session.
func (f *fixture) as(username string) auth { return f.auths[username] }

// session signs in with a browser's session cookie, and the CSRF header
// when csrf is not empty.
func session(cookie *http.Cookie, csrf string) auth {
	return func(r *http.Request) {
		r.AddCookie(cookie)
		if csrf != "" {
			r.Header.Set("X-CSRF-Token", csrf)
		}
	}
}

func (f *fixture) do(rq request, a auth) *httptest.ResponseRecorder {
	var r *http.Request
	if rq.body == "" {
		r = httptest.NewRequest(rq.method, rq.path, nil)
	} else {
		r = httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
		r.Header.Set("Content-Type", "application/json")
	}
	if a != nil {
		a(r)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

// call makes a request and fails the test unless it answers want.
func (f *fixture) call(t *testing.T, rq request, a auth, want int) *httptest.ResponseRecorder {
	t.Helper()
	w := f.do(rq, a)
	if w.Code != want {
		t.Fatalf("%s: got %d, want %d; body %s", rq, w.Code, want, w.Body)
	}
	return w
}

func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return v
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// errorBody is the body of every error.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		MessageEn string `json:"message_en"`
	} `json:"error"`
}

var (
	han   = regexp.MustCompile(`\p{Han}`)
	latin = regexp.MustCompile(`[A-Za-z]{2,}`)
)

// checkError checks an error's body: a JSON code, a Chinese message for the
// desks and an English one for integrators; it returns the code.
func checkError(t *testing.T, what string, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Errorf("%s: error body %q is not JSON: %v", what, w.Body, err)
		return ""
	}
	// message_en may quote Chinese names (a desk's); it must still be English.
	if e.Error.Code == "" || !han.MatchString(e.Error.Message) || !latin.MatchString(e.Error.MessageEn) {
		t.Errorf("%s: error body %s: want code, a Chinese message and an English message_en", what, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error Content-Type %q, want application/json", what, ct)
	}
	return e.Error.Code
}

// storeBrief makes the brief of region for the period of kind holding day
// and stores it, as the schedule does.
func storeBrief(t testing.TB, deps console.Deps, region, kind, day string) {
	t.Helper()
	ctx := context.Background()
	at, _ := time.ParseInLocation(time.DateOnly, day, risk.CST)
	p, err := brief.PeriodAt(kind, at)
	if err != nil {
		t.Fatal(err)
	}
	b, err := deps.Briefs.(*brief.Maker).Make(ctx, desk.User{Username: "schedule", Role: desk.RoleLeader, Jurisdiction: region}, region, p)
	if err != nil {
		t.Fatal(err)
	}
	var html strings.Builder
	if err := brief.Write(&html, b, "html"); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Stored.(*brief.Store).Save(ctx, b, html.String(), "test"); err != nil {
		t.Fatal(err)
	}
}

// The matrix's callers: each role inside our county, and the same role in
// another county (330682). For the mediators, "own" is a member of the
// desk holding the seeded case (枫桥镇): li inside, ma outside (listed at
// 枫桥镇, jurisdiction the other county); "other" is a mediator of another
// desk: wang of the village desk below it, zhu of the other county's centre.
var (
	roles     = [5]string{"admin", "reviewer", "mediator-own-desk", "mediator-other-desk", "leader"}
	inside    = [5]string{"admin", "zhang", "li", "wang", "chen"}
	outside   = [5]string{"wu", "qian", "ma", "zhu", "lu"}
	outsiders = map[string]bool{"wu": true, "qian": true, "ma": true, "zhu": true, "lu": true}
)

// row is one line of the authorization matrix: a request for each caller
// (built afresh per caller where the request changes state, so that the
// answer depends on who asks, not on what came before), and the status each
// caller must get, in the order of roles.
type row struct {
	pattern string
	name    string // what the row tries, when a pattern has several
	public  bool   // no sign-in needed: anonymous callers get in[0] too
	build   func(t *testing.T, f *fixture, username string) request
	in, out [5]int
	check   func(t *testing.T, f *fixture, username string, body []byte) // on a 2xx answer
}

// Statuses, short so that the table reads as a table.
const (
	ok       = http.StatusOK
	created  = http.StatusCreated
	noBody   = http.StatusNoContent
	refused  = http.StatusForbidden // the role may not, or the object the caller named is outside their jurisdiction
	notFound = http.StatusNotFound  // the object exists, but not for this caller
)

func get(path string) func(*testing.T, *fixture, string) request {
	return func(*testing.T, *fixture, string) request { return request{"GET", path, ""} }
}

// matrix is the authorization spec of the API. Outcomes are written out, not
// derived from package desk. The rules they follow:
//   - Leaders read figures only: never an alert, a case, a contact or the
//     audit log.
//   - A role lacking a right is refused 403 before anything is looked up.
//   - An object outside the caller's jurisdiction, or a case not at the
//     caller's desks, does not exist for them: 404 — for reading and
//     writing alike, so that another county cannot tell which ids exist.
//     Writes to a case look the case up first, so a leader (who reads no
//     case) gets 404 there too.
//   - A region the caller sent in a body, or a desk they name by id, is
//     refused 403 when it is outside their jurisdiction; the answer must
//     still not tell them anything about it (checkAnswer).
func matrix(f *fixture) []row {
	caseURL := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/cases/%d%s", id, rest) }
	freshAlert := func(verb, body string) func(*testing.T, *fixture, string) request {
		return func(t *testing.T, f *fixture, _ string) request {
			return request{"POST", "/api/v1/alerts/" + f.alert(t, "330681109201") + "/" + verb, body}
		}
	}
	// accepted builds a request on a fresh case li has accepted.
	accepted := func(rest string, body func(version int) any) func(*testing.T, *fixture, string) request {
		return func(t *testing.T, f *fixture, _ string) request {
			id, version := f.acceptedCase(t)
			return request{"POST", caseURL(id, rest), jsonOf(body(version))}
		}
	}
	zhou, zhang := f.users["zhou"].ID, f.users["zhang"].ID
	return []row{
		{pattern: "GET /api/v1/openapi.yaml", public: true, build: get("/api/v1/openapi.yaml"),
			in: [5]int{ok, ok, ok, ok, ok}, out: [5]int{ok, ok, ok, ok, ok}},
		{pattern: "POST /api/v1/login", public: true,
			build: func(_ *testing.T, _ *fixture, username string) request {
				if username == "" {
					username = "zhou"
				}
				return request{"POST", "/api/v1/login", jsonOf(map[string]string{"username": username, "password": password})}
			},
			in: [5]int{ok, ok, ok, ok, ok}, out: [5]int{ok, ok, ok, ok, ok}},
		{pattern: "POST /api/v1/logout", public: true, build: func(*testing.T, *fixture, string) request { return request{"POST", "/api/v1/logout", ""} },
			in: [5]int{noBody, noBody, noBody, noBody, noBody}, out: [5]int{noBody, noBody, noBody, noBody, noBody},
			check: func(t *testing.T, f *fixture, username string, _ []byte) {
				if f.users[username].Role == desk.RoleMediator {
					f.call(t, request{"GET", "/api/v1/me", ""}, f.as(username), http.StatusUnauthorized)
					f.signIn(t, username) // for the rows to come
				}
			}},
		{pattern: "GET /api/v1/me", build: get("/api/v1/me"),
			in: [5]int{ok, ok, ok, ok, ok}, out: [5]int{ok, ok, ok, ok, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), `"username": "`+username+`"`) {
					t.Errorf("%s: /me answered %s", username, body)
				}
			}},
		// The pipeline's health is the centre's and IT's; it holds no
		// jurisdiction's data, so the other county's staff read it too.
		{pattern: "GET /api/v1/ingest/stats", build: get("/api/v1/ingest/stats"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused}},

		// Alerts: centre staff and administrators; the other county lists
		// its own, which holds none of ours (checked on every answer).
		{pattern: "GET /api/v1/alerts", build: get("/api/v1/alerts"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused},
			check: func(t *testing.T, f *fixture, username string, body []byte) {
				if !outsiders[username] && !strings.Contains(string(body), f.openAlert) {
					t.Errorf("%s: the list misses the open alert %s", username, f.openAlert)
				}
			}},
		{pattern: "GET /api/v1/alerts/{key}", name: "our alert", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", "/api/v1/alerts/" + f.openAlert, ""}
		}, in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{notFound, notFound, refused, refused, refused}},
		{pattern: "GET /api/v1/alerts/{key}", name: "the other county's alert", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", "/api/v1/alerts/" + f.otherAlert, ""}
		}, in: [5]int{notFound, notFound, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused}},
		{pattern: "GET /api/v1/alerts/{key}/related", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", "/api/v1/alerts/" + f.openAlert + "/related", ""}
		}, in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{notFound, notFound, refused, refused, refused}},
		{pattern: "GET /api/v1/alerts/{key}/route", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", "/api/v1/alerts/" + f.openAlert + "/route", ""}
		}, in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{notFound, notFound, refused, refused, refused}},
		// Review is the reviewers': every other role is refused before any
		// lookup; another county's reviewer does not find the alert.
		{pattern: "POST /api/v1/alerts/{key}/confirm", build: freshAlert("confirm", ""),
			in: [5]int{refused, created, refused, refused, refused}, out: [5]int{refused, notFound, refused, refused, refused}},
		{pattern: "POST /api/v1/alerts/{key}/dismiss", build: freshAlert("dismiss", `{"reason": "false_positive", "note": "停电引起"}`),
			in: [5]int{refused, ok, refused, refused, refused}, out: [5]int{refused, notFound, refused, refused, refused}},
		{pattern: "POST /api/v1/alerts/{key}/merge", build: func(t *testing.T, f *fixture, _ string) request {
			k := f.pendingCase(t)
			return request{"POST", "/api/v1/alerts/" + f.alert(t, "330681109201") + "/merge", jsonOf(map[string]int64{"case": k.ID})}
		}, in: [5]int{refused, ok, refused, refused, refused}, out: [5]int{refused, notFound, refused, refused, refused}},
		// Evidence records: who reads the alert reads its records, masked.
		{pattern: "GET /api/v1/alerts/{key}/records", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", "/api/v1/alerts/" + f.openAlert + "/records", ""}
		}, in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{notFound, notFound, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				checkRecords(t, username, body, "H-330681109201")
			}},
		// History: the roles that read alerts, inside their jurisdiction; a
		// region outside it is refused before anything is read.
		{pattern: "GET /api/v1/records/history", name: "our village", build: get("/api/v1/records/history?region=330681109201&subject=firm:兴达"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				checkRecords(t, username, body, "H-330681109201")
			}},
		{pattern: "GET /api/v1/records/history", name: "the caller's jurisdiction", build: get("/api/v1/records/history?person=pk-wang"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				want := "H-330681109201"
				if outsiders[username] {
					want = "H-330682101201"
				}
				checkRecords(t, username, body, want)
			}},
		{pattern: "POST /api/v1/route-preview", build: func(*testing.T, *fixture, string) request {
			return request{"POST", "/api/v1/route-preview", `{"detector": "collective", "level": "orange", "region": "330681109201"}`}
		}, in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused}},

		// Cases: centre staff, administrators, and the mediators of the
		// desks a case is or was at.
		{pattern: "GET /api/v1/cases", build: get("/api/v1/cases"),
			in: [5]int{ok, ok, ok, ok, refused}, out: [5]int{ok, ok, ok, ok, refused},
			check: func(t *testing.T, f *fixture, username string, body []byte) {
				var list struct{ Cases []desk.Case }
				if err := json.Unmarshal(body, &list); err != nil {
					t.Fatal(err)
				}
				listed := slices.ContainsFunc(list.Cases, func(k desk.Case) bool { return k.ID == f.caseID })
				if want := slices.Contains([]string{"admin", "zhang", "li"}, username); listed != want {
					t.Errorf("%s: case %d listed %v, want %v", username, f.caseID, listed, want)
				}
			}},
		// Another county's staff must not learn that case 1 exists, nor
		// where it is: 404 like its alert, never a 403 naming its village.
		{pattern: "GET /api/v1/cases/{id}", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", caseURL(f.caseID, ""), ""}
		}, in: [5]int{ok, ok, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), "138****2345") {
					t.Errorf("%s: the case's parties are missing, masked: %s", username, body)
				}
			}},
		// A case's records: whoever reads the case; another desk's mediator
		// does not find it (404, as for the case), a leader is refused.
		{pattern: "GET /api/v1/cases/{id}/records", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", caseURL(f.caseID, "/records"), ""}
		}, in: [5]int{ok, ok, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				checkRecords(t, username, body, "H-330681109201")
			}},
		// The outcome is the mediator's, while mediating.
		{pattern: "PUT /api/v1/cases/{id}/outcome", build: func(t *testing.T, f *fixture, _ string) request {
			id, version := f.acceptedCase(t)
			k, err := f.Cases.Act(context.Background(), f.users["li"], id, version, risk.ActStart, "")
			if err != nil {
				t.Fatal(err)
			}
			return request{"PUT", caseURL(id, "/outcome"), jsonOf(map[string]any{"version": k.Version, "agreement": "分两期支付欠薪", "amount": 12000})}
		}, in: [5]int{refused, refused, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), `"agreement": "分两期支付欠薪"`) {
					t.Errorf("%s: the case answered lacks its outcome: %s", username, body)
				}
			}},
		// Working a case is its mediator's (and their desk's heads');
		// leaders, who read no case, are refused as a role before any lookup.
		// reviewers escalate and reopen but do not mediate.
		{pattern: "POST /api/v1/cases/{id}/actions", name: "start mediating",
			build: accepted("/actions", func(v int) any { return map[string]any{"action": "start", "version": v} }),
			in:    [5]int{refused, refused, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		{pattern: "POST /api/v1/cases/{id}/actions", name: "escalate",
			build: accepted("/actions", func(v int) any {
				return map[string]any{"action": "escalate", "version": v, "reason": "涉及多个乡镇，需县级协调"}
			}),
			in: [5]int{refused, ok, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		// Reviewers hand cases out (a desk's heads too); li is a member, not a head.
		{pattern: "POST /api/v1/cases/{id}/assign",
			build: accepted("/assign", func(v int) any { return map[string]any{"mediator": "zhou", "version": v} }),
			in:    [5]int{refused, ok, refused, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		{pattern: "POST /api/v1/cases/{id}/notes",
			build: accepted("/notes", func(int) any {
				return map[string]string{"kind": "contact", "body": "电话联系来电人，约定面谈"}
			}),
			in: [5]int{refused, created, created, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		{pattern: "POST /api/v1/cases/{id}/pause",
			build: accepted("/pause", func(v int) any { return map[string]any{"version": v, "why": "等待司法鉴定结论"} }),
			in:    [5]int{refused, refused, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		{pattern: "POST /api/v1/cases/{id}/resume", build: func(t *testing.T, f *fixture, _ string) request {
			id, version := f.pausedCase(t)
			return request{"POST", caseURL(id, "/resume"), jsonOf(map[string]int{"version": version})}
		}, in: [5]int{refused, refused, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused}},
		// A contact is the case's mediator's alone, never a leader's.
		{pattern: "POST /api/v1/cases/{id}/parties/{key}/reveal", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"POST", caseURL(f.caseID, "/parties/pk-wang/reveal"), ""}
		}, in: [5]int{refused, refused, ok, notFound, refused}, out: [5]int{notFound, notFound, notFound, notFound, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), clearPhone) {
					t.Errorf("%s: the reveal answered %s, want the clear phone", username, body)
				}
			}},

		// Desks: everyone but leaders reads the directory; only
		// administrators see the robots' addresses, which carry tokens.
		{pattern: "GET /api/v1/desks", build: get("/api/v1/desks"),
			in: [5]int{ok, ok, ok, ok, refused}, out: [5]int{ok, ok, ok, ok, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if got, want := strings.Contains(string(body), "ROBOT-SECRET"), username == "admin"; got != want {
					t.Errorf("%s: robot address shown %v, want %v", username, got, want)
				}
			}},
		{pattern: "PUT /api/v1/desks/{id}", name: "a new desk in our county", build: func(_ *testing.T, f *fixture, _ string) request {
			n := f.next()
			id := fmt.Sprintf("village-%d", n)
			return request{"PUT", "/api/v1/desks/" + id, jsonOf(map[string]any{"name": "测试村调委会", "tier": "village", "region": fmt.Sprintf("330681108%03d", n)})}
		}, in: [5]int{ok, refused, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused}},
		// Taking our village's desk into the other county: our administrator
		// may not place it there, theirs may not take it.
		{pattern: "PUT /api/v1/desks/{id}", name: "move our desk to the other county", build: func(*testing.T, *fixture, string) request {
			return request{"PUT", "/api/v1/desks/fengyuan", jsonOf(map[string]any{"name": "枫源村调委会", "tier": "village", "region": "330682101201"})}
		}, in: [5]int{refused, refused, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused}},
		{pattern: "DELETE /api/v1/desks/{id}", build: func(t *testing.T, f *fixture, _ string) request {
			n := f.next()
			d := desk.Desk{ID: fmt.Sprintf("spare-%d", n), Name: "备用调委会", Tier: risk.TierVillage, Region: fmt.Sprintf("330681107%03d", n)}
			if _, err := f.Directory.SaveDesk(context.Background(), f.users["admin"], d); err != nil {
				t.Fatal(err)
			}
			return request{"DELETE", "/api/v1/desks/" + d.ID, ""}
		}, in: [5]int{noBody, refused, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused}},
		// The directory file is the deployment's, not a county's: any
		// administrator may have it re-read.
		{pattern: "POST /api/v1/desks/reload", build: func(*testing.T, *fixture, string) request { return request{"POST", "/api/v1/desks/reload", ""} },
			in: [5]int{ok, refused, refused, refused, refused}, out: [5]int{ok, refused, refused, refused, refused}},

		// People: administrators, within their jurisdiction. A user outside
		// the caller's jurisdiction does not exist for them (wang's is one
		// village; zhou's is the township).
		{pattern: "GET /api/v1/users", build: get("/api/v1/users"),
			in: [5]int{ok, refused, refused, refused, refused}, out: [5]int{ok, refused, refused, refused, refused}},
		{pattern: "POST /api/v1/users", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"POST", "/api/v1/users", jsonOf(map[string]string{"username": fmt.Sprintf("new-%d", f.next()), "display_name": "新调解员",
				"role": "mediator", "jurisdiction": "330681109", "password": password})}
		}, in: [5]int{created, refused, refused, refused, refused}, out: [5]int{refused, refused, refused, refused, refused}},
		{pattern: "PATCH /api/v1/users/{id}", name: "rename", build: func(*testing.T, *fixture, string) request {
			return request{"PATCH", fmt.Sprintf("/api/v1/users/%d", zhou), `{"display_name": "周调解员"}`}
		}, in: [5]int{ok, refused, refused, refused, refused}, out: [5]int{notFound, refused, refused, refused, refused}},
		{pattern: "PATCH /api/v1/users/{id}", name: "widen beyond the caller's jurisdiction", build: func(*testing.T, *fixture, string) request {
			return request{"PATCH", fmt.Sprintf("/api/v1/users/%d", zhou), `{"role": "admin", "jurisdiction": "33"}`}
		}, in: [5]int{refused, refused, refused, refused, refused}, out: [5]int{notFound, refused, refused, refused, refused}},
		{pattern: "POST /api/v1/users/{id}/tokens", name: "a reviewer's", build: func(*testing.T, *fixture, string) request {
			return request{"POST", fmt.Sprintf("/api/v1/users/%d/tokens", zhang), `{"name": "对接系统"}`}
		}, in: [5]int{created, refused, refused, refused, refused}, out: [5]int{notFound, refused, refused, refused, refused}},
		// A mediator's token would let its maker read contacts in their name.
		{pattern: "POST /api/v1/users/{id}/tokens", name: "a mediator's", build: func(*testing.T, *fixture, string) request {
			return request{"POST", fmt.Sprintf("/api/v1/users/%d/tokens", zhou), `{"name": "对接系统"}`}
		}, in: [5]int{refused, refused, refused, refused, refused}, out: [5]int{notFound, refused, refused, refused, refused}},
		// Administrators list and revoke the tokens of their jurisdiction's
		// users; another county's revoking ours learns nothing of it.
		{pattern: "GET /api/v1/tokens", build: get("/api/v1/tokens"),
			in: [5]int{ok, refused, refused, refused, refused}, out: [5]int{ok, refused, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if outsiders[username] == strings.Contains(string(body), `"username": "zhang"`) {
					t.Errorf("%s: the token list is not the jurisdiction's: %s", username, body)
				}
				if strings.Contains(string(body), "rwt_") {
					t.Errorf("%s: the token list shows a secret: %s", username, body)
				}
			}},
		{pattern: "DELETE /api/v1/tokens/{id}", build: func(t *testing.T, f *fixture, _ string) request {
			return request{"DELETE", fmt.Sprintf("/api/v1/tokens/%d", f.token(t, "zhang")), ""}
		}, in: [5]int{noBody, refused, refused, refused, refused}, out: [5]int{notFound, refused, refused, refused, refused}},

		// The audit log: centre staff and administrators read their
		// jurisdiction's (another county's staff see nothing of ours); a
		// case's mediators read its story; leaders never.
		{pattern: "GET /api/v1/audit", name: "everything", build: get("/api/v1/audit"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused}},
		{pattern: "GET /api/v1/audit", name: "one case", build: func(_ *testing.T, f *fixture, _ string) request {
			return request{"GET", fmt.Sprintf("/api/v1/audit?case=%d", f.caseID), ""}
		}, in: [5]int{ok, ok, ok, notFound, refused}, out: [5]int{ok, ok, notFound, notFound, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				var log struct{ Entries []desk.AuditEntry }
				if err := json.Unmarshal(body, &log); err != nil {
					t.Fatal(err)
				}
				if got, want := len(log.Entries) > 0, !outsiders[username]; got != want {
					t.Errorf("%s: %d entries of the case, want some: %v", username, len(log.Entries), want)
				}
			}},
		// The notification log: centre staff and administrators, for the
		// desks of their jurisdiction (the seeded case's notice is 枫桥镇's).
		{pattern: "GET /api/v1/notifications", build: get("/api/v1/notifications"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if strings.Contains(string(body), "ROBOT-SECRET") {
					t.Errorf("%s: the log shows a robot's token: %s", username, body)
				}
				if !outsiders[username] && !strings.Contains(string(body), "新案件") {
					t.Errorf("%s: the log misses the seeded case's notice: %s", username, body)
				}
			}},
		{pattern: "GET /api/v1/figures", build: get("/api/v1/figures"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok}},
		{pattern: "GET /api/v1/figures/detectors", build: get("/api/v1/figures/detectors?step=day"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				var got struct{ Detectors []desk.DetectorFigure }
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				raised := 0
				for _, d := range got.Detectors {
					raised += d.Raised
				}
				// The other county has its one alert; ours has more (the
				// seeded ones and those the rows made).
				if outsiders[username] && raised != 1 || !outsiders[username] && raised < 2 {
					t.Errorf("%s: detector figures %s", username, body)
				}
			}},
		{pattern: "GET /api/v1/figures", name: "a period", build: get("/api/v1/figures?from=2024-03-04T00:00:00Z&to=2024-03-11T00:00:00Z"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				var got struct{ Period desk.PeriodFigures }
				if err := json.Unmarshal(body, &got); err != nil || got.Period.Region != f.users[username].Jurisdiction || got.Period.To.IsZero() {
					t.Errorf("%s: figures of a period %s: %v", username, body, err)
				}
			}},
		// Briefs: figures again, inside the jurisdiction, never a person;
		// the week of the seeded records holds each county's one call.
		{pattern: "GET /api/v1/briefs", name: "the jurisdiction", build: get("/api/v1/briefs?at=2024-03-04"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				var got brief.Brief
				if err := json.Unmarshal(body, &got); err != nil || len(got.Headline) == 0 {
					t.Fatalf("%s: brief %s: %v", username, body, err)
				}
				if got.Headline[0].Key != "matters" || got.Headline[0].Current != 1 || strings.Contains(string(body), "王") {
					t.Errorf("%s: brief %s; want one matter and no person", username, body)
				}
			}},
		{pattern: "GET /api/v1/briefs", name: "our township, printed", build: get("/api/v1/briefs?region=330681109&period=business&at=2024-03-04&format=html"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{refused, refused, refused, refused, refused}},
		// Stored briefs: those of regions inside the jurisdiction; our
		// county's week of 2024-03-04 is stored.
		{pattern: "GET /api/v1/briefs/stored", build: get("/api/v1/briefs/stored"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				var got struct{ Briefs []brief.Stored }
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("%s: stored briefs %s: %v", username, body, err)
				}
				want := 1
				if outsiders[username] {
					want = 0
				}
				if len(got.Briefs) != want || want == 1 && (got.Briefs[0].Region != ourCounty || got.Briefs[0].Matters != 1) {
					t.Errorf("%s: stored briefs %s; want %d", username, body, want)
				}
			}},
		{pattern: "GET /api/v1/briefs/stored/{region}/{kind}/{from}", build: get("/api/v1/briefs/stored/" + ourCounty + "/week/2024-03-04"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{refused, refused, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), "2024年第10周") || strings.Contains(string(body), "王") {
					t.Errorf("%s: stored brief %.300s; want the week's page, no person", username, body)
				}
			}},
		{pattern: "GET /api/v1/briefs/stored/{region}/{kind}/{from}", name: "never stored", build: get("/api/v1/briefs/stored/" + ourCounty + "/week/2024-02-26"),
			in: [5]int{notFound, notFound, refused, refused, notFound}, out: [5]int{refused, refused, refused, refused, refused}},
		// Matters: aggregates for the roles that read figures, inside their
		// jurisdiction; never a record or a person.
		{pattern: "GET /api/v1/matters/series", name: "the jurisdiction", build: get("/api/v1/matters/series?from=2024-03-01T00:00:00Z&to=2024-03-08T00:00:00Z"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), `"count": 1`) || strings.Contains(string(body), "王") {
					t.Errorf("%s: series %s; want one matter and no person", username, body)
				}
			}},
		{pattern: "GET /api/v1/matters/series", name: "our township", build: get("/api/v1/matters/series?region=330681109"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{refused, refused, refused, refused, refused}},
		{pattern: "GET /api/v1/matters/places", build: get("/api/v1/matters/places?level=village&from=2024-03-01T00:00:00Z&to=2024-03-08T00:00:00Z"),
			in: [5]int{ok, ok, refused, refused, ok}, out: [5]int{ok, ok, refused, refused, ok},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				want := `"place": "330681109201"`
				if outsiders[username] {
					want = `"place": "330682101201"`
				}
				if !strings.Contains(string(body), want) {
					t.Errorf("%s: places %s, want %s", username, body, want)
				}
			}},
		{pattern: "GET /api/v1/ingest/quarantine/reasons", build: get("/api/v1/ingest/quarantine/reasons"),
			in: [5]int{ok, ok, refused, refused, refused}, out: [5]int{ok, ok, refused, refused, refused},
			check: func(t *testing.T, _ *fixture, username string, body []byte) {
				if !strings.Contains(string(body), `updateTime \"…\": unparseable time`) {
					t.Errorf("%s: reasons %s", username, body)
				}
			}},
		// Everyone changes their own password (here to the same one); a
		// browser is signed in again, its other sessions end.
		{pattern: "POST /api/v1/me/password", build: func(*testing.T, *fixture, string) request {
			return request{"POST", "/api/v1/me/password", jsonOf(map[string]string{"old": password, "new": password})}
		}, in: [5]int{noBody, noBody, ok, ok, noBody}, out: [5]int{noBody, noBody, ok, ok, noBody},
			check: func(t *testing.T, f *fixture, username string, body []byte) {
				if f.users[username].Role == desk.RoleMediator {
					f.call(t, request{"GET", "/api/v1/me", ""}, f.as(username), http.StatusUnauthorized)
					f.signIn(t, username) // for the rows to come
				}
			}},
	}
}

// checkRecords checks an answer of records: the one wanted, masked, and
// never a linking key or a sealed contact.
func checkRecords(t *testing.T, username string, body []byte, want string) {
	t.Helper()
	var got struct{ Records []pipeline.Record }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || got.Records[0].ID != want || !slices.Equal(got.Records[0].Persons, []string{"王*国"}) {
		t.Errorf("%s: records %s, want %s with its caller masked", username, body, want)
	}
	for _, secret := range []string{"pk-wang", "sealed:"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("%s: the records carry %q: %s", username, secret, body)
		}
	}
}

// TestAuthorizationMatrix asks every route as every role, inside and
// outside the objects' jurisdiction, anonymously and with a forged token.
// A route without a row fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	f := setup(t)
	rows := matrix(f)

	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.pattern] = true
	}
	for _, p := range f.srv.Patterns() {
		if !covered[p] {
			t.Errorf("route %s has no row in the authorization matrix: add one", p)
		}
		delete(covered, p)
	}
	for p := range covered {
		t.Errorf("the matrix has a row for %s, which the server does not route", p)
	}

	for _, r := range rows {
		name := r.pattern
		if r.name != "" {
			name += " (" + r.name + ")"
		}
		t.Run(name, func(t *testing.T) {
			for i := range roles {
				for _, side := range []struct {
					who  string
					want int
				}{{inside[i], r.in[i]}, {outside[i], r.out[i]}} {
					rq := r.build(t, f, side.who)
					w := f.do(rq, f.as(side.who))
					where := "inside"
					if outsiders[side.who] {
						where = "outside"
					}
					what := fmt.Sprintf("%s %s (%s) %s", roles[i], where, side.who, rq)
					if w.Code != side.want {
						t.Errorf("%s: got %d, want %d; body %s", what, w.Code, side.want, w.Body)
					}
					checkAnswer(t, what, side.who, r.public, rq, w)
					if w.Code/100 == 2 && r.check != nil {
						r.check(t, f, side.who, w.Body.Bytes())
					}
				}
			}
			for _, anon := range []struct {
				name string
				auth auth
			}{{"anonymous", nil}, {"forged token", bearer("rwt_forged")}, {"not a bearer", func(r *http.Request) {
				f.as("admin")(r)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Bearer", "Basic", 1))
			}}} {
				want := http.StatusUnauthorized
				if r.public {
					want = r.in[0]
				}
				rq := r.build(t, f, "")
				w := f.do(rq, anon.auth)
				if w.Code != want {
					t.Errorf("%s %s: got %d, want %d; body %s", anon.name, rq, w.Code, want, w.Body)
				}
				if want == http.StatusUnauthorized && checkError(t, anon.name+" "+rq.String(), w) != "unauthenticated" {
					t.Errorf("%s %s: error %s, want code unauthenticated", anon.name, rq, w.Body)
				}
			}
		})
	}

	// Reveals: one, li's, and it is in the case's audit log.
	w := f.call(t, request{"GET", fmt.Sprintf("/api/v1/audit?case=%d", f.caseID), ""}, f.as("zhang"), ok)
	var reveals []string
	for _, e := range decodeBody[struct{ Entries []desk.AuditEntry }](t, w).Entries {
		if e.Action == "party.reveal" {
			reveals = append(reveals, e.Actor+" "+string(e.Detail))
		}
	}
	if len(reveals) != 1 || !strings.HasPrefix(reveals[0], "li ") || !strings.Contains(reveals[0], "pk-wang") {
		t.Errorf("reveals in the audit log: %q; want li's of pk-wang, once", reveals)
	}
}

// checkAnswer holds for every answer: errors have the JSON error body, the
// clear contact is only ever in a reveal, and nothing of our county reaches
// another county's people unless they sent it themselves (public answers,
// the same for everyone, aside).
func checkAnswer(t *testing.T, what, username string, public bool, rq request, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 400 {
		checkError(t, what, w)
	}
	body := w.Body.String()
	if strings.Contains(body, clearPhone) && !(strings.HasSuffix(rq.path, "/reveal") && w.Code == ok) {
		t.Errorf("%s: the clear phone number leaked: %s", what, body)
	}
	if strings.HasSuffix(rq.path, "/reveal") && w.Code == ok && w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("%s: a revealed contact may be cached: Cache-Control %q", what, w.Header().Get("Cache-Control"))
	}
	if outsiders[username] && !public && strings.Contains(body, ourCounty) && !strings.Contains(rq.path+rq.body, ourCounty) {
		t.Errorf("%s: another county's %s learns of ours: %s", username, rq, body)
	}
}

// TestEscalatedCaseStaysReadable: a case the reviewer sends up to the
// county stays readable at the township it came from, but no longer
// workable there; the county's mediator takes it.
func TestEscalatedCaseStaysReadable(t *testing.T) {
	f := setup(t)
	id, version := f.acceptedCase(t)
	w := f.call(t, request{"POST", fmt.Sprintf("/api/v1/cases/%d/actions", id), jsonOf(map[string]any{"action": "escalate", "version": version, "reason": "涉及多个乡镇"})},
		f.as("zhang"), ok)
	k := decodeBody[desk.Case](t, w)
	if k.Desk != "county" || k.Status != risk.CasePending {
		t.Fatalf("escalated case at %s, %s; want pending at the county", k.Desk, k.Status)
	}
	path := fmt.Sprintf("/api/v1/cases/%d", id)
	for _, c := range []struct {
		who  string
		want int
	}{{"li", ok}, {"sun", ok}, {"wang", notFound}, {"chen", refused}} {
		if w := f.do(request{"GET", path, ""}, f.as(c.who)); w.Code != c.want {
			t.Errorf("%s reading the escalated case: got %d, want %d; body %s", c.who, w.Code, c.want, w.Body)
		}
	}
	accept := request{"POST", path + "/actions", jsonOf(map[string]any{"action": "accept", "version": k.Version})}
	// li reads it, so it exists for him: a refusal, not a 404.
	if w := f.do(accept, f.as("li")); w.Code != refused {
		t.Errorf("li accepting at the county: got %d, want %d; body %s", w.Code, refused, w.Body)
	}
	if w := f.do(request{"POST", path + "/parties/pk-wang/reveal", ""}, f.as("li")); w.Code != refused {
		t.Errorf("li revealing a contact of a case no longer his: got %d, want %d; body %s", w.Code, refused, w.Body)
	}
	k = decodeBody[desk.Case](t, f.call(t, accept, f.as("sun"), ok))
	if k.Mediator != "sun" {
		t.Errorf("mediator %q after sun accepted, want sun", k.Mediator)
	}
}

// login signs a browser in and returns its session cookie and CSRF token.
func (f *fixture) login(t *testing.T, username string) (*http.Cookie, string) {
	t.Helper()
	w := f.call(t, request{"POST", "/api/v1/login", jsonOf(map[string]string{"username": username, "password": password})}, nil, ok)
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == "rw_session" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value == "" {
		t.Fatalf("login set no rw_session cookie: %q", w.Header().Values("Set-Cookie"))
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict", w.Header().Get("Set-Cookie"))
	}
	body := decodeBody[struct {
		User desk.User
		CSRF string
	}](t, w)
	if body.CSRF == "" || body.User.Username != username {
		t.Fatalf("login answered %s; want the user and a CSRF token", w.Body)
	}
	if strings.Contains(w.Body.String(), cookie.Value) {
		t.Errorf("the session token is in the body, where scripts read it")
	}
	return cookie, body.CSRF
}

func TestSessionsAndCSRF(t *testing.T) {
	f := setup(t)
	cookie, csrf := f.login(t, "li")

	t.Run("reading needs no CSRF token", func(t *testing.T) {
		w := f.call(t, request{"GET", "/api/v1/me", ""}, session(cookie, ""), ok)
		if got := decodeBody[struct{ CSRF string }](t, w).CSRF; got != csrf {
			t.Errorf("/me gave CSRF %q, want the session's %q", got, csrf)
		}
	})
	t.Run("writing needs the CSRF token", func(t *testing.T) {
		note := request{"POST", fmt.Sprintf("/api/v1/cases/%d/notes", f.caseID), `{"kind": "note", "body": "浏览器记录"}`}
		for _, c := range []struct {
			name, csrf string
			want       int
		}{{"without the header", "", refused}, {"with another token", "not-" + csrf, refused}, {"with the header", csrf, created}} {
			w := f.do(note, session(cookie, c.csrf))
			if w.Code != c.want {
				t.Errorf("%s: got %d, want %d; body %s", c.name, w.Code, c.want, w.Body)
			}
			if c.want == refused && checkError(t, c.name, w) != "forbidden" {
				t.Errorf("%s: error %s, want code forbidden", c.name, w.Body)
			}
		}
		k, err := f.Cases.Case(context.Background(), f.users["li"], f.caseID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(k.Notes); n != 1 {
			t.Errorf("%d notes written, want only the one with the token", n)
		}
	})
	t.Run("every unsafe method", func(t *testing.T) {
		admin, adminCSRF := f.login(t, "admin")
		d := desk.Desk{ID: "spare", Name: "备用调委会", Tier: risk.TierVillage, Region: "330681109900"}
		if _, err := f.Directory.SaveDesk(context.Background(), f.users["admin"], d); err != nil {
			t.Fatal(err)
		}
		del := request{"DELETE", "/api/v1/desks/spare", ""}
		f.call(t, del, session(admin, ""), refused)
		f.call(t, del, session(admin, adminCSRF), noBody)
	})
	t.Run("logout ends the session", func(t *testing.T) {
		if w := f.call(t, request{"POST", "/api/v1/logout", ""}, session(cookie, ""), refused); checkError(t, "logout without CSRF", w) != "forbidden" {
			t.Errorf("logout without the CSRF token: %s, want code forbidden", w.Body)
		}
		f.call(t, request{"GET", "/api/v1/me", ""}, session(cookie, ""), ok) // still signed in
		w := f.call(t, request{"POST", "/api/v1/logout", ""}, session(cookie, csrf), noBody)
		cleared := false
		for _, c := range w.Result().Cookies() {
			cleared = cleared || c.Name == "rw_session" && c.MaxAge < 0
		}
		if !cleared {
			t.Errorf("logout did not clear the cookie: %q", w.Header().Values("Set-Cookie"))
		}
		if w := f.call(t, request{"GET", "/api/v1/me", ""}, session(cookie, ""), http.StatusUnauthorized); checkError(t, "after logout", w) != "unauthenticated" {
			t.Errorf("after logout: %s, want code unauthenticated", w.Body)
		}
	})
	t.Run("a form posted by another site is not read", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader("username=zhou&password="+password))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		if w.Code != http.StatusUnsupportedMediaType || checkError(t, "form login", w) != "unsupported_media_type" || len(w.Result().Cookies()) != 0 {
			t.Errorf("form login: %d %s %q; want 415 unsupported_media_type and no cookie", w.Code, w.Body, w.Header().Values("Set-Cookie"))
		}
	})
	t.Run("wrong passwords, then a lock", func(t *testing.T) {
		wrong := request{"POST", "/api/v1/login", `{"username": "zhou", "password": "wrong password!"}`}
		for i := range 5 {
			w := f.call(t, wrong, nil, http.StatusUnauthorized)
			if code := checkError(t, "wrong password", w); code != "unauthenticated" {
				t.Errorf("failure %d: code %q, want unauthenticated", i+1, code)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Errorf("failure %d set a cookie", i+1)
			}
		}
		right := request{"POST", "/api/v1/login", jsonOf(map[string]string{"username": "zhou", "password": password})}
		if code := checkError(t, "locked", f.call(t, right, nil, http.StatusTooManyRequests)); code != "locked" {
			t.Errorf("after five failures: code %q, want locked", code)
		}
		f.call(t, request{"POST", "/api/v1/login", `{"username": "nobody", "password": "whatever it is"}`}, nil, http.StatusUnauthorized)
	})
}

// TestConcurrentActionsConflict: two mediators accept the same version of
// a case at once; one wins, the other is told to reload, and the winner's
// change stands.
func TestConcurrentActionsConflict(t *testing.T) {
	f := setup(t)
	for round := range 5 {
		k := f.pendingCase(t)
		accept := request{"POST", fmt.Sprintf("/api/v1/cases/%d/actions", k.ID), jsonOf(map[string]any{"action": "accept", "version": k.Version})}
		who := []string{"li", "zhou"}
		answers := make([]*httptest.ResponseRecorder, len(who))
		var wg sync.WaitGroup
		for i, u := range who {
			wg.Go(func() { answers[i] = f.do(accept, f.as(u)) })
		}
		wg.Wait()
		winner := ""
		var conflicts int
		for i, w := range answers {
			switch w.Code {
			case ok:
				winner = who[i]
			case http.StatusConflict:
				conflicts++
				if code := checkError(t, "conflict", w); code != "conflict" {
					t.Errorf("round %d: code %q, want conflict", round, code)
				}
			default:
				t.Errorf("round %d: %s got %d; body %s", round, who[i], w.Code, w.Body)
			}
		}
		if winner == "" || conflicts != 1 {
			t.Fatalf("round %d: answers %d and %d; want one 200 and one 409", round, answers[0].Code, answers[1].Code)
		}
		got := decodeBody[desk.Case](t, f.call(t, request{"GET", fmt.Sprintf("/api/v1/cases/%d", k.ID), ""}, f.as("zhang"), ok))
		if got.Mediator != winner || got.Status != risk.CaseAccepted || got.Version != k.Version+1 {
			t.Errorf("round %d: case %s by %q at version %d; want accepted by %s at version %d", round, got.Status, got.Mediator, got.Version, winner, k.Version+1)
		}
	}
}

func TestErrors(t *testing.T) {
	f := setup(t)
	t.Run("a failing store does not leak its text", func(t *testing.T) {
		f.stats.fail(errors.New("dial tcp 127.0.0.1:19000: connect: connection refused"))
		defer f.stats.fail(nil)
		w := f.call(t, request{"GET", "/api/v1/ingest/stats", ""}, f.as("admin"), http.StatusServiceUnavailable)
		if code := checkError(t, "stats", w); code != "unavailable" {
			t.Errorf("code %q, want unavailable", code)
		}
		if strings.Contains(w.Body.String(), "19000") || strings.Contains(w.Body.String(), "refused") {
			t.Errorf("the 503 leaks the driver's message: %s", w.Body)
		}
	})
	t.Run("reload without a directory file", func(t *testing.T) {
		deps := f.deps
		deps.Reload = nil
		srv := console.NewServer(deps, 30*time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/api/v1/desks/reload", nil)
		f.as("admin")(r)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest || checkError(t, "reload", w) != "invalid" {
			t.Errorf("reload without -desks: got %d %s, want 400 invalid", w.Code, w.Body)
		}
	})
	for _, c := range []struct {
		name string
		rq   request
		want int
		code string
	}{
		{"bad JSON", request{"POST", "/api/v1/route-preview", `{"region": `}, http.StatusBadRequest, "invalid"},
		{"unknown field", request{"POST", "/api/v1/route-preview", `{"region": "330681109201", "level": "orange", "detector": "collective", "desk": "fengqiao"}`}, http.StatusBadRequest, "invalid"},
		{"body over 1 MiB", request{"POST", "/api/v1/route-preview", `{"detector": "` + strings.Repeat("x", 1<<20) + `"}`}, http.StatusBadRequest, "invalid"},
		{"no body where one is needed", request{"POST", "/api/v1/alerts/" + f.openAlert + "/dismiss", ""}, http.StatusBadRequest, "invalid"},
		{"bad dismiss reason", request{"POST", "/api/v1/alerts/" + f.openAlert + "/dismiss", `{"reason": "bored"}`}, http.StatusBadRequest, "invalid"},
		{"id not a number", request{"GET", "/api/v1/cases/abc", ""}, http.StatusBadRequest, "invalid"},
		{"no such case", request{"GET", "/api/v1/cases/999999", ""}, http.StatusNotFound, "not_found"},
		{"no such alert", request{"GET", "/api/v1/alerts/no-such-alert", ""}, http.StatusNotFound, "not_found"},
		{"bad time filter", request{"GET", "/api/v1/alerts?from=yesterday", ""}, http.StatusBadRequest, "invalid"},
		{"bad cursor", request{"GET", "/api/v1/alerts?cursor=no-such-key", ""}, http.StatusBadRequest, "invalid"},
		{"already confirmed", request{"POST", fmt.Sprintf("/api/v1/alerts/%s/confirm", f.confirmedAlert(t)), ""}, http.StatusConflict, "conflict"},
		{"stale version", request{"POST", fmt.Sprintf("/api/v1/cases/%d/actions", f.caseID), `{"action": "start", "version": 0}`}, http.StatusConflict, "conflict"},
		// A misspelt path is an error of the API like any other: JSON.
		{"unrouted path", request{"GET", "/api/v1/nothing-here", ""}, http.StatusNotFound, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			who := "zhang"
			if strings.Contains(c.rq.path, "/actions") {
				who = "li"
			}
			w := f.do(c.rq, f.as(who))
			if w.Code != c.want {
				t.Fatalf("%s: got %d, want %d; body %.300s", c.rq, w.Code, c.want, w.Body)
			}
			if c.code != "" {
				if code := checkError(t, c.rq.String(), w); code != c.code {
					t.Errorf("%s: code %q, want %q", c.rq, code, c.code)
				}
			}
		})
	}
}

// confirmedAlert is an alert a reviewer has already confirmed.
func (f *fixture) confirmedAlert(t *testing.T) string {
	t.Helper()
	key := f.alert(t, "330681109201")
	if _, err := f.Review.Confirm(context.Background(), f.users["zhang"], key, "", ""); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestHealthMetricsAndSpec(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		path, contentType, contains string
	}{
		{"/healthz", "", "ok"},
		{"/metrics", "text/plain", ""},
		{"/api/v1/openapi.yaml", "application/yaml", "openapi"},
	} {
		w := f.call(t, request{"GET", c.path, ""}, nil, ok)
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("%s: Content-Type %q, want %s", c.path, ct, c.contentType)
		}
		if !strings.Contains(w.Body.String(), c.contains) {
			t.Errorf("%s: body %.200q, want %q in it", c.path, w.Body, c.contains)
		}
	}
}

// TestConfirmToDeskAndOutcome: a reviewer confirms to a chosen desk through
// the API (one outside their jurisdiction is refused), and an outcome sent
// against a stale version is a conflict.
func TestConfirmToDeskAndOutcome(t *testing.T) {
	f := setup(t)
	key := f.alert(t, "330681109201")
	confirm := func(desk string) request {
		return request{"POST", "/api/v1/alerts/" + key + "/confirm", jsonOf(map[string]string{"desk": desk, "note": "涉及多个乡镇"})}
	}
	f.call(t, confirm("shangyu"), f.as("zhang"), refused) // the other county's centre
	f.call(t, confirm("nowhere"), f.as("zhang"), http.StatusBadRequest)
	k := decodeBody[desk.Case](t, f.call(t, confirm("county"), f.as("zhang"), created))
	if k.Desk != "county" {
		t.Errorf("case at %s, want the chosen county desk", k.Desk)
	}

	id, version := f.acceptedCase(t)
	started, err := f.Cases.Act(context.Background(), f.users["li"], id, version, risk.ActStart, "")
	if err != nil {
		t.Fatal(err)
	}
	outcome := func(v int) request {
		return request{"PUT", fmt.Sprintf("/api/v1/cases/%d/outcome", id), jsonOf(map[string]any{"version": v, "agreement": "一次付清", "amount": 800})}
	}
	f.call(t, outcome(started.Version-1), f.as("li"), http.StatusConflict)
	got := decodeBody[desk.Case](t, f.call(t, outcome(started.Version), f.as("li"), ok))
	if got.Outcome == nil || got.Outcome.Amount != 800 {
		t.Errorf("outcome %+v, want 800 yuan", got.Outcome)
	}
	f.call(t, outcome(started.Version), f.as("li"), http.StatusConflict) // the same version again: stale now
}

// TestReadyz: ready while the stores answer; 503 naming what does not — a
// broker nobody listens on — while /healthz stays ok.
func TestReadyz(t *testing.T) {
	f := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	deps := f.deps
	deps.Ready = map[string]func(context.Context) error{
		"postgres":   f.pool.Ping,
		"clickhouse": f.conn.Ping,
	}
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		console.NewServer(deps, time.Minute, nil, slog.New(slog.DiscardHandler)).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	if code, body := get("/readyz"); code != http.StatusOK || body != "clickhouse ok\npostgres ok\n" {
		t.Errorf("/readyz with the stores up: %d %q", code, body)
	}
	deps.Ready["kafka"] = func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", gone)
		if err == nil {
			c.Close()
		}
		return err
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || body != "clickhouse ok\nkafka failing\npostgres ok\n" {
		t.Errorf("/readyz with the broker away: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the broker away: %d, want 200 (alive)", code)
	}
}

// TestSessionCookieSecure: the session cookie is Secure over TLS, behind a
// TLS proxy and on loopback, and not on plain HTTP to a LAN address, where
// a browser would drop a Secure cookie and nobody could sign in.
func TestSessionCookieSecure(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		url, proto string
		want       bool
	}{
		{"https://riskwatch.example/api/v1/login", "", true},
		{"http://10.0.0.5:8080/api/v1/login", "https", true},
		{"http://127.0.0.1:8080/api/v1/login", "", true},
		{"http://localhost:8080/api/v1/login", "", true},
		{"http://10.0.0.5:8080/api/v1/login", "", false},
	} {
		r := httptest.NewRequest("POST", c.url, strings.NewReader(jsonOf(map[string]string{"username": "zhang", "password": password})))
		r.Header.Set("Content-Type", "application/json")
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		var got *http.Cookie
		for _, k := range w.Result().Cookies() {
			if k.Name == "rw_session" {
				got = k
			}
		}
		if w.Code != ok || got == nil || got.Secure != c.want || !got.HttpOnly {
			t.Errorf("login at %s (X-Forwarded-Proto %q): %d, cookie %+v; want Secure %v", c.url, c.proto, w.Code, got, c.want)
		}
	}
}
