package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	risk "riskwatch"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

const password = "correct horse battery"

// The people of the scenario, as in deploy/desks.yaml (诸暨市): a red alert
// goes to the county's centre (zhuji), whose mediator is zj-sun; fq-li
// mediates at 枫桥镇 and may not open the county's cases.
var people = []struct{ username, role, jurisdiction string }{
	{"admin", "admin", "330681"},
	{"zj-reviewer", "reviewer", "330681"},
	{"zj-sun", "mediator", "330681"},
	{"fq-li", "mediator", "330681109"},
	{"zj-leader", "leader", "330681"},
}

// The planted incident: a caller with words of extreme intent (raised by
// extreme_intent within seconds of ingestion), and another whose complaint
// holds HTML.
const (
	plantedID    = "ZJSX12345-BR-00001"
	plantedName  = "钱建华"
	plantedPhone = "13905751234"
	htmlID       = "ZJSX12345-BR-00002"
	htmlName     = "孙丽萍"
	htmlPhone    = "13705759876"
	htmlScript   = `<script>window.pwned=1</script>`
	htmlImg      = `<img src=x onerror="window.pwned=1">`
)

func plantedRecords(now time.Time) []byte {
	at := now.In(risk.CST).Format("2006-01-02 15:04:05")
	rec := func(id, name, phone, region, content string) string {
		b, _ := json.Marshal(map[string]any{
			"caseNo": id, "version": 1, "updateTime": at, "callTime": at, "channel": "电话",
			"contactUser": name, "contactTel": phone, "appealType": "投诉",
			"catalog": "劳动和社会保障/劳动关系/拖欠工资", "content": content,
			"regionCode": region, "urgency": "紧急", "status": "受理",
		})
		return id + "\t" + string(b) + "\n"
	}
	return []byte(rec(plantedID, plantedName, plantedPhone, "330681109",
		"枫桥镇安置房工地拖欠我们八个人三个月工资，多次反映没人管，再不给钱我们就去北京上访！") +
		rec(htmlID, htmlName, htmlPhone, "330681001",
			"老板欠薪不还"+htmlScript+htmlImg+"，再拖下去我就跳楼。"))
}

// apiAlert is what the test reads of an alert through the API.
type apiAlert struct {
	Key, Level, Status, Desk string
	Case                     int64
	Evidence                 []struct{ ID string }
}

// TestConsoleInBrowser walks the console as its users do, in headless
// Chromium against `riskwatch serve` (the local ClickHouse and PostgreSQL,
// the embedded broker, 诸暨市's desks): an incident produced with kcat
// appears in the reviewer's open queue, is confirmed to the routed desk,
// worked and settled by the desk's mediator, and counted on the leader's
// dashboard without a person in sight; hostile text stays text; the wrong
// mediator and a stranger are turned away. No page may send a request
// beyond 127.0.0.1, break its Content-Security-Policy or log an error.
// Screenshots of the main pages go to var/screenshots/.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end, in a real browser")
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not found: run deploy/local/up.sh")
	}
	b := startBrowser(t)
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t),
		flags: []string{"-desks", filepath.Join("..", "..", "deploy", "desks.yaml")}}
	for _, p := range people {
		s.run("user", "add", "-username", p.username, "-role", p.role, "-jurisdiction", p.jurisdiction)
	}
	adminToken := s.run("user", "token", "-username", "admin", "-name", "browser test")
	reviewerToken := s.run("user", "token", "-username", "zj-reviewer", "-name", "browser test")
	s.token = adminToken
	s.start()
	t.Cleanup(s.stop)
	base := "http://" + s.httpA

	var (
		key     string // the planted incident's alert
		routed  string // the desk it was routed to
		caseID  int64  // the case it became
		settled bool
	)
	reviewer := b.open(t, "reviewer zj-reviewer", base)

	// The reviewer has the queue open before anything happens.
	queueOpen := false
	t.Run("reviewer signs in to the queue", func(t *testing.T) {
		defer b.check(t, nil)
		rv := reviewer.in(t)
		rv.goTo("/login")
		rv.login("zj-reviewer")
		if p := rv.path(); p != "/queue" {
			t.Errorf("a reviewer signed in lands on %s, want /queue", p)
		}
		rv.mustSee("table#alerts")
		rv.screenshot("queue-empty")
		queueOpen = eval[bool](rv, `window.rwSameDocument = true`)
	})

	kcat(t, s.kafkaAddr, "hotline.workorders", plantedRecords(time.Now()), "-K", "\t")
	a := s.alertOf(t, plantedID)
	key, routed = a.Key, a.Desk

	t.Run("new alert appears in the open queue without a reload", func(t *testing.T) {
		defer b.check(t, nil)
		if !queueOpen {
			t.Skip("the queue did not open")
		}
		rv := reviewer.in(t)
		row := fmt.Sprintf(`tr.alert[data-key=%q]`, key)
		// The queue polls every 5 seconds; the alert was raised by now.
		if err := rv.visible(row, 30*time.Second); err != nil {
			t.Fatalf("the planted alert %s (in the API, %s) is not in the open queue: %v", key, a.Level, err)
		}
		if !eval[bool](rv, `window.rwSameDocument === true`) {
			t.Errorf("the queue was reloaded to show the new alert; want it added to the page as it is")
		}
		if lvl := rv.attr(row, "data-level"); lvl != "red" {
			t.Errorf("the planted alert's row has data-level %q, want red (words of extreme intent)", lvl)
		}
		if n := rv.text(`#counts [data-level=red]`); !regexp.MustCompile(`[1-9]`).MatchString(n) {
			t.Errorf("the red count reads %q with a red alert open", n)
		}
		rv.screenshot("queue")
	})
	if key == "" {
		t.Fatal("no alert for the planted incident: nothing to review")
	}

	t.Run("reviewer sees the evidence and confirms to the routed desk", func(t *testing.T) {
		defer b.check(t, nil)
		rv := reviewer.in(t)
		rv.goTo("/alerts/" + key)
		rv.mustSee(fmt.Sprintf(`#timeline li.record[data-source=hotline][data-id=%q]`, plantedID))
		if w := rv.text(`#why mark`); !strings.Contains("再不给钱我们就去北京上访", w) || w == "" {
			t.Errorf("the matched word highlighted in #why is %q, want a word of the complaint (去北京上访)", w)
		}
		if tl := rv.text("#timeline"); strings.Contains(tl, plantedName) || strings.Contains(digits(tl), plantedPhone) {
			t.Errorf("the evidence timeline shows the caller unmasked: %q", tl)
		}
		if routed == "" {
			t.Fatalf("the alert was not routed (API: no desk)")
		}
		if d := rv.value(`form#confirm select[name=desk]`); d != routed {
			t.Errorf("desk preselected in the confirm form: %q, want %q (where it was routed)", d, routed)
		}
		rv.screenshot("alert")
		rv.do("write the note", rv.fill(`form#confirm textarea[name=note]`, "已电话核实，情况属实，转矛调中心"))
		if st := rv.submit("confirm", `form#confirm button[type=submit]`); st != http.StatusOK {
			t.Errorf("confirming led to a page with status %d", st)
		}
		a := s.alert(t, key)
		if a.Status != "confirmed" || a.Case == 0 {
			t.Fatalf("after confirming in the page the alert is %q with case %d; want confirmed with a case", a.Status, a.Case)
		}
		caseID = a.Case
		if p := rv.path(); p != fmt.Sprintf("/cases/%d", caseID) && !strings.HasPrefix(p, "/queue") {
			t.Errorf("after confirming the reviewer is on %s, want the case /cases/%d or the queue", p, caseID)
		}
	})
	if caseID == 0 {
		// The rest is about the desks' pages: confirm through the API so
		// that they are still tried.
		t.Logf("confirming %s through the API instead", key)
		caseID = s.confirm(t, reviewerToken, key)
	}
	casePath := fmt.Sprintf("/cases/%d", caseID)

	t.Run("mediator reveals a contact, writes a note and settles the case", func(t *testing.T) {
		defer b.check(t, nil)
		m := b.open(t, "mediator zj-sun", base)
		m.goTo("/login")
		m.login("zj-sun")
		if p := m.path(); p != "/inbox" {
			t.Errorf("a mediator signed in lands on %s, want /inbox", p)
		}
		m.mustSee(fmt.Sprintf(`table#cases tr.case[data-id="%d"]`, caseID))
		m.screenshot("inbox")

		m.goTo(casePath)
		m.mustSee("#parties li.party")
		if ps := m.text("#parties"); strings.Contains(ps, plantedName) || strings.Contains(digits(ps), plantedPhone) {
			t.Errorf("the parties are shown unmasked before any reveal: %q", ps)
		}
		before := m.text("#status")
		// The mediator takes the case on: then its contacts are theirs to see.
		m.act("accept")
		m.click("reveal a contact", `#parties li.party form.reveal button`, `#parties .contact`)
		if c := m.text("#parties .contact"); !strings.Contains(digits(c), plantedPhone) || !strings.Contains(c, plantedName) {
			t.Errorf("the revealed contact reads %q, want the caller %s and phone %s", c, plantedName, plantedPhone)
		}
		if !s.audited(t, caseID, "zj-sun", "party.reveal") {
			t.Errorf("the audit log of case %d has no party.reveal by zj-sun", caseID)
		}

		const note = "已与当事人电话沟通，约定明日上午在镇矛调中心协商"
		m.do("write a note", chromedp.SetValue(chromedp.CSS(`form#note select[name=kind]`), "contact"), m.fill(`form#note textarea[name=body]`, note))
		m.submit("save the note", `form#note button[type=submit]`)
		if n := m.text("#notes"); !strings.Contains(n, note) {
			t.Errorf("the notes after saving one read %q, want it there", n)
		}
		m.act("start")
		m.act("settle")
		after := m.text("#status")
		if after == before {
			t.Errorf("#status reads %q before and after settling", after)
		}
		var k struct{ Status string }
		s.getJSON(t, fmt.Sprintf("/api/v1/cases/%d", caseID), &k)
		if k.Status != "settled" {
			t.Fatalf("after accept, start and settle in the page the case is %q (page: %q), want settled", k.Status, after)
		}
		settled = true
		m.screenshot("case")
	})

	t.Run("leader's dashboard counts it settled at the first level and shows nobody", func(t *testing.T) {
		defer b.check(t, nil)
		if !settled {
			t.Skip("the case was not settled")
		}
		l := b.open(t, "leader zj-leader", base)
		l.goTo("/login")
		l.login("zj-leader")
		if p := l.path(); p != "/dashboard" {
			t.Errorf("a leader signed in lands on %s, want /dashboard", p)
		}
		// The only case of the run, settled at the desk it was confirmed to.
		if f := l.text("#settled-first"); !regexp.MustCompile(`(^|[^0-9.])(1|100(\.0+)?\s*%)([^0-9.]|$)`).MatchString(f) {
			t.Errorf("#settled-first reads %q; want the one case settled at the first level (1, or 100%%)", f)
		}
		l.screenshot("dashboard")
		// The stored briefs, from the dashboard's link: none yet (serve
		// stores them on Monday morning and on the 21st).
		l.goTo(eval[string](l, `document.querySelector('#briefs a[href="/briefs"]').getAttribute("href")`))
		l.mustSee("#no-briefs")
		if l.exists("#refused") {
			t.Errorf("a leader is refused the stored briefs")
		}
		page := eval[string](l, `document.body.innerText`) + eval[string](l, `document.documentElement.outerHTML`)
		for _, pii := range []string{plantedName, normalize.MaskName(plantedName), plantedPhone, normalize.MaskPhone(plantedPhone),
			htmlName, normalize.MaskName(htmlName), htmlPhone, normalize.MaskPhone(htmlPhone)} {
			if strings.Contains(page, pii) {
				t.Errorf("the leader's dashboard shows %q: aggregates only, never a person", pii)
			}
		}
	})

	t.Run("a complaint's HTML renders as text", func(t *testing.T) {
		defer b.check(t, nil) // and so: no CSP violation
		rv := reviewer.in(t)
		a := s.alertOf(t, htmlID)
		rv.goTo("/alerts/" + a.Key)
		rv.mustSee(fmt.Sprintf(`#timeline li.record[data-id=%q]`, htmlID))
		if pwned := eval[bool](rv, `typeof window.pwned !== "undefined"`); pwned {
			t.Errorf("the complaint's HTML ran: window.pwned is set")
		}
		tl := rv.text("#timeline")
		for _, lit := range []string{htmlScript, htmlImg} {
			if !strings.Contains(tl, lit) {
				t.Errorf("the timeline does not show %s as text: %q", lit, tl)
			}
		}
		if n := eval[int](rv, `document.querySelectorAll("main script, main img[src=x]").length`); n != 0 {
			t.Errorf("the complaint became %d elements of the page", n)
		}
		rv.screenshot("alert-html")
	})

	t.Run("reviewer triages the queue with the keyboard", func(t *testing.T) {
		defer b.check(t, nil)
		rv := reviewer.in(t)
		rv.goTo("/queue")
		rv.mustSee("tr.alert")
		rv.do("press j", chromedp.KeyEvent("j"))
		rv.mustSee("tr.alert.selected")
		selected := rv.attr("tr.alert.selected", "data-key")
		if first := rv.attr("tr.alert", "data-key"); selected != first {
			t.Errorf("j selected %s, want the first row %s", selected, first)
		}
		ctx, cancel := context.WithTimeout(rv.ctx, wait)
		defer cancel()
		if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent("\r")); err != nil {
			t.Fatalf("Enter on the selected alert: %v", err)
		}
		if p := rv.path(); p != "/alerts/"+selected {
			t.Errorf("Enter on the selected alert %s led to %s", selected, p)
		}
	})

	t.Run("a mediator opening another desk's case is refused", func(t *testing.T) {
		var refused string
		defer func() {
			// The refusal is a 403 or 404 page: the browser logs its status.
			b.check(t, func(p problem) bool { return p.kind == "console error (network)" && p.url == refused })
		}()
		// The case's own mediator has the page: the refusal is about the desk.
		own := b.open(t, "mediator zj-sun", base)
		own.goTo("/login")
		own.login("zj-sun")
		own.goTo(casePath)
		own.mustSee("#status")
		f := b.open(t, "mediator fq-li", base)
		f.goTo("/login")
		f.login("fq-li")
		f.goTo(casePath)
		refused = base + casePath
		f.mustSee("#refused")
		if body := eval[string](f, `document.body.innerText`); strings.Contains(body, plantedName) || strings.Contains(body, normalize.MaskName(plantedName)) {
			t.Errorf("the refusal shows the case's party")
		}
		f.screenshot("refused")
	})

	t.Run("a logged-out browser signs in and is back on the queue", func(t *testing.T) {
		defer b.check(t, nil)
		o := b.open(t, "logged out", base)
		o.goTo("/queue")
		u, _ := url.Parse(o.location())
		if u.Path != "/login" || u.Query().Get("next") != "/queue" {
			t.Fatalf("a logged-out browser opening /queue is on %s, want /login?next=/queue", u.RequestURI())
		}
		o.screenshot("login")
		o.login("zj-reviewer")
		if p := o.path(); p != "/queue" {
			t.Errorf("after signing in from /login?next=/queue the browser is on %s, want /queue", p)
		}
	})

	t.Run("every page loads with the network unplugged", func(t *testing.T) {
		defer b.check(t, nil)
		a := b.open(t, "admin", base)
		a.goTo("/login")
		a.login("admin")
		for _, p := range []string{"/", "/queue", "/alerts/" + key, "/inbox", casePath, "/dashboard", "/briefs", "/figures",
			"/admin/desks", "/admin/users", "/admin/detectors", "/admin/pipeline", "/account"} {
			a.goTo(p)
			a.mustSee("main")
			if a.exists("#refused") {
				t.Errorf("an administrator is refused %s", p)
			}
			if name := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-"); strings.HasPrefix(name, "admin-") || name == "figures" {
				a.screenshot(name)
			}
		}
	})
}

// act presses a case's action button and waits for the page it leads to,
// which must not report a conflict.
func (tb *tab) act(action string) {
	tb.t.Helper()
	btn := fmt.Sprintf(`form.action button[name=action][value=%s]`, action)
	tb.mustSee(btn)
	tb.submit(action, btn)
	if tb.exists("#conflict") {
		tb.t.Fatalf("%s: %s: the page reports a conflict: %s", tb.name, action, tb.text("#conflict"))
	}
}

// digits keeps the digits of s: a phone shown as 139 0575 1234 is 13905751234.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// run runs a riskwatch command against the test's PostgreSQL, as an
// operator would, and returns its output.
func (s *server) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, "-postgres", s.pg)...)
	cmd.Env = append(os.Environ(), "RISKWATCH_PASSWORD="+password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("riskwatch %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// getJSON reads an API path with the server's token into out.
func (s *server) getJSON(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := s.get(path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (s *server) alert(t *testing.T, key string) apiAlert {
	t.Helper()
	var a apiAlert
	s.getJSON(t, "/api/v1/alerts/"+key, &a)
	return a
}

// alertOf waits for the alert whose evidence holds record id to be raised
// and routed, and returns it.
func (s *server) alertOf(t *testing.T, id string) apiAlert {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct{ Alerts []apiAlert }
		s.getJSON(t, "/api/v1/alerts?detector=extreme_intent", &list)
		for _, a := range list.Alerts {
			for _, e := range a.Evidence {
				if e.ID == id && a.Desk != "" {
					return a
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no routed extreme-intent alert on %s 60s after producing it: %+v\n%s", id, list.Alerts, s.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// confirm confirms an alert through the API as a reviewer and returns its case.
func (s *server) confirm(t *testing.T, token, key string) int64 {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.httpA+"/api/v1/alerts/"+key+"/confirm", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var k struct{ ID int64 }
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || k.ID == 0 {
		t.Fatalf("confirm %s through the API: %s %v", key, resp.Status, err)
	}
	return k.ID
}

// audited reports whether the audit log of a case has action by actor.
func (s *server) audited(t *testing.T, caseID int64, actor, action string) bool {
	t.Helper()
	var audit struct {
		Entries []struct{ Actor, Action string }
	}
	s.getJSON(t, fmt.Sprintf("/api/v1/audit?case=%d", caseID), &audit)
	for _, e := range audit.Entries {
		if e.Actor == actor && e.Action == action {
			return true
		}
	}
	return false
}
