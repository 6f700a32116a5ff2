package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/pipeline"
)

// evidence stores n hotline records of our village whose text is text,
// raised a minute apart, and makes them an alert's evidence with words.
func (f *fixture) evidence(t testing.TB, key string, n int, text, words string) {
	t.Helper()
	events := make([]pipeline.Stored, n)
	refs := make([]risk.Evidence, n)
	for i := range n {
		at := recordTime.Add(time.Duration(i) * time.Minute)
		refs[i] = risk.Evidence{Source: risk.SourceHotline, ID: fmt.Sprintf("H-%d", i)}
		events[i] = pipeline.Stored{Event: risk.Event{Source: risk.SourceHotline, ID: refs[i].ID, UpdatedAt: at, OccurredAt: at,
			Region: risk.Region{Code: "330681109201"}, Category: "劳资纠纷", Kind: "投诉", Status: risk.StatusOpen, HeadCount: 1,
			PetitionerCount: -1, Amount: -1, Title: "讨薪", Text: text}}
	}
	if err := pipeline.NewEventWriter(f.conn).WriteEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	evidence, _ := json.Marshal(refs)
	if _, err := f.pool.Exec(context.Background(), `UPDATE alerts SET evidence = $2, evidence_count = $3, words = $4, detector = 'extreme_intent' WHERE key = $1`,
		key, evidence, n, []string{words}); err != nil {
		t.Fatal(err)
	}
}
func TestPageAlert(t *testing.T) {
	f := setup(t)
	f.evidence(t, f.openAlert, 3, `老板欠薪<script>alert(1)</script><img src=x onerror=alert(2)>，我要跳楼`, "跳楼")
	b := f.browser(t)
	b.login("zhang", "/")
	path := "/alerts/" + f.openAlert
	w := b.get(path)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: got %d; body %s", path, w.Code, w.Body)
	}
	checkPageHeaders(t, path, w)
	body := w.Body.String()
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("a complaint's HTML is not rendered as text")
	}
	for i := range 3 {
		if !strings.Contains(body, fmt.Sprintf(`<li class="record" data-source="hotline" data-id="H-%d"`, i)) {
			t.Errorf("timeline lacks evidence record H-%d", i)
		}
	}
	if !strings.Contains(body, "<mark>跳楼</mark>") {
		t.Errorf("the matched word is not marked")
	}
	for _, id := range []string{`id="summary"`, `id="why"`, `id="timeline"`, `id="history"`, `id="related"`, `id="route"`, `<form id="confirm"`, `<form id="dismiss"`, `<form id="merge"`, `data-id="H-330681109201"`} {
		if !strings.Contains(body, id) {
			t.Errorf("alert page lacks %s", id)
		}
	}
	// Confirm to the routed desk: a case, and the page goes there.
	csrf := csrfMeta.FindStringSubmatch(body)[1]
	if w := b.post(path+"/confirm", "", nil); w.Code != http.StatusForbidden {
		t.Errorf("confirm without _csrf: got %d, want 403", w.Code)
	}
	w = b.post(path+"/confirm", csrf, map[string][]string{"desk": {"fengqiao"}, "routed": {"fengqiao"}, "note": {"请尽快联系"}})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/cases/") {
		t.Fatalf("confirm: got %d to %q, want 303 to /cases/ID", w.Code, w.Header().Get("Location"))
	}
	if w := b.get(w.Header().Get("Location")); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<dd id="status">待受理</dd>`) {
		t.Errorf("the new case: got %d, want it pending", w.Code)
	}
}

// BenchmarkQueue renders the queue of a reviewer with 10,000 open alerts.
func BenchmarkQueue(b *testing.B) {
	f := setup(b)
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO alerts (key, scope_key, detector, level, region, category, subject, person, labels,
		window_start, window_end, first_seen, last_seen, summary, evidence)
		SELECT 'bench-' || i, 'bench-' || i, 'surge', (ARRAY['red','orange','yellow','blue'])[1 + i % 4], '330681109201', '劳资纠纷', '', '', '{}',
			now() - i * interval '1 minute', now(), now(), now(), '枫桥镇枫源村劳资纠纷突增：本小时 12 件，通常 2 件', '[{"source":"hotline","id":"H-1"}]'
		FROM generate_series(1, 10000) AS i`); err != nil {
		b.Fatal(err)
	}
	br := f.browser(b)
	br.login("zhang", "/")
	b.ResetTimer()
	for b.Loop() {
		if w := br.get("/queue"); w.Code != http.StatusOK {
			b.Fatalf("GET /queue: %d", w.Code)
		}
	}
}

// BenchmarkAlertEvidence renders an alert with 500 evidence records.
func BenchmarkAlertEvidence(b *testing.B) {
	f := setup(b)
	f.evidence(b, f.openAlert, 500, strings.Repeat("某公司拖欠工资三个月，多次讨要无果，扬言要去北京上访。", 4), "北京上访")
	br := f.browser(b)
	br.login("zhang", "/")
	b.ResetTimer()
	for b.Loop() {
		if w := br.get("/alerts/" + f.openAlert); w.Code != http.StatusOK {
			b.Fatalf("GET /alerts: %d", w.Code)
		}
	}
}
