package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// examples are the contract's example files, beside the checkout.
var examples = filepath.Join("..", "..", "shared", "contracts", "examples")

func exampleLines(t testing.TB, feed string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, feed+".jsonl"))
	if err != nil {
		t.Fatalf("read contract examples (../shared must be beside the checkout): %v", err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

func startBroker(t testing.TB, partitions int, topics ...string) string {
	t.Helper()
	b, err := pipeline.StartEmbeddedBroker(t.Context(), "127.0.0.1:0", "", topics, partitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func produce(t testing.TB, addr, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce %d messages to %s: %v", len(msgs), topic, err)
	}
}

func testProtector(t testing.TB) *normalize.Protector {
	t.Helper()
	p, err := normalize.NewProtector(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig() pipeline.Config {
	return pipeline.Config{MaxBatchRows: 1000, MaxBatchBytes: 8 << 20, MaxBatchAge: 200 * time.Millisecond, IdleMark: time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		MaxSkew: 15 * time.Minute, Earliest: time.Date(2000, 1, 1, 0, 0, 0, 0, risk.CST)}
}

func decoderFor(n *normalize.Normalizer, s risk.Source) pipeline.Decoder {
	switch s {
	case risk.SourceHotline:
		return n.Hotline
	case risk.SourcePetition:
		return n.Petition
	}
	return n.Grid
}

// consumer is one running ingester of a feed in a consumer group.
type consumer struct {
	cancel context.CancelFunc
	done   chan error
	reader *pipeline.GroupReader
	once   sync.Once
}

// groupReader joins f's consumer group on the broker at addr, with timeouts
// short enough for tests; it leaves the group when the test ends.
func groupReader(t testing.TB, addr string, f pipeline.Feed) *pipeline.GroupReader {
	t.Helper()
	r, err := pipeline.NewGroupReader(kafka.ConsumerGroupConfig{
		ID: f.Group, Brokers: []string{addr}, Topics: []string{f.Topic}, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
	}, kafka.ReaderConfig{Brokers: []string{addr}, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type sink interface {
	WriteEvents(context.Context, []pipeline.Stored) error
	WriteRejected(context.Context, []pipeline.Rejected) error
	WriteWatermarks(context.Context, []pipeline.Watermark) error
}

func startConsumer(t testing.TB, addr string, f pipeline.Feed, out sink, m *pipeline.Metrics, cfg pipeline.Config) *consumer {
	t.Helper()
	p := testProtector(t)
	r := groupReader(t, addr, f)
	g := pipeline.NewIngester(f.Source, r, out, decoderFor(normalize.New(p), f.Source), p.SealBytes, m, cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{cancel: cancel, done: make(chan error, 1), reader: r}
	go func() { c.done <- g.Run(ctx) }()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels the ingester and waits for it; later calls do nothing.
func (c *consumer) stop(t testing.TB) {
	t.Helper()
	c.once.Do(func() { c.stopOnce(t) })
}

func (c *consumer) stopOnce(t testing.TB) {
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("ingester: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("ingester did not stop within 30s")
	}
	c.reader.Close()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func count(t testing.TB, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func newMetrics() *pipeline.Metrics { return pipeline.NewMetrics(prometheus.NewRegistry()) }

// lines reads an io.Reader into non-empty lines.
func lines(r io.Reader) []string {
	var out []string
	s := bufio.NewScanner(r)
	for s.Scan() {
		if s.Text() != "" {
			out = append(out, s.Text())
		}
	}
	return out
}
