package main

// The harness of the console's tests in a real browser: headless Chromium
// driven with chromedp, one tab (and cookie jar) per person, and a recorder
// of what must never happen on any page — a request that leaves 127.0.0.1
// (the centres' networks have no internet), a Content-Security-Policy
// violation, a console error or an uncaught exception. It lives here, next
// to the harness of `riskwatch serve` (e2e_test.go) that it is used with;
// nothing else imports it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser: $RISKWATCH_CHROMIUM, else chromium on the
// PATH. Without one the test fails and says how to get it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RISKWATCH_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RISKWATCH_CHROMIUM=%s: %v (deploy/local/chromium.sh installs Debian's chromium)", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run deploy/local/chromium.sh (installs Debian's chromium; deploy/local/test.sh does) or set RISKWATCH_CHROMIUM")
	return ""
}

// problem is something a page did that no page may do.
type problem struct {
	tab, kind, url, text string
}

func (p problem) String() string {
	return fmt.Sprintf("[%s] %s on %s: %s", p.tab, p.kind, p.url, p.text)
}

// browser is one headless Chromium for a test; its tabs are people.
type browser struct {
	ctx   context.Context // the browser's; a tab is a child
	shots string          // where screenshots go

	mu       sync.Mutex
	problems []problem // not yet reported by check
}

// startBrowser starts headless Chromium at 1366×768 (the centres' laptops)
// with a fresh profile, no background networking, and every host name but
// loopback unresolvable: the network is unplugged, as on a government
// network without internet. It is stopped at the end of the test.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.DisableGPU,
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	shots := filepath.Join("..", "..", "var", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{ctx: ctx, shots: shots}
}

// cspReporter runs in every document before the page's own scripts (DevTools
// scripts are not subject to the page's policy) and hands each
// Content-Security-Policy violation to the test through a binding.
const cspReporter = `document.addEventListener('securitypolicyviolation', e => {
	rwReportCSP(JSON.stringify({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample}));
});`

// tab is one person's window: its own browser context, so its own cookies.
type tab struct {
	t    *testing.T
	b    *browser
	ctx  context.Context
	name string
	base string // http://127.0.0.1:port
}

// open opens a tab for name (a person, for the report) on the console at
// base, recording every problem of every page it loads.
func (b *browser) open(t *testing.T, name, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: t, b: b, ctx: ctx, name: name, base: base}
	if err := chromedp.Listen(ctx, tb.record); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.AddBinding, runtime.AddBindingParams{Name: "rwReportCSP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspReporter}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// record runs in chromedp's event loop: it only notes.
func (tb *tab) record(ev any) {
	var p problem
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if off := offHost(ev.Request.URL); off != "" {
			p = problem{kind: "request leaving 127.0.0.1", url: ev.DocumentURL, text: off}
		}
	case *runtime.EventBindingCalled:
		if ev.Name == "rwReportCSP" {
			p = problem{kind: "CSP violation", text: ev.Payload}
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			p = problem{kind: "console." + string(ev.Type), text: strings.Join(args, " ")}
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		p = problem{kind: "uncaught exception", url: d.URL, text: text}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p = problem{kind: "console error (" + string(ev.Entry.Source) + ")", url: ev.Entry.URL, text: ev.Entry.Text}
		}
	}
	if p.kind == "" {
		return
	}
	p.tab = tb.name
	tb.b.mu.Lock()
	tb.b.problems = append(tb.b.problems, p)
	tb.b.mu.Unlock()
}

// offHost returns u if fetching it would leave 127.0.0.1: any scheme but
// the ones that never touch the network.
func offHost(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	switch pu.Scheme {
	case "data", "blob", "about", "javascript":
		return ""
	}
	if pu.Hostname() != "127.0.0.1" {
		return u
	}
	return ""
}

// check reports, as errors of t, every problem recorded since the last
// check, except those expected says are the point of the test.
func (b *browser) check(t *testing.T, expected func(problem) bool) {
	t.Helper()
	b.mu.Lock()
	ps := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range ps {
		if expected == nil || !expected(p) {
			t.Errorf("%s", p)
		}
	}
}

// wait is how long one step may take: a page load, a form's round trip.
const wait = 20 * time.Second

// do runs steps with the step deadline, failing t with what was being done.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s, %s: %v (on %s)", tb.name, what, err, tb.location())
	}
}

// goTo loads path and waits for the page's load event.
func (tb *tab) goTo(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path))
}

// submit clicks sel and waits until the page it leads to has loaded; it
// returns that page's HTTP status.
func (tb *tab) submit(what string, sel string) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("%s, %s (click %s): %v (on %s)", tb.name, what, sel, err, tb.location())
	}
	return resp.Status
}

// visible waits until sel is shown, for at most d.
func (tb *tab) visible(sel string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(tb.ctx, d)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s not shown within %v on %s", sel, d, tb.location())
	}
	return err
}

// mustSee fails t unless sel is shown within the step deadline.
func (tb *tab) mustSee(sel string) {
	tb.t.Helper()
	if err := tb.visible(sel, wait); err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

// text is the rendered text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("%s: text of %s: %v (on %s)", tb.name, sel, err, tb.location())
	}
	return s
}

// eval evaluates a JavaScript expression in the page (as DevTools does: not
// subject to the page's policy).
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// location is the tab's current URL, for messages.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// path is the current URL's path and query.
func (tb *tab) path() string {
	u, err := url.Parse(tb.location())
	if err != nil {
		return "?"
	}
	return u.RequestURI()
}

// screenshot saves the whole page as var/screenshots/name.png: what the
// users will see, to be looked at before the console is called done.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Errorf("%s: screenshot %s: %v", tb.name, name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(tb.b.shots, name+".png"), png, 0o644); err != nil {
		tb.t.Error(err)
	}
}

// fill types into an empty form field.
func (tb *tab) fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

// in is the tab as used by test t: its failures are t's.
func (tb *tab) in(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

// login signs in on the login page the tab is on and waits for the page
// it leads to, with the signed-in header.
func (tb *tab) login(username string) {
	tb.t.Helper()
	tb.mustSee("form#login")
	tb.do("type the credentials of "+username,
		tb.fill(`form#login input[name=username]`, username),
		tb.fill(`form#login input[name=password]`, password))
	tb.submit("sign in as "+username, `form#login button[type=submit]`)
	if err := tb.visible("#me", wait); err != nil {
		msg := ""
		if tb.exists(".error") {
			msg = tb.text(".error")
		}
		tb.t.Fatalf("%s: not signed in as %s: %v %s", tb.name, username, err, msg)
	}
}

// click clicks sel and waits until until is shown: a form that reloads the
// page and a script that changes it alike.
func (tb *tab) click(what, sel, until string) {
	tb.t.Helper()
	tb.do(what, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err := tb.visible(until, wait); err != nil {
		tb.t.Fatalf("%s, %s: %v", tb.name, what, err)
	}
}

// exists reports whether an element matches sel now.
func (tb *tab) exists(sel string) bool {
	tb.t.Helper()
	b, _ := json.Marshal(sel)
	return eval[bool](tb, "document.querySelector("+string(b)+") !== null")
}

// attr is an attribute of the first element matching sel.
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		tb.t.Fatalf("%s: %s of %s: %v", tb.name, name, sel, err)
	}
	return a.Value
}

// value is the value of the form field sel.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("%s: value of %s: %v", tb.name, sel, err)
	}
	return v
}
