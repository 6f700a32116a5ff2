package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// server is a `riskwatch serve` process with the embedded broker.
type server struct {
	t                *testing.T
	bin, dsn, data   string
	pg               string
	kafkaAddr, httpA string
	token            string         // a reviewer's API token
	flags            []string       // after the test's own: a later flag wins
	roots            *x509.CertPool // set: the server speaks HTTPS, its certificate signed by these
	cmd              *exec.Cmd
	log              *bytes.Buffer
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "riskwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *server) start() {
	s.t.Helper()
	if s.log == nil {
		s.log = &bytes.Buffer{}
	}
	args := []string{"serve", "-kafka", "embedded://" + s.kafkaAddr, "-kafka.data-dir", s.data,
		"-clickhouse", s.dsn, "-postgres", s.pg, "-http", s.httpA, "-pipeline.max-batch-rows", "2000", "-pipeline.max-batch-age", "300ms"}
	s.cmd = exec.Command(s.bin, append(args, s.flags...)...)
	s.cmd.Env = append(os.Environ(), "RISKWATCH_PII_KEY="+strings.Repeat("ab", 32))
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client().Get(s.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("riskwatch serve did not come up: %v\n%s", err, s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client is an HTTP client that trusts the server's certificate.
func (s *server) client() *http.Client {
	if s.roots == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}
}

func (s *server) url(path string) string {
	if s.roots != nil {
		return "https://" + s.httpA + path
	}
	return "http://" + s.httpA + path
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("riskwatch serve exited with %v\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		s.kill()
		s.t.Errorf("riskwatch serve did not stop on SIGTERM within 30s")
	}
}

// bootstrap adds the first administrator and a province-wide reviewer
// with the command line, as an operator would, and keeps the reviewer's
// API token.
func (s *server) bootstrap() {
	s.t.Helper()
	for _, args := range [][]string{
		{"user", "add", "-postgres", s.pg, "-username", "admin", "-role", "admin", "-jurisdiction", "33"},
		{"user", "add", "-postgres", s.pg, "-username", "zhang", "-role", "reviewer", "-jurisdiction", "33"},
	} {
		cmd := exec.Command(s.bin, args...)
		cmd.Env = append(os.Environ(), "RISKWATCH_PASSWORD=correct horse battery")
		if out, err := cmd.CombinedOutput(); err != nil {
			s.t.Fatalf("riskwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command(s.bin, "user", "token", "-postgres", s.pg, "-username", "zhang", "-name", "e2e").Output()
	if err != nil {
		s.t.Fatalf("riskwatch user token: %v", err)
	}
	s.token = strings.TrimSpace(string(out))
}

// get requests an API path as the reviewer.
func (s *server) get(path string) (*http.Response, error) {
	req, err := http.NewRequest("GET", "http://"+s.httpA+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

func (s *server) stats() (map[string]pipeline.FeedStats, error) {
	resp, err := s.get("/api/v1/ingest/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var body struct{ Feeds []pipeline.FeedStats }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	out := map[string]pipeline.FeedStats{}
	for _, f := range body.Feeds {
		out[string(f.Source)] = f
	}
	return out, nil
}

// caughtUp waits until every feed has no lag and has consumed at least want.
func (s *server) caughtUp(want map[string]int64) map[string]pipeline.FeedStats {
	s.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, err := s.stats()
		ok := err == nil
		for feed, n := range want {
			f := st[feed]
			ok = ok && f.Lag == 0 && f.Partitions != nil && sumEnd(f) >= n
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("feeds did not catch up: %+v (err %v)\n%s", st, err, s.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// alerts maps the evidence ids of a detector's alerts to their levels.
func (s *server) alerts(detector string) map[string]string {
	resp, err := s.get("/api/v1/alerts?detector=" + detector)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Alerts []struct {
			Level    string
			Evidence []struct{ ID string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&body)
	out := map[string]string{}
	for _, a := range body.Alerts {
		for _, e := range a.Evidence {
			out[e.ID] = a.Level
		}
	}
	return out
}

func sumEnd(f pipeline.FeedStats) int64 {
	var n int64
	for _, p := range f.Partitions {
		n += p.EndOffset
	}
	return n
}

func kcat(t *testing.T, broker, topic string, stdin []byte, extra ...string) {
	t.Helper()
	args := append([]string{"-P", "-b", broker, "-t", topic}, extra...)
	cmd := exec.Command("kcat", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat %v: %v\n%s (install kcat: deploy/local/up.sh does)", args, err, out)
	}
}

// TestServeWithKcat is the README's story: riskwatch serve on the embedded
// broker, the contract examples produced with kcat, the counts in
// /api/v1/ingest/stats and the bad lines in quarantine; then a burst killed
// with SIGKILL in the middle and restarted: nothing lost, nothing counted twice.
func TestServeWithKcat(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not found: run deploy/local/up.sh")
	}
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t)}
	s.bootstrap()
	s.start()
	// Ready once serving: ClickHouse, PostgreSQL and the broker answer.
	if resp, err := http.Get("http://" + s.httpA + "/readyz"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "clickhouse ok\nkafka ok\npostgres ok\n" {
			t.Errorf("/readyz: %d %q", resp.StatusCode, body)
		}
	}

	examples := filepath.Join("..", "..", "..", "shared", "contracts", "examples")
	topics := map[string]string{"hotline": "hotline.workorders", "petition": "petition.cases", "grid": "grid.events"}
	want := map[string]int64{}
	for feed, topic := range topics {
		b, err := os.ReadFile(filepath.Join(examples, feed+".jsonl"))
		if err != nil {
			t.Fatalf("contract examples: %v", err)
		}
		kcat(t, s.kafkaAddr, topic, b)
		want[feed] = int64(bytes.Count(bytes.TrimSpace(b), []byte("\n")) + 1)
	}
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String(`{"caseNo":"ZJSX12345-20200228-00001","version":1,"updateTime":"2020-02-28 10:00:00","callTime":"2020-02-28 09:58:00","appealType":"投诉","catalog":"劳动和社会保障/劳动关系/拖欠工资","content":"旧网关发来的工单","regionCode":"330681109","status":"受理"}` + "\n")
	kcat(t, s.kafkaAddr, "hotline.workorders", []byte(gbk), "-H", "charset=gbk")
	want["hotline"]++

	st := s.caughtUp(want)
	expect := map[string][3]uint64{ // records, versions, quarantined
		"hotline":  {6, 8, 4},
		"petition": {5, 6, 1},
		"grid":     {4, 5, 1},
	}
	for feed, w := range expect {
		f := st[feed]
		if f.Records != w[0] || f.Versions != w[1] || f.Quarantined != w[2] {
			t.Errorf("%s: records %d, versions %d, quarantined %d; want %d, %d, %d", feed, f.Records, f.Versions, f.Quarantined, w[0], w[1], w[2])
		}
	}
	if g := st["grid"]; g.Matters != 3 {
		t.Errorf("grid matters = %d, want 3: the deleted event does not count", g.Matters)
	}

	// The quarantine command lists the bad lines with their offsets and reasons.
	out, err := exec.Command(s.bin, "quarantine", "-clickhouse", dsn, "-topic", "hotline.workorders").CombinedOutput()
	if err != nil {
		t.Fatalf("riskwatch quarantine: %v\n%s", err, out)
	}
	if n := bytes.Count(out, []byte(`"offset"`)); n != 4 {
		t.Errorf("riskwatch quarantine listed %d hotline messages, want 4:\n%s", n, out)
	}

	// Words of extreme intent reach the alerts within seconds of ingestion.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.alerts("extreme_intent")
		if got["ZJSX12345-20200222-00071"] == "red" && got["GE330681109-20200222-0031"] == "red" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("extreme-intent alerts 30s after ingestion: %v; want the 去北京上访 work order and the 堵镇政府大门 grid report, red", got)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// … and other systems read them on riskwatch.alerts, from the outbox
	// the alerts were written to.
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err = exec.Command("kcat", "-C", "-b", s.kafkaAddr, "-t", "riskwatch.alerts", "-o", "beginning", "-e", "-q").CombinedOutput()
		if err == nil && bytes.Contains(out, []byte(`"detector":"extreme_intent"`)) && bytes.Contains(out, []byte("ZJSX12345-20200222-00071")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("riskwatch.alerts read with kcat (%v):\n%s\nwant the extreme-intent alert of ZJSX12345-20200222-00071", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The desks' intake routed the alerts, and told other systems on
	// riskwatch.cases (no desk directory here: routed to nobody, kept for
	// the reviewers).
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err = exec.Command("kcat", "-C", "-b", s.kafkaAddr, "-t", "riskwatch.cases", "-o", "beginning", "-e", "-q").CombinedOutput()
		if err == nil && bytes.Contains(out, []byte(`"alert.routed"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("riskwatch.cases read with kcat (%v):\n%s\nwant alert.routed events", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The backtest over the examples' weeks raises the provincial petition
	// as skip-level, and the API shows it with its evidence.
	if out, err := exec.Command(s.bin, "detect", "-clickhouse", dsn, "-postgres", s.pg, "-from", "2020-02-20", "-to", "2020-03-05").CombinedOutput(); err != nil {
		t.Fatalf("riskwatch detect: %v\n%s", err, out)
	}
	resp, err := s.get("/api/v1/alerts?detector=skip_level")
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Alerts []struct {
			Key, Level, Summary string
			Evidence            []struct{ Source, ID string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed.Alerts) != 1 || listed.Alerts[0].Level != "orange" || len(listed.Alerts[0].Evidence) != 1 || listed.Alerts[0].Evidence[0].ID != "33-2020-03-010220" {
		t.Errorf("skip-level alerts after the backtest: %+v; want the provincial petition 33-2020-03-010220, orange", listed.Alerts)
	}

	// A burst, killed mid-way.
	const records = 20000
	var burst bytes.Buffer
	for i := range records {
		for v := 1; v <= 2; v++ {
			fmt.Fprintf(&burst, `ZJSX-B-%06d	{"caseNo":"ZJSX-B-%06d","version":%d,"updateTime":"2020-03-0%d 10:00:00","callTime":"2020-03-01 09:00:00","contactTel":"1390575%04d","appealType":"投诉","catalog":"房产物业/物业管理","content":"物业问题","regionCode":"330681003","status":"受理"}`+"\n", i, i, v, v, i%10000)
		}
	}
	kcat(t, s.kafkaAddr, "hotline.workorders", burst.Bytes(), "-K", "\t")
	want["hotline"] += 2 * records
	conn := schematest.Connect(t, dsn)
	deadline = time.Now().Add(60 * time.Second)
	for {
		var n uint64
		if err := conn.QueryRow(context.Background(), `SELECT count() FROM event_versions WHERE id LIKE 'ZJSX-B-%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 && n < 2*records {
			break // in the middle
		}
		if n == 2*records || time.Now().After(deadline) {
			t.Fatalf("could not kill in the middle: %d of %d rows stored", n, 2*records)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	s.start()
	s.caughtUp(want)
	var versions, matters, atV2 uint64
	if err := conn.QueryRow(context.Background(), `SELECT count() FROM event_versions FINAL WHERE id LIKE 'ZJSX-B-%'`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), `SELECT count(), countIf(version = 2) FROM matters WHERE id LIKE 'ZJSX-B-%'`).Scan(&matters, &atV2); err != nil {
		t.Fatal(err)
	}
	if versions != 2*records || matters != records || atV2 != records {
		t.Errorf("after kill and restart: %d versions, %d matters, %d at v2; want %d, %d, %d", versions, matters, atV2, 2*records, records, records)
	}
	s.stop()
	if strings.Contains(s.log.String(), "1390575") {
		t.Errorf("a phone number reached the log")
	}
}

// TestServeRefusesWithoutBrokers: without -kafka or RISKWATCH_KAFKA, serve
// stops at once and says how to name brokers; nobody runs the test broker
// by mistake.
func TestServeRefusesWithoutBrokers(t *testing.T) {
	err := serve(t.Context(), []string{"-pii.key-file", "/nonexistent"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no Kafka brokers") {
		t.Errorf("serve without brokers: %v, want it refused for want of brokers", err)
	}
}
