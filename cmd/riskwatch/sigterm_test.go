package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// TestSigtermDuringBurst is an operator restarting the service while a burst
// of the three feeds is ingested: riskwatch serve, on the embedded broker
// with its data on disk, is stopped with SIGTERM six times about a second
// apart, each time in the middle of ingestion, and started again. In the end
// every version of every record is stored, every offset committed, and the
// quarantine holds exactly the bad messages.
func TestSigtermDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	// ClickHouse across a slow network, where sending a big batch takes
	// seconds: a SIGTERM finds an insert in flight.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = slowLink(t, u.Host, 8<<20)
	s := &server{t: t, bin: buildBinary(t), dsn: u.String(), pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t),
		// The default batches: big, flushed by age while the next one fills.
		flags: []string{"-pipeline.max-batch-rows", "50000", "-pipeline.max-batch-age", "2s"}}
	c, err := parse("serve", nil, func(string) string { return "" }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	feeds := c.feeds()

	msgs := benchMessages(90000, 11)
	versions, records := map[string]uint64{}, map[string]uint64{}
	for src, ms := range msgs {
		ids := map[string]bool{}
		for _, m := range ms {
			ids[string(m.Key)] = true
		}
		versions[string(src)], records[string(src)] = uint64(len(ms)), uint64(len(ids))
	}
	// Bad messages among the good ones: truncated JSON and records without an id.
	bad := map[string]bool{} // topic/key
	for _, f := range feeds {
		ms := msgs[f.Source]
		var out []kafka.Message
		for i, m := range ms {
			out = append(out, m)
			if i%1500 == 0 {
				key := fmt.Sprintf("BAD-%s-%d", f.Source, i)
				value := `{"caseNo":"` + key + `","updateTime":"2020-03-01 10:`
				if i%3000 == 0 {
					value = `{"version":1,"updateTime":"2020-03-01 10:00:00"}`
				}
				out = append(out, kafka.Message{Key: []byte(key), Value: []byte(value)})
				bad[f.Topic+"/"+key] = true
			}
		}
		msgs[f.Source] = out
	}

	s.start()
	conn := schematest.Connect(t, dsn)
	rowsStored := func() uint64 {
		var n uint64
		if err := conn.QueryRow(context.Background(), `SELECT count() FROM event_versions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Upstream publishes the burst over 20 seconds, while the operator
	// restarts the service.
	produced := make(chan error, 1)
	go func() { produced <- publish(s.kafkaAddr, feeds, msgs, 20*time.Second) }()
	const stops = 6
	for range stops {
		// A second after rows started coming in again.
		before := rowsStored()
		for deadline := time.Now().Add(30 * time.Second); rowsStored() == before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second)
		s.stop()
		s.start()
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	// Let it finish: every offset committed.
	cl := &kafka.Client{Addr: kafka.TCP(s.kafkaAddr)}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		done := true
		var lagErr error
		for _, f := range feeds {
			ps, err := pipeline.Lag(context.Background(), cl, f)
			if err != nil {
				done, lagErr = false, err
				break
			}
			for _, p := range ps {
				done = done && p.CommittedOffset == p.EndOffset
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets not all committed 3 minutes after the last restart (%v)\n%s", lagErr, s.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.stop()

	perSource := func(query string) map[string]uint64 {
		rows, err := conn.Query(context.Background(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]uint64{}
		for rows.Next() {
			var src string
			var n uint64
			if err := rows.Scan(&src, &n); err != nil {
				t.Fatal(err)
			}
			out[src] = n
		}
		return out
	}
	for _, check := range []struct {
		what, query string
		want        map[string]uint64
	}{
		{"versions", `SELECT source, count() FROM event_versions FINAL GROUP BY source`, versions},
		{"distinct versions", `SELECT source, uniqExact(id, ver) FROM event_versions GROUP BY source`, versions},
		{"records", `SELECT source, count() FROM events FINAL GROUP BY source`, records},
		{"distinct records", `SELECT source, uniqExact(id) FROM event_versions GROUP BY source`, records},
	} {
		if got := perSource(check.query); !maps.Equal(got, check.want) {
			t.Errorf("%s after %d SIGTERMs: %v, want %v", check.what, stops, got, check.want)
		}
	}
	rows, err := conn.Query(context.Background(), `SELECT topic, key FROM rejected_events FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	quarantined := map[string]bool{}
	for rows.Next() {
		var topic, key string
		if err := rows.Scan(&topic, &key); err != nil {
			t.Fatal(err)
		}
		quarantined[topic+"/"+key] = true
	}
	rows.Close()
	if !maps.Equal(quarantined, bad) {
		t.Errorf("quarantine holds %d messages, want the %d bad ones; unexpected %v, missing %v", len(quarantined), len(bad),
			diff(quarantined, bad), diff(bad, quarantined))
	}
}

// diff lists the keys of a that b lacks, at most ten.
func diff(a, b map[string]bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if !b[k] && len(out) < 10 {
			out = append(out, k)
		}
	}
	return out
}

// slowLink forwards TCP connections to target, sending what the client
// writes at bytesPerSec and answering at full speed, and returns its address.
func slowLink(t *testing.T, target string, bytesPerSec int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() {
				defer u.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := u.Write(buf[:n]); err != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(bytesPerSec))
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer c.Close()
				io.Copy(c, u)
			}()
		}
	}()
	return ln.Addr().String()
}

// publish writes each feed's messages in order, spread evenly over d, as
// live upstream systems would.
func publish(addr string, feeds []pipeline.Feed, msgs map[risk.Source][]kafka.Message, d time.Duration) error {
	const step = 100 * time.Millisecond
	steps := int(d / step)
	writers := map[risk.Source]*kafka.Writer{}
	for _, f := range feeds {
		w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: f.Topic, Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireOne}
		defer w.Close()
		writers[f.Source] = w
	}
	tick := time.NewTicker(step)
	defer tick.Stop()
	for i := range steps {
		for src, w := range writers {
			ms := msgs[src]
			if err := w.WriteMessages(context.Background(), ms[i*len(ms)/steps:(i+1)*len(ms)/steps]...); err != nil {
				return fmt.Errorf("produce to %s: %w", w.Topic, err)
			}
		}
		<-tick.C
	}
	return nil
}
