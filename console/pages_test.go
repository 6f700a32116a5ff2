package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// browser is a person at the console: it keeps the cookies the server sets
// (by hand: a cookie jar would not send Secure cookies over plain http).
type browser struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
}

func (f *fixture) browser(t testing.TB) *browser {
	return &browser{t: t, h: f.srv, cookies: map[string]*http.Cookie{}}
}

// do sends a request with the browser's cookies; form != nil posts it.
func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder { return b.do("GET", path, nil) }

// post sends a form with the CSRF token of the page the browser last saw.
func (b *browser) post(path, csrf string, form url.Values) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", csrf)
	return b.do("POST", path, form)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`)

// csrf is the CSRF token a page carries.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	w := b.get(page)
	m := csrfMeta.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.t.Fatalf("GET %s: no csrf meta; status %d", page, w.Code)
	}
	return m[1]
}

// login signs in through the login form and returns the landing page's path.
func (b *browser) login(username, next string) string {
	b.t.Helper()
	w := b.get("/login?next=" + url.QueryEscape(next))
	m := csrfMeta.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.t.Fatalf("login page has no csrf token: %s", w.Body)
	}
	w = b.do("POST", "/login", url.Values{"_csrf": {m[1]}, "username": {username}, "password": {password}, "next": {next}})
	if w.Code != http.StatusSeeOther {
		b.t.Fatalf("login as %s: got %d, want 303; body %s", username, w.Code, w.Body)
	}
	return w.Header().Get("Location")
}

func TestPageLogin(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	w := b.get("/account?tab=1")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape("/account?tab=1") {
		t.Fatalf("logged out /queue: got %d %q, want 303 to /login?next=", w.Code, w.Header().Get("Location"))
	}
	if got := b.login("zhang", "/account?tab=1"); got != "/account?tab=1" {
		t.Errorf("after login: got %q, want back at /account?tab=1", got)
	}
	if got := f.browser(t).login("li", "https://evil.example/"); got != "/inbox" {
		t.Errorf("login with a foreign next: got %q, want /inbox", got)
	}
	if got := f.browser(t).login("chen", "//evil.example/x"); got != "/dashboard" {
		t.Errorf("login with a protocol-relative next: got %q, want /dashboard", got)
	}

	// The login form needs its pre-session token.
	w = f.browser(t).do("POST", "/login", url.Values{"username": {"zhang"}, "password": {password}})
	if w.Code != http.StatusForbidden || w.Result().Header.Get("Set-Cookie") == "" || strings.Contains(strings.Join(w.Result().Header.Values("Set-Cookie"), ";"), "rw_session=") {
		t.Errorf("login without its token: got %d, want 403 and no session", w.Code)
	}
	// A wrong password says so on the form.
	lb := f.browser(t)
	page := lb.get("/login")
	token := csrfMeta.FindStringSubmatch(page.Body.String())[1]
	w = lb.do("POST", "/login", url.Values{"_csrf": {token}, "username": {"zhang"}, "password": {"wrong password!"}})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `class="error"`) {
		t.Errorf("wrong password: got %d, want 401 with .error", w.Code)
	}

	// Logout needs the session's token, then ends the session.
	csrf := b.csrf("/account")
	if w := b.post("/logout", "wrong", nil); w.Code != http.StatusForbidden {
		t.Errorf("logout without the token: got %d, want 403", w.Code)
	}
	if w := b.post("/logout", csrf, nil); w.Code != http.StatusSeeOther {
		t.Errorf("logout: got %d, want 303", w.Code)
	}
	if w := b.get("/account"); w.Code != http.StatusSeeOther {
		t.Errorf("after logout: got %d, want 303 to login", w.Code)
	}
}

// inlineCode finds what the CSP would refuse: a style attribute, an inline
// script, an event handler attribute.
var inlineCode = regexp.MustCompile(`<[a-z][^>]*\s(style|on[a-z]+)=|<script>|<script [^s]`)

// checkPageHeaders checks the headers every page must carry, and that the
// page has nothing inline for the CSP to refuse.
func checkPageHeaders(t *testing.T, path string, w *httptest.ResponseRecorder) {
	t.Helper()
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: Content-Security-Policy allows inline code: %q", path, csp)
	}
	if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options = %q, want DENY", path, got)
	}
	if got := w.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy = %q, want no-referrer", path, got)
	}
	body := w.Body.String()
	if inlineCode.MatchString(body) {
		t.Errorf("%s: inline style, script or handler in the page", path)
	}
}

func TestPageQueue(t *testing.T) {
	f := setup(t)
	evil := f.alert(t, "330681109201")
	if _, err := f.pool.Exec(t.Context(), `UPDATE alerts SET summary = $2, level = 'red' WHERE key = $1`, evil, `<script>alert(1)</script><img src=x onerror=alert(2)>`); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login("zhang", "/queue")
	w := b.get("/queue")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /queue: got %d; body %s", w.Code, w.Body)
	}
	checkPageHeaders(t, "/queue", w)
	body := w.Body.String()
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
		t.Errorf("the summary is not escaped")
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the summary is not shown as text")
	}
	rows := regexp.MustCompile(`<tr class="alert" data-key="([^"]+)" data-level="([a-z]+)"`).FindAllStringSubmatch(body, -1)
	if len(rows) != 2 || rows[0][1] != evil || rows[0][2] != "red" {
		t.Errorf("rows %v: want the red alert first of two (the other county's is not ours)", rows)
	}
	if !regexp.MustCompile(`data-level="red">1<`).MatchString(body) || !regexp.MustCompile(`data-level="orange">1<`).MatchString(body) {
		t.Errorf("counts per level missing")
	}
	w = b.get("/queue/rows?level=orange")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), evil) || !strings.Contains(w.Body.String(), f.openAlert) {
		t.Errorf("GET /queue/rows?level=orange: got %d, want only the orange alert", w.Code)
	}

	// A leader never sees an alert.
	lb := f.browser(t)
	lb.login("chen", "/")
	if w := lb.get("/queue"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="refused"`) {
		t.Errorf("leader GET /queue: got %d, want 403 #refused", w.Code)
	}
	if w := lb.get("/alerts/" + evil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="refused"`) {
		t.Errorf("leader GET /alerts/KEY: got %d, want 403 #refused", w.Code)
	}
}

func TestPageCase(t *testing.T) {
	f := setup(t)
	path := fmt.Sprintf("/cases/%d", f.caseID)

	// wang is the village's mediator: 枫桥镇's case is not his.
	wb := f.browser(t)
	wb.login("wang", "/")
	if w := wb.get(path); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `id="refused"`) {
		t.Errorf("another desk's mediator GET %s: got %d, want the refusal page", path, w.Code)
	}

	b := f.browser(t)
	b.login("li", "/")
	w := b.get("/inbox")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), fmt.Sprintf(`<tr class="case" data-id="%d"`, f.caseID)) {
		t.Fatalf("li's inbox: got %d, want the case; body %s", w.Code, w.Body)
	}
	checkPageHeaders(t, "/inbox", w)
	w = b.get(path)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: got %d", path, w.Code)
	}
	checkPageHeaders(t, path, w)
	body := w.Body.String()
	if !strings.Contains(body, `<dd id="status">已受理</dd>`) {
		t.Errorf("status missing")
	}
	for _, want := range []string{"<dd>群体性风险</dd>", `data-key="pk-wang">来电人 · 王*国`} {
		if !strings.Contains(body, want) {
			t.Errorf("the case page does not say %s", want)
		}
	}
	for _, want := range []string{`value="start"`, `value="refer"`, `value="escalate"`} {
		if !strings.Contains(body, want) {
			t.Errorf("accepted case: no %s button", want)
		}
	}
	if strings.Contains(body, `value="settle"`) || strings.Contains(body, `value="accept"`) {
		t.Errorf("accepted case offers a move the state machine refuses")
	}
	if strings.Contains(body, clearPhone) {
		t.Errorf("the clear phone is on the page before a reveal")
	}
	csrf := csrfMeta.FindStringSubmatch(body)[1]
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(body)[1]
	key := regexp.MustCompile(`<li class="party" data-key="([^"]+)"`).FindStringSubmatch(body)

	// Without its token a change is refused.
	if w := b.do("POST", path+"/act", url.Values{"action": {"start"}, "version": {version}}); w.Code != http.StatusForbidden {
		t.Errorf("POST without _csrf: got %d, want 403", w.Code)
	}
	if key != nil {
		w = b.post(path+"/reveal", csrf, url.Values{"key": {key[1]}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `class="contact"`) || !strings.Contains(w.Body.String(), clearPhone) {
			t.Errorf("reveal: got %d, want the contact in .contact", w.Code)
		}
	} else {
		t.Error("the case has no party")
	}
	if w := b.post(path+"/note", csrf, url.Values{"kind": {"contact"}, "body": {"电话联系<b>当事人</b>"}}); w.Code != http.StatusSeeOther {
		t.Errorf("note: got %d, want 303", w.Code)
	}
	if w := b.post(path+"/act", csrf, url.Values{"action": {"start"}, "version": {version}}); w.Code != http.StatusSeeOther {
		t.Errorf("start: got %d, want 303; body %s", w.Code, w.Body)
	}
	// The same version again is stale: the page shows the case as it is now.
	w = b.post(path+"/act", csrf, url.Values{"action": {"refer"}, "version": {version}})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `id="conflict"`) || !strings.Contains(w.Body.String(), `<dd id="status">调解中</dd>`) {
		t.Errorf("stale version: got %d, want 409 with #conflict and the status now", w.Code)
	}
	w = b.get(path)
	if !strings.Contains(w.Body.String(), "电话联系&lt;b&gt;当事人&lt;/b&gt;") {
		t.Errorf("the note is not shown escaped")
	}
	if w := b.post(path+"/act", csrf, url.Values{"action": {"escalate"}, "version": {version}}); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), "rw_flash") {
		t.Errorf("escalate without a reason: got %d, want 303 with a message", w.Code)
	}
}

func TestPageDashboard(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	if got := b.login("chen", "/"); got != "/dashboard" {
		t.Errorf("leader's home: got %q, want /dashboard", got)
	}
	w := b.get("/dashboard")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /dashboard: got %d; body %s", w.Code, w.Body)
	}
	checkPageHeaders(t, "/dashboard", w)
	body := w.Body.String()
	// This week's matters count (the seeded records are from 2024: outside).
	now := time.Now()
	fresh := pipeline.Stored{Event: risk.Event{Source: risk.SourceGrid, ID: "G-now", UpdatedAt: now, OccurredAt: now,
		Region: risk.Region{Code: "330681109201"}, Category: "邻里纠纷", Status: risk.StatusOpen, HeadCount: -1, PetitionerCount: -1, Amount: -1}}
	if err := pipeline.NewEventWriter(f.conn).WriteEvents(context.Background(), []pipeline.Stored{fresh}); err != nil {
		t.Fatal(err)
	}
	w = b.get("/dashboard")
	body = w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET /dashboard: got %d; body %s", w.Code, body)
	}
	if !regexp.MustCompile(`<td>网格</td><td>邻里纠纷</td>(<td class="num">0</td>){7}<td class="num">1</td><td class="num">1</td>`).MatchString(body) {
		t.Errorf("the dashboard's eight weeks do not end with this week's grid matter")
	}
	if !strings.Contains(body, "<li>330681109 · 1</li>") || !strings.Contains(body, "<li>330681109201 · 1</li>") {
		t.Errorf("the township and village of this week's matter are not ranked")
	}
	for _, want := range []string{`id="settled-first"`, `id="overdue"`, "<svg"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	// The last week's brief, one click away, opens with the leader's session.
	if !strings.Contains(body, `href="/api/v1/briefs?period=week&amp;format=html"`) {
		t.Errorf("the dashboard does not link the last week's brief")
	} else if w := b.get("/api/v1/briefs?period=week&format=html"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "社会矛盾纠纷态势简报") {
		t.Errorf("the dashboard's brief: got %d %.200s", w.Code, w.Body)
	}
	// Aggregates only: no party, no summary, no case title, no mediator.
	for _, never := range []string{"王", "2345", "测试预警", "pk-wang", ">li<", f.openAlert} {
		if strings.Contains(body, never) {
			t.Errorf("the leader's dashboard shows %q", never)
		}
	}
	for _, path := range []string{"/inbox", "/cases/1", "/figures", "/admin/users"} {
		if w := b.get(path); w.Code != http.StatusForbidden && w.Code != http.StatusNotFound {
			t.Errorf("leader GET %s: got %d, want a refusal", path, w.Code)
		} else if !strings.Contains(w.Body.String(), `id="refused"`) {
			t.Errorf("leader GET %s: no #refused", path)
		}
	}
}

// TestPageBriefs: a leader goes from the dashboard to the stored briefs
// and opens one as it was printed; a mediator reads none.
func TestPageBriefs(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login("chen", "/")
	if !strings.Contains(b.get("/dashboard").Body.String(), `href="/briefs"`) {
		t.Errorf("the dashboard does not link the stored briefs")
	}
	w := b.get("/briefs")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /briefs: got %d; body %s", w.Code, w.Body)
	}
	checkPageHeaders(t, "/briefs", w)
	// The setup stored our county's week of 2024-03-04, one matter in it.
	row := regexp.MustCompile(`<tr data-region="330681" data-kind="week"><td>[^<]*</td><td><a href="(/api/v1/briefs/stored/330681/week/2024-03-04)">2024年第10周（3月4日—3月10日）</a></td><td class="num">1</td>`).FindStringSubmatch(w.Body.String())
	if row == nil {
		t.Fatalf("/briefs does not list the stored week:\n%s", w.Body)
	}
	w = b.get(row[1])
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "社会矛盾纠纷态势简报") || !strings.Contains(w.Body.String(), "2024年第10周") {
		t.Errorf("opening the stored brief: got %d %.300s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("the stored brief's CSP %q lets things be fetched", csp)
	}
	// Another county's leader sees none of ours.
	lu := f.browser(t)
	lu.login("lu", "/")
	if w := lu.get("/briefs"); w.Code != http.StatusOK || strings.Contains(w.Body.String(), "330681") || !strings.Contains(w.Body.String(), `id="no-briefs"`) {
		t.Errorf("another county's leader: got %d, want an empty list", w.Code)
	}
	li := f.browser(t)
	li.login("li", "/")
	if w := li.get("/briefs"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="refused"`) {
		t.Errorf("mediator GET /briefs: got %d, want 403 #refused", w.Code)
	}
}

// TestPagesHeaders opens every page as whoever may: each answers, carries
// the CSP and the other headers, and has nothing inline.
func TestPagesHeaders(t *testing.T) {
	f := setup(t)
	pages := map[string][]string{
		"zhang": {"/queue", "/queue/rows", "/alerts/" + f.openAlert, "/inbox", fmt.Sprintf("/cases/%d", f.caseID), "/dashboard", "/figures", "/account"},
		"admin": {"/queue", "/admin/desks", "/admin/users", "/admin/detectors", "/admin/pipeline", "/dashboard", "/figures"},
		"li":    {"/inbox", fmt.Sprintf("/cases/%d", f.caseID), "/account"},
		"chen":  {"/dashboard", "/briefs", "/account"},
	}
	for name, paths := range pages {
		b := f.browser(t)
		b.login(name, "/")
		for _, p := range paths {
			w := b.get(p)
			if w.Code != http.StatusOK {
				t.Errorf("%s GET %s: got %d, want 200; body %s", name, p, w.Code, w.Body)
				continue
			}
			checkPageHeaders(t, p, w)
		}
	}
	anon := f.browser(t)
	for _, p := range []string{"/login", "/nowhere", "/static/console.css", "/static/console.js"} {
		w := anon.get(p)
		checkPageHeaders(t, p, w)
	}
	if w := anon.get("/nowhere"); w.Code != http.StatusNotFound {
		t.Errorf("GET /nowhere: got %d, want 404", w.Code)
	}
	if w := anon.get("/api/v1/nowhere"); w.Code != http.StatusNotFound || !strings.Contains(w.Header().Get("Content-Type"), "json") {
		t.Errorf("GET /api/v1/nowhere: got %d %s, want a JSON 404", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestPageAdmin(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login("admin", "/")
	w := b.get("/admin/desks")
	if strings.Contains(w.Body.String(), "ROBOT-SECRET") || !strings.Contains(w.Body.String(), "oapi.dingtalk.com") {
		t.Errorf("desks page: the robot's access token must never show, its host must")
	}
	csrf := b.csrf("/admin/users")
	id := f.users["zhang"].ID
	w = b.post(fmt.Sprintf("/admin/users/%d/tokens", id), csrf, url.Values{"name": {"对接"}, "days": {"30"}})
	m := regexp.MustCompile(`<p class="token">(rwt_[^<]+)</p>`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		t.Fatalf("token create: got %d, want the token on the page", w.Code)
	}
	if strings.Contains(b.get("/admin/users").Body.String(), m[1]) {
		t.Errorf("the token is shown again")
	}
	if w := b.post("/admin/users", "", url.Values{"username": {"newbie"}, "role": {"leader"}, "jurisdiction": {"330681"}, "password": {password}}); w.Code != http.StatusForbidden {
		t.Errorf("add user without _csrf: got %d, want 403", w.Code)
	}
	if w := b.post("/admin/users", csrf, url.Values{"username": {"newbie"}, "role": {"leader"}, "jurisdiction": {"330681"}, "password": {password}}); w.Code != http.StatusSeeOther {
		t.Errorf("add user: got %d, want 303", w.Code)
	}
	if !strings.Contains(b.get("/admin/users").Body.String(), ">newbie<") {
		t.Errorf("the new user is not listed")
	}
	// A reviewer is no administrator.
	rb := f.browser(t)
	rb.login("zhang", "/")
	for _, p := range []string{"/admin", "/admin/users", "/admin/pipeline"} {
		if w := rb.get(p); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="refused"`) {
			t.Errorf("reviewer GET %s: got %d, want 403 #refused", p, w.Code)
		}
	}
}

func TestPageCaseAssignAndClock(t *testing.T) {
	f := setup(t)
	path := fmt.Sprintf("/cases/%d", f.caseID)
	version := regexp.MustCompile(`name="version" value="(\d+)"`)

	li := f.browser(t)
	li.login("li", "/")
	if body := li.get(path).Body.String(); strings.Contains(body, `id="assign"`) {
		t.Errorf("li, a member of 枫桥镇 and not its head, is offered the assign form")
	}

	// zhao heads the desk: he hands the case to zhou.
	zhao := f.browser(t)
	zhao.login("zhao", "/")
	body := zhao.get(path).Body.String()
	if !regexp.MustCompile(`id="assign"[\s\S]*<option value="li" selected>li</option><option value="zhou">zhou</option><option value="ma">ma</option>`).MatchString(body) {
		t.Fatalf("the desk's head is not offered its three members, li selected")
	}
	w := zhao.post(path+"/assign", csrfMeta.FindStringSubmatch(body)[1], url.Values{"mediator": {"zhou"}, "version": {version.FindStringSubmatch(body)[1]}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("assign: got %d; body %s", w.Code, w.Body)
	}
	if body := zhao.get(path).Body.String(); !strings.Contains(body, "<dt>调解员</dt><dd>zhou</dd>") {
		t.Errorf("after assigning, the case's mediator is not zhou")
	}

	zhou := f.browser(t)
	zhou.login("zhou", "/")
	body = zhou.get(path).Body.String()
	csrf := csrfMeta.FindStringSubmatch(body)[1]
	v := version.FindStringSubmatch(body)[1]
	if w := zhou.post(path+"/clock", csrf, url.Values{"pause": {"1"}, "why": {"  "}, "version": {v}}); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), "rw_flash") {
		t.Errorf("pause without saying what for: got %d, want 303 with a message", w.Code)
	}
	if w := zhou.post(path+"/clock", csrf, url.Values{"pause": {"1"}, "why": {"等待伤残鉴定"}, "version": {v}}); w.Code != http.StatusSeeOther {
		t.Fatalf("pause: got %d; body %s", w.Code, w.Body)
	}
	body = zhou.get(path).Body.String()
	if !strings.Contains(body, "（暂停计时）") || !strings.Contains(body, "暂停计时：等待伤残鉴定") || !strings.Contains(body, `value="0" class="secondary">恢复计时`) {
		t.Errorf("a paused case does not say so, with its reason and a resume button")
	}
	if w := zhou.post(path+"/clock", csrf, url.Values{"pause": {"0"}, "version": {version.FindStringSubmatch(body)[1]}}); w.Code != http.StatusSeeOther {
		t.Fatalf("resume: got %d; body %s", w.Code, w.Body)
	}
	if body := zhou.get(path).Body.String(); strings.Contains(body, "（暂停计时）") {
		t.Errorf("a resumed case still says it is paused")
	}
}

func TestPageAdminDeskEdit(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	b := f.browser(t)
	b.login("admin", "/")
	w := b.get("/admin/desks/fengqiao")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `name="members" value="li、zhou、ma"`) || !strings.Contains(body, `name="keep0" value="1" checked> 保留 dingtalk · oapi.dingtalk.com`) {
		t.Fatalf("GET /admin/desks/fengqiao: got %d, want the form with the members and the robot by host; body %s", w.Code, body)
	}
	if strings.Contains(body, "ROBOT-SECRET") {
		t.Errorf("the edit form shows the robot's access token")
	}
	csrf := csrfMeta.FindStringSubmatch(body)[1]
	form := url.Values{"name": {"枫桥镇综治中心"}, "tier": {"township"}, "region": {"330681109"}, "members": {"li, zhou、ma，zhao"}, "heads": {"zhao"},
		"hours": {"08:30-17:30"}, "keep0": {"1"}, "robot_kind": {"dingtalk"}, "robot_url": {"https://oapi.dingtalk.com/robot/send?access_token=NEW-TOKEN"}, "robot_secret": {"SEC-NEW"}}
	if w := b.post("/admin/desks/fengqiao", csrf, form); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/desks" {
		t.Fatalf("save: got %d to %q; body %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	stored := func() desk.Desk {
		desks, err := f.Directory.DesksFor(ctx, f.users["admin"])
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range desks {
			if d.ID == "fengqiao" {
				return d
			}
		}
		t.Fatal("fengqiao is gone")
		return desk.Desk{}
	}
	d := stored()
	if strings.Join(d.Members, ",") != "li,zhou,ma,zhao" || d.Hours != "08:30-17:30" || len(d.Webhooks) != 2 ||
		!strings.HasSuffix(d.Webhooks[0].URL, "ROBOT-SECRET") || d.Webhooks[1].Secret != "SEC-NEW" {
		t.Fatalf("after the edit: members %v, hours %q, %d robots; want 4 members, the hours, the old robot and the new one with its secret", d.Members, d.Hours, len(d.Webhooks))
	}
	body = b.get("/admin/desks/fengqiao").Body.String()
	if strings.Contains(body, "SEC-NEW") || strings.Contains(body, "NEW-TOKEN") || !strings.Contains(body, "已设加签密钥") {
		t.Errorf("the form shows a robot's token or secret, or not that a secret is set")
	}
	// Dropping the first robot keeps the second one's secret, never sent back.
	delete(form, "keep0")
	form.Set("keep1", "1")
	form.Del("robot_url")
	if w := b.post("/admin/desks/fengqiao", csrf, form); w.Code != http.StatusSeeOther {
		t.Fatalf("second save: got %d", w.Code)
	}
	if d := stored(); len(d.Webhooks) != 1 || d.Webhooks[0].Secret != "SEC-NEW" || !strings.HasSuffix(d.Webhooks[0].URL, "NEW-TOKEN") {
		t.Errorf("after dropping the first robot: %d robots; want the second with its secret", len(d.Webhooks))
	}
	// A bad region is refused with the reason, and nothing changes.
	form.Set("region", "33068")
	if w := b.post("/admin/desks/fengqiao", csrf, form); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), "rw_flash") {
		t.Errorf("a five-digit region: got %d, want 303 with a message", w.Code)
	}
	if d := stored(); d.Region != "330681109" {
		t.Errorf("a refused edit changed the region to %s", d.Region)
	}
	// A new desk.
	nb := b.get("/admin/desks/new").Body.String()
	if !strings.Contains(nb, `name="id" required`) {
		t.Fatalf("the new-desk form asks for no id")
	}
	nf := url.Values{"id": {"zhaojia"}, "name": {"赵家镇综治中心"}, "tier": {"township"}, "region": {"330681110"}, "members": {"li"}}
	if w := b.post("/admin/desks/new", csrf, nf); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/desks" {
		t.Fatalf("new desk: got %d to %q", w.Code, w.Header().Get("Location"))
	}
	if !strings.Contains(b.get("/admin/desks").Body.String(), `<tr class="desk" data-id="zhaojia"><td>zhaojia</td><td>赵家镇综治中心</td>`) {
		t.Errorf("the new desk is not listed")
	}
	// The other county's administrator cannot open ours.
	wb := f.browser(t)
	wb.login("wu", "/")
	if w := wb.get("/admin/desks/fengqiao"); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `id="refused"`) {
		t.Errorf("another county's admin GET /admin/desks/fengqiao: got %d, want the refusal page", w.Code)
	}
	if w := wb.post("/admin/desks/fengqiao", csrfMeta.FindStringSubmatch(wb.get("/admin/desks").Body.String())[1], form); w.Code != http.StatusNotFound {
		t.Errorf("another county's admin POST: got %d, want 404", w.Code)
	}
}
