package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"riskwatch/desk"
	"riskwatch/pipeline"
	"riskwatch/pipeline/kafkatest"
	"riskwatch/schema/schematest"
)

// The embedded test broker runs only when asked for, and never in
// production: serve says why it refuses.
func TestServeRefusesTestBroker(t *testing.T) {
	key := strings.Repeat("ab", 32)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-kafka", "embedded", "-production"}, nil, "refused in production"},
		{[]string{"-kafka", "embedded://127.0.0.1:0"}, map[string]string{"RISKWATCH_ENV": "production"}, "refused in production"},
		{nil, map[string]string{"RISKWATCH_ENV": "production", "RISKWATCH_KAFKA": "embedded"}, "refused in production"},
		{[]string{"-kafka", "embedded", "-kafka.tls"}, nil, "speaks neither TLS nor SASL"},
		{[]string{"-kafka", "embedded", "-kafka.sasl", "scram-sha-512", "-kafka.username", "rw"}, nil, "speaks neither TLS nor SASL"},
	} {
		env := map[string]string{"RISKWATCH_PII_KEY": key}
		for k, v := range c.env {
			env[k] = v
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := serve(ctx, c.args, func(k string) string { return env[k] }, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %v with %v: got %v, want %q", c.args, c.env, err, c.want)
		}
	}
}

// serve on a cluster that speaks only TLS and SCRAM: it refuses to start
// while the topics it publishes to are missing or its password is wrong,
// and with both right it ingests a feed, is ready, and never logs the
// password.
func TestServeOverTLSAndSCRAM(t *testing.T) {
	const password = "tls-and-scram-s3cret"
	feedTopics := []string{"hotline.workorders", "petition.cases", "grid.events"}
	kb := kafkatest.Start(t, kafkatest.Options{Mechanism: "SCRAM-SHA-512", User: "riskwatch", Password: password, Topics: feedTopics, Partitions: 2})
	_, chDSN := schematest.Open(t)
	_, pgDSN := schematest.OpenPostgres(t)
	pwFile := filepath.Join(t.TempDir(), "kafka-password")
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)
	httpAddr := freeAddr(t)
	args := []string{"-kafka", kb.Addr, "-kafka.ca-file", kb.PKI.CAFile, "-kafka.sasl", "scram-sha-512", "-kafka.username", "riskwatch",
		"-kafka.password-file", pwFile, "-production", "-clickhouse", chDSN, "-postgres", pgDSN, "-http", httpAddr,
		"-pipeline.max-batch-age", "200ms"}
	env := map[string]string{"RISKWATCH_PII_KEY": strings.Repeat("ab", 32)}
	getenv := func(k string) string { return env[k] }
	run := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		return serve(ctx, args, getenv, io.Discard)
	}

	err := run()
	if !errors.Is(err, pipeline.ErrMissingTopics) || !strings.Contains(err.Error(), "riskwatch.alerts, riskwatch.cases") {
		t.Fatalf("serve without the published topics: got %v, want them named", err)
	}
	b, err := pipeline.KafkaSecurity{CAFile: kb.PKI.CAFile, SASL: "scram-sha-512", Username: "riskwatch"}.Brokers([]string{kb.Addr}, password)
	if err != nil {
		t.Fatal(err)
	}
	// As an operator would: create them on the cluster.
	resp, err := b.Client(10*time.Second).CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "riskwatch.alerts", NumPartitions: 2, ReplicationFactor: 1}, {Topic: "riskwatch.cases", NumPartitions: 2, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}

	env["RISKWATCH_KAFKA_PASSWORD"] = "wrong" // wins over the file
	if err := run(); !errors.Is(err, pipeline.ErrLoginRefused) || !strings.Contains(err.Error(), "user name and password") {
		t.Fatalf("serve with a wrong password: got %v, want the login refused", err)
	}
	delete(env, "RISKWATCH_KAFKA_PASSWORD")

	var log syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, args, getenv, &log) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if strings.Contains(log.String(), password) {
			t.Errorf("the password is in serve's log:\n%s", log.String())
		}
	}()

	line := firstExample(t, "hotline")
	w := &kafka.Writer{Addr: kafka.TCP(kb.Addr), Transport: b.Transport(), Topic: "hotline.workorders", RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), kafka.Message{Key: []byte("k"), Value: line}); err != nil {
		t.Fatal(err)
	}
	conn := schematest.Connect(t, chDSN)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n uint64
		if err := conn.QueryRow(t.Context(), `SELECT count() FROM events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		ready, body := getReady(httpAddr)
		if n == 1 && ready {
			if !strings.Contains(body, "kafka ok") {
				t.Errorf("/readyz: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d events stored, /readyz %q\n%s", n, body, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getReady(addr string) (bool, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK, string(b)
}

func firstExample(t *testing.T, feed string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "contracts", "examples", feed+".jsonl"))
	if err != nil {
		t.Fatalf("read contract examples (../shared must be beside the checkout): %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return []byte(line)
}

// The desks' events go out over TLS and SASL with their contract's headers,
// readable by kafka-go and, if it is installed, by kcat as another system
// would read them. kcat reads over TLS without SASL: Debian's librdkafka
// (2.0) wants a SASL handshake v0, which kfake does not speak.
func TestTopicWriterHeaders(t *testing.T) {
	for _, mech := range []string{"scram-sha-256", ""} {
		kb := kafkatest.Start(t, kafkatest.Options{Mechanism: strings.ToUpper(mech), User: "riskwatch", Password: "pw", Topics: []string{"riskwatch.alerts"}})
		args := []string{"-kafka", kb.Addr, "-kafka.ca-file", kb.PKI.CAFile}
		if mech != "" {
			args = append(args, "-kafka.sasl", mech, "-kafka.username", "riskwatch")
		}
		c, err := parse("serve", args, func(k string) string { return map[string]string{"RISKWATCH_KAFKA_PASSWORD": "pw"}[k] }, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.brokers()
		if err != nil {
			t.Fatal(err)
		}
		w := newTopicWriter(b, "riskwatch.alerts")
		defer w.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := w.Publish(ctx, "41", "scope-1", []byte(`{"key":"a"}`)); err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs, Dialer: b.Dialer(), Topic: "riskwatch.alerts", Partition: 0, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for _, h := range m.Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers[desk.HeaderContractVersion] != "1" || headers["content-type"] != "application/json" || headers[desk.HeaderEventID] != "41" || string(m.Key) != "scope-1" {
			t.Errorf("%s: message %q with headers %v", b, m.Key, headers)
		}
		if mech != "" {
			continue
		}
		kcat, err := exec.LookPath("kcat")
		if err != nil {
			t.Log("kcat not installed: not read by an external client")
			return
		}
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", kb.Addr, "-t", "riskwatch.alerts", "-o", "beginning", "-e", "-q",
			"-X", "security.protocol=SSL", "-X", "ssl.ca.location="+kb.PKI.CAFile, "-f", "%k|%h|%s\n").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != `scope-1|contract-version=1,event-id=41,content-type=application/json|{"key":"a"}` {
			t.Errorf("kcat read %q", got)
		}
	}
}

// syncBuffer is a log that serve's goroutines write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
