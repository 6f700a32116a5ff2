package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBrowserHarness shows that the browser tests can fail: on pages made
// to break each rule, the recorder reports the request leaving 127.0.0.1,
// the CSP violation and the console error, and nothing on a clean page.
// Without it a recorder that heard nothing would pass every console page.
func TestBrowserHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("needs chromium")
	}
	const csp = "default-src 'self'; img-src 'self' data:; script-src 'self'"
	pages := map[string]string{
		"/clean":   `<!doctype html><title>ok</title><link rel="icon" href="data:,"><p id="p">干净的页面</p>`,
		"/offhost": `<!doctype html><title>x</title><link rel="icon" href="data:,"><img src="http://192.0.2.1/logo.png">`,
		"/inline":  `<!doctype html><title>x</title><link rel="icon" href="data:,"><script>window.ran=1</script>`,
		"/error":   `<!doctype html><title>x</title><link rel="icon" href="data:,"><script src="/error.js"></script>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/error.js" {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(`console.error("坏了")`))
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(body))
	}))
	defer srv.Close()

	b := startBrowser(t)
	tb := b.open(t, "tester", srv.URL)
	for _, tt := range []struct {
		path, want string // the kind of problem, "" for none
	}{
		{"/clean", ""},
		{"/offhost", "request leaving 127.0.0.1"},
		{"/inline", "CSP violation"},
		{"/error", "console.error"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			tb.t = t
			tb.goTo(tt.path)
			eval[int](tb, "1") // a round trip: the page's events are in
			b.mu.Lock()
			ps := b.problems
			b.problems = nil
			b.mu.Unlock()
			var kinds []string
			for _, p := range ps {
				kinds = append(kinds, p.kind)
			}
			got := strings.Join(kinds, ",")
			if tt.want == "" && got != "" {
				t.Errorf("problems on a clean page: %v", ps)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("problems recorded: %v; want a %q", ps, tt.want)
			}
		})
	}
	if ran := eval[bool](tb, `window.ran === 1`); ran {
		t.Errorf("the inline script ran despite the policy")
	}
}
