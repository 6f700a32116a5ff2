package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/detectors/scenario"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// TestReplicaKilledDuringReplay: two `riskwatch serve` processes share the
// feeds of one broker through consumer groups; one is killed (SIGKILL) in
// the middle of a replay. The other takes its partitions and its claims:
// every record is stored once, every bad message quarantined once, every
// offset committed; the ingestion-time detector's windows are each run
// once (no overlap, none left running) and every planted word of extreme
// intent has its alert; every event the desks queued reaches its topic, a
// second time at most for the one the dead replica may have sent without
// recording it.
func TestReplicaKilledDuringReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := context.Background()
	c, err := parse("serve", nil, func(string) string { return "" }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	feeds := c.feeds()
	// The upstream broker, outside both replicas, with every topic made.
	broker, err := pipeline.StartEmbeddedBroker(ctx, "127.0.0.1:0", "", append([]string{c.AlertTopic, c.CaseTopic}, c.feedTopics()...), c.Partitions)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	_, dsn := schematest.Open(t)
	pool, pg := schematest.OpenPostgres(t)
	bin := buildBinary(t)
	replica := func() *server {
		return &server{t: t, bin: bin, dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t),
			flags: []string{"-kafka", broker.Addr(), "-desks", "../../deploy/desks.yaml", "-pipeline.max-batch-rows", "500"}}
	}
	a, b := replica(), replica()
	a.bootstrap()
	a.start()
	b.start()
	defer a.stop()

	s := scenario.Generate(scenario.Config{Seed: 4, Weeks: 5, Townships: 4, Scale: 0.4})
	produced := make(chan error, 1)
	go func() { produced <- publish(broker.Addr(), feeds, s.Messages, 12*time.Second) }()
	conn := schematest.Connect(t, dsn)
	stored := func() (n uint64) {
		if err := conn.QueryRow(ctx, `SELECT count() FROM event_versions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Killed once both ingest: a third of the way through the replay.
	time.Sleep(4 * time.Second)
	if stored() == 0 {
		t.Fatalf("nothing stored 4 s into the replay\n%s\n%s", a.log, b.log)
	}
	b.kill()
	if !strings.Contains(b.log.String(), "partitions assigned") {
		t.Fatalf("the killed replica held no partitions:\n%s", b.log)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	// The survivor catches up, then runs out the dead one's claims (a
	// detector window's lease is two timeouts and a minute).
	want := map[string]int64{}
	for src, n := range s.Truth.Messages {
		want[string(src)] = int64(n)
	}
	a.caughtUp(want)
	caughtUp := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var running, unsent int
		var last *time.Time
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM detector_runs WHERE status <> 'done'),
			(SELECT count(*) FROM outbox WHERE channel = 'kafka' AND sent_at IS NULL),
			(SELECT max(window_end) FROM detector_runs WHERE detector = 'extreme_intent')`).Scan(&running, &unsent, &last)
		if err != nil {
			t.Fatal(err)
		}
		if running == 0 && unsent == 0 && last != nil && last.After(caughtUp) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 minutes after catching up: %d detector windows not done, %d events unsent\n%s", running, unsent, a.log)
		}
		time.Sleep(time.Second)
	}

	perSource := func(query string) map[risk.Source]int {
		rows, err := conn.Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[risk.Source]int{}
		for rows.Next() {
			var src string
			var n uint64
			if err := rows.Scan(&src, &n); err != nil {
				t.Fatal(err)
			}
			out[risk.Source(src)] = int(n)
		}
		return out
	}
	topics := map[string]risk.Source{}
	for _, f := range feeds {
		topics[f.Topic] = f.Source
	}
	quarantined := map[risk.Source]int{}
	for topic, n := range perSource(`SELECT topic, count() FROM rejected_events FINAL GROUP BY topic`) {
		quarantined[topics[string(topic)]] = n
	}
	for _, check := range []struct {
		what string
		got  map[risk.Source]int
		want scenario.Counts
	}{
		{"records", perSource(`SELECT source, count() FROM events FINAL GROUP BY source`), s.Truth.Records},
		{"distinct records", perSource(`SELECT source, uniqExact(id) FROM event_versions GROUP BY source`), s.Truth.Records},
		{"quarantined", quarantined, s.Truth.Bad},
	} {
		if !maps.Equal(check.got, map[risk.Source]int(check.want)) {
			t.Errorf("%s after a replica was killed: %v, want %v", check.what, check.got, check.want)
		}
	}

	var overlaps int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM detector_runs x JOIN detector_runs y ON x.detector = y.detector
		AND x.window_start < y.window_start AND y.window_start < x.window_end`).Scan(&overlaps); err != nil {
		t.Fatal(err)
	}
	if overlaps > 0 {
		t.Errorf("%d detector windows overlap another: a window ran twice", overlaps)
	}
	raised := a.alerts("extreme_intent")
	for _, inc := range s.Truth.Incidents {
		if inc.Detector != scenario.ExtremeIntent {
			continue
		}
		for _, e := range inc.Records {
			if raised[e.ID] == "" {
				t.Errorf("planted %s (%s): no alert cites %s", inc.ID, inc.What, e.ID)
			}
		}
	}

	// Every queued event is in its topic, under its id; a repeat (one the
	// dead replica sent without recording it) is the same event.
	for _, topic := range []string{c.AlertTopic, c.CaseTopic} {
		rows, err := pool.Query(ctx, `SELECT id::text, payload FROM outbox WHERE channel = 'kafka' AND target->>'topic' = $1`, topic)
		if err != nil {
			t.Fatal(err)
		}
		queued := map[string]string{}
		for rows.Next() {
			var id string
			var p []byte
			if err := rows.Scan(&id, &p); err != nil {
				t.Fatal(err)
			}
			queued[id] = string(p)
		}
		rows.Close()
		if len(queued) == 0 && topic == c.AlertTopic {
			t.Errorf("%s: no events at all", topic)
		}
		got := readTopic(t, broker.Addr(), topic)
		extra := 0
		for id, p := range queued {
			if len(got[id]) == 0 {
				t.Errorf("%s: event %s never arrived: %.200s", topic, id, p)
			}
			for _, v := range got[id] {
				if v != p {
					t.Errorf("%s: event %s arrived as %.200s, queued as %.200s", topic, id, v, p)
				}
			}
			extra += max(len(got[id])-1, 0)
		}
		if extra > 1 {
			t.Errorf("%s: %d events arrived twice; only the one a killed replica had in flight may", topic, extra)
		}
	}
}

// readTopic lists the values of a topic's messages by their event-id.
func readTopic(t *testing.T, addr, topic string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	parts, err := kafka.LookupPartitions(ctx, "tcp", addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range parts {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < end; {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			batch := conn.ReadBatch(1, 10<<20)
			for {
				m, err := batch.ReadMessage()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					break
				}
				id := ""
				for _, h := range m.Headers {
					if h.Key == desk.HeaderEventID {
						id = string(h.Value)
					}
				}
				out[id] = append(out[id], string(m.Value))
				off = m.Offset + 1
			}
			batch.Close()
			if _, err := conn.Seek(off, kafka.SeekAbsolute); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	return out
}
