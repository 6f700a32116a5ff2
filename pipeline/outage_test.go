package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema"
	"riskwatch/schema/schematest"
)

// workOrder is a hotline message of record i at version v. Every record has
// its own caller, so each message is distinct.
func workOrder(i, v int) kafka.Message {
	id := fmt.Sprintf("ZJSX12345-20200301-%05d", i)
	statuses := []string{"受理", "派单", "办理中", "办结"}
	b, _ := json.Marshal(map[string]any{
		"caseNo": id, "version": v,
		"updateTime": time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second + time.Duration(v)*time.Hour).Format(time.RFC3339),
		"callTime":   time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339),
		"channel":    "电话", "contactUser": "张三丰", "contactTel": fmt.Sprintf("139%08d", i),
		"appealType": "投诉", "catalog": "劳动和社会保障/劳动关系/拖欠工资",
		"content":    "来电人反映枫桥镇某工地拖欠工资，多次讨要未果，请求协调处理。",
		"regionCode": "330681109", "status": statuses[(v-1)%len(statuses)],
	})
	return kafka.Message{Key: []byte(id), Value: b}
}

// proxy forwards TCP to ClickHouse and can be cut: an outage as the
// pipeline sees it, without stopping the server other tests use.
type proxy struct {
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

// down refuses new connections and breaks the open ones.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopen proxy: %v", err)
	}
	p.serve(ln)
}

// TestClickHouseOutage cuts ClickHouse off in the middle of ingestion: the
// ingester must stay up, stop fetching, retry, and once ClickHouse is back
// store every message exactly once.
func TestClickHouseOutage(t *testing.T) {
	conn, dsn := schematest.Open(t)
	u, _ := url.Parse(dsn)
	px := startProxy(t, u.Host)
	u.Host = px.addr
	viaProxy, err := schema.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer viaProxy.Close()

	f := pipeline.Feed{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("group")}
	addr := startBroker(t, 3, f.Topic)
	reg := prometheus.NewRegistry()
	m := pipeline.NewMetrics(reg)
	c := startConsumer(t, addr, f, pipeline.NewEventWriter(viaProxy), m, testConfig())

	const records = 2000
	var first, second []kafka.Message
	for i := range records {
		first = append(first, workOrder(i, 1))
		second = append(second, workOrder(i, 2))
	}
	produce(t, addr, f.Topic, first...)
	waitFor(t, 60*time.Second, "the first versions stored", func() bool {
		return count(t, conn, `SELECT count() FROM event_versions FINAL`) == records
	})

	px.down()
	produce(t, addr, f.Topic, second...)
	stalled := func() float64 { return testutil.ToFloat64(m.StalledGauge(risk.SourceHotline)) }
	waitFor(t, 30*time.Second, "the ingester to report the stall", func() bool { return stalled() == 1 })
	time.Sleep(2 * time.Second) // a few retries with backoff
	select {
	case err := <-c.done:
		t.Fatalf("ingester exited during the outage: %v", err)
	default:
	}
	stats := pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{addr}}, []pipeline.Feed{f}, m)
	s, err := stats.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s[0].Lag == 0 {
		t.Errorf("lag = 0 during the outage, want the second versions uncommitted")
	}

	px.up(t)
	waitFor(t, 90*time.Second, "lag to recover after the outage", func() bool {
		s, err := stats.Stats(context.Background())
		return err == nil && s[0].Lag == 0
	})
	if n := count(t, conn, `SELECT count() FROM event_versions FINAL`); n != 2*records {
		t.Errorf("versions stored = %d, want %d", n, 2*records)
	}
	if n := count(t, conn, `SELECT count() FROM matters WHERE version = 2`); n != records {
		t.Errorf("matters at version 2 = %d, want %d", n, records)
	}
	if stalled() != 0 {
		t.Errorf("still reported stalled after recovery")
	}
}

// crashingSink writes the events of its third flush, then dies before the
// commit, as a process killed in the middle of a batch would.
type crashingSink struct {
	*pipeline.EventWriter
	mu      sync.Mutex
	flushes int
	crash   func()
	dead    bool
}

func (s *crashingSink) WriteEvents(ctx context.Context, events []pipeline.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return fmt.Errorf("dead")
	}
	s.flushes++
	if err := s.EventWriter.WriteEvents(ctx, events); err != nil {
		return err
	}
	if s.flushes == 3 {
		s.dead = true
		s.crash()
		return fmt.Errorf("killed after writing, before the commit")
	}
	return nil
}

func (s *crashingSink) WriteWatermarks(ctx context.Context, marks []pipeline.Watermark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return fmt.Errorf("dead")
	}
	return s.EventWriter.WriteWatermarks(ctx, marks)
}

// TestCrashMidBatch kills the consumer after ClickHouse stored a batch and
// before its offsets were committed, then starts a new one: the batch is
// replayed, and counting still sees every record and version once.
func TestCrashMidBatch(t *testing.T) {
	conn, _ := schematest.Open(t)
	f := pipeline.Feed{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("group")}
	addr := startBroker(t, 1, f.Topic)

	const records = 3000
	var msgs []kafka.Message
	for i := range records {
		msgs = append(msgs, workOrder(i, 1), workOrder(i, 2))
	}
	msgs = append(msgs, workOrder(7, 1), workOrder(8, 2)) // duplicates, and an old version last
	produce(t, addr, f.Topic, msgs...)

	cfg := testConfig()
	cfg.MaxBatchRows = 500
	cfg.MaxBatchAge = time.Minute // batches of exactly 500 until the crash
	sink := &crashingSink{EventWriter: pipeline.NewEventWriter(conn)}
	crashed := make(chan struct{})
	sink.crash = func() { close(crashed) }
	c := startConsumer(t, addr, f, sink, newMetrics(), cfg)
	select {
	case <-crashed:
	case <-time.After(60 * time.Second):
		t.Fatal("the third flush never came")
	}
	c.stop(t)
	stored := count(t, conn, `SELECT count() FROM event_versions`)
	if stored != 3*500 {
		t.Fatalf("rows stored before the crash = %d, want %d", stored, 3*500)
	}

	m := newMetrics()
	cfg.MaxBatchAge = 200 * time.Millisecond
	startConsumer(t, addr, f, pipeline.NewEventWriter(conn), m, cfg)
	stats := pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{addr}}, []pipeline.Feed{f}, m)
	waitFor(t, 60*time.Second, "the restarted consumer to catch up", func() bool {
		s, err := stats.Stats(context.Background())
		return err == nil && s[0].Lag == 0
	})
	replayed, _ := m.Consumed(risk.SourceHotline)
	if int(replayed) != len(msgs)-2*500 {
		t.Errorf("restarted consumer read %v messages, want %d: it resumes from the last commit", replayed, len(msgs)-2*500)
	}
	if raw, final := count(t, conn, `SELECT count() FROM event_versions`), count(t, conn, `SELECT count() FROM event_versions FINAL`); raw <= final || final != 2*records {
		t.Errorf("versions: %d rows, %d distinct; want the replayed batch twice in the rows and %d distinct", raw, final, 2*records)
	}
	if n := count(t, conn, `SELECT count() FROM matters`); n != records {
		t.Errorf("matters = %d, want %d", n, records)
	}
	if n := count(t, conn, `SELECT count() FROM matters WHERE version != 2`); n != 0 {
		t.Errorf("%d records not at their newest version", n)
	}
}
