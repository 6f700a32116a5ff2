package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// workOrderAt is a hotline message of record id, raised at called and
// written upstream at updated.
func workOrderAt(id string, called, updated time.Time) kafka.Message {
	b, _ := json.Marshal(map[string]any{
		"caseNo": id, "version": 1, "updateTime": updated.Format(time.RFC3339), "callTime": called.Format(time.RFC3339),
		"appealType": "投诉", "catalog": "劳动和社会保障/劳动关系/拖欠工资", "content": "来电人反映工地拖欠工资。",
		"regionCode": "330681109", "status": "受理",
	})
	return kafka.Message{Key: []byte(id), Value: b}
}

// ingest produces msgs to a new one-partition topic and ingests them into
// out until every offset is committed.
func ingest(t *testing.T, conn clickhouse.Conn, out sink, msgs []kafka.Message) (pipeline.Feed, *pipeline.Metrics) {
	t.Helper()
	f := pipeline.Feed{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("group")}
	addr := startBroker(t, 1, f.Topic)
	produce(t, addr, f.Topic, msgs...)
	m := newMetrics()
	startConsumer(t, addr, f, out, m, testConfig())
	stats := pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{addr}}, []pipeline.Feed{f}, m)
	waitFor(t, 60*time.Second, "every offset committed", func() bool {
		s, err := stats.Stats(context.Background())
		return err == nil && s[0].Lag == 0 && s[0].Partitions[0].CommittedOffset == int64(len(msgs))
	})
	return f, m
}

// TestClickHouseRefusesARow: the server refuses one row of a batch (a check
// on the table, as a constraint would on current servers): every other row
// is stored, the refused one is quarantined with the server's reason and
// its raw message, and the feed goes on.
func TestClickHouseRefusesARow(t *testing.T) {
	conn, _ := schematest.Open(t)
	const refused = "ZJSX12345-20200301-00042"
	if err := conn.Exec(context.Background(), `ALTER TABLE event_versions ADD COLUMN refuse UInt8 MATERIALIZED throwIf(id = '`+refused+`')`); err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for i := range 100 {
		msgs = append(msgs, workOrder(i, 1))
	}
	f, m := ingest(t, conn, pipeline.NewEventWriter(conn), msgs)

	if n := count(t, conn, `SELECT count() FROM event_versions FINAL`); n != 99 {
		t.Errorf("stored %d versions, want the 99 the server took", n)
	}
	if n := count(t, conn, `SELECT count() FROM events FINAL WHERE id = ?`, refused); n != 0 {
		t.Errorf("the refused record is stored")
	}
	var offset int64
	var reason, sealed string
	if err := conn.QueryRow(context.Background(), `SELECT offset, reason, value_sealed FROM rejected_events FINAL WHERE topic = ?`, f.Topic).Scan(&offset, &reason, &sealed); err != nil {
		t.Fatalf("read quarantine: %v", err)
	}
	raw, err := testProtector(t).OpenBytes(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if offset != 42 || !strings.Contains(reason, "code 395") || !strings.Contains(reason, "throwIf") || string(raw) != string(msgs[42].Value) {
		t.Errorf("quarantined offset %d for %q with %s, want offset 42 with the server's reason and the raw message", offset, reason, raw)
	}
	if stored, rejected := m.Consumed(risk.SourceHotline); stored != 99 || rejected != 1 {
		t.Errorf("counted %v stored and %v rejected, want 99 and 1", stored, rejected)
	}
}

// partitionLimit refuses, as ClickHouse does since version 19 with its
// default max_partitions_per_insert_block of 100, an insert whose rows span
// more than 100 months, and records the most months an insert asked for.
type partitionLimit struct {
	*pipeline.EventWriter
	mu     sync.Mutex
	widest int
}

func (p *partitionLimit) WriteEvents(ctx context.Context, events []pipeline.Stored) error {
	months := map[string]bool{}
	for _, e := range events {
		months[e.OccurredAt.UTC().Format("200601")] = true
	}
	p.mu.Lock()
	p.widest = max(p.widest, len(months))
	p.mu.Unlock()
	if len(months) > 100 {
		return &clickhouse.Exception{Code: 252, Name: "DB::Exception", Message: "Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting."}
	}
	return p.EventWriter.WriteEvents(ctx, events)
}

// TestBatchOf150Months: a replay of history puts 150 months in one batch;
// each insert touches at most 50 of them, and every row is stored.
func TestBatchOf150Months(t *testing.T) {
	conn, _ := schematest.Open(t)
	var msgs []kafka.Message
	first := time.Date(2008, 1, 15, 2, 0, 0, 0, time.UTC)
	for i := range 150 {
		called := first.AddDate(0, i, 0)
		msgs = append(msgs, workOrderAt(fmt.Sprintf("ZJSX12345-HIST-%03d", i), called, called.Add(time.Hour)))
	}
	limit := &partitionLimit{EventWriter: pipeline.NewEventWriter(conn)}
	ingest(t, conn, limit, msgs)

	if n := count(t, conn, `SELECT uniqExact(toYYYYMM(occurred_at)) FROM events FINAL`); n != 150 {
		t.Errorf("stored %d months, want 150", n)
	}
	if n := count(t, conn, `SELECT count() FROM rejected_events`); n != 0 {
		t.Errorf("%d messages quarantined, want none", n)
	}
	if limit.widest > 50 {
		t.Errorf("an insert spanned %d months, want at most 50", limit.widest)
	}
}

// TestUpdateTimeIn2099: a work order written "in 2099" is quarantined and
// does not carry the watermark of its partition into the future.
func TestUpdateTimeIn2099(t *testing.T) {
	conn, _ := schematest.Open(t)
	called := time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC)
	msgs := []kafka.Message{
		workOrderAt("ZJSX12345-20200301-00001", called, called.Add(time.Hour)),
		workOrderAt("ZJSX12345-20200301-00002", called, time.Date(2099, 3, 1, 9, 0, 0, 0, time.UTC)),
		workOrderAt("ZJSX12345-20200301-00003", called, called.Add(2*time.Hour)),
	}
	f, _ := ingest(t, conn, pipeline.NewEventWriter(conn), msgs)

	var offset int64
	var reason string
	if err := conn.QueryRow(context.Background(), `SELECT offset, reason FROM rejected_events FINAL WHERE topic = ?`, f.Topic).Scan(&offset, &reason); err != nil {
		t.Fatalf("read quarantine: %v", err)
	}
	if offset != 1 || !strings.Contains(reason, "2099-03-01") || !strings.Contains(reason, "pipeline.max-skew") {
		t.Errorf("quarantined offset %d for %q, want offset 1 for its updateTime in 2099", offset, reason)
	}
	if n := count(t, conn, `SELECT count() FROM event_versions FINAL`); n != 2 {
		t.Errorf("stored %d versions, want the 2 plausible ones", n)
	}
	var mark time.Time
	if err := conn.QueryRow(context.Background(), `SELECT max(event_time) FROM ingest_watermarks WHERE topic = ?`, f.Topic).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if mark.After(time.Now().Add(15 * time.Minute)) {
		t.Errorf("watermark %v: past the clock", mark)
	}
}
