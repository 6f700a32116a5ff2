package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// assignments reads from the broker which partitions each member of f's
// group holds.
func assignments(t *testing.T, addr string, f pipeline.Feed) map[string][]int {
	t.Helper()
	resp, err := (&kafka.Client{Addr: kafka.TCP(addr)}).DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{f.Group}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, g := range resp.Groups {
		if g.GroupState != "Stable" {
			return nil
		}
		for _, m := range g.Members {
			for _, tp := range m.MemberAssignments.Topics {
				out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
			}
		}
	}
	return out
}

// TestRebalanceStopsWatermarksOfLostPartitions: a replica ingests a
// 3-partition topic alone and, caught up, advances the watermarks of its
// partitions to the clock. A second replica joins and takes partitions, but
// stores nothing (its ClickHouse is away). The first must not advance the
// watermark of a partition it lost — the detectors would take the data of
// that partition as arrived — and goes on advancing those it kept.
func TestRebalanceStopsWatermarksOfLostPartitions(t *testing.T) {
	conn, _ := schematest.Open(t)
	f := pipeline.Feed{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("group")}
	addr := startBroker(t, 3, f.Topic)
	var msgs []kafka.Message
	for i := range 300 {
		msgs = append(msgs, workOrder(i, 1))
	}
	produce(t, addr, f.Topic, msgs...)

	cfg := testConfig()
	cfg.IdleMark = 200 * time.Millisecond
	m := newMetrics()
	startConsumer(t, addr, f, pipeline.NewEventWriter(conn), m, cfg)
	marks := func() map[int]time.Time {
		rows, err := conn.Query(context.Background(), `SELECT partition, max(event_time) FROM ingest_watermarks WHERE topic = ? GROUP BY partition`, f.Topic)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int]time.Time{}
		for rows.Next() {
			var p int32
			var at time.Time
			if err := rows.Scan(&p, &at); err != nil {
				t.Fatal(err)
			}
			out[int(p)] = at
		}
		return out
	}
	start := time.Now()
	waitFor(t, 60*time.Second, "the three partitions caught up and idle", func() bool {
		ms := marks()
		return len(ms) == 3 && ms[0].After(start) && ms[1].After(start) && ms[2].After(start)
	})
	var alone string
	for member := range assignments(t, addr, f) {
		alone = member
	}

	groupReader(t, addr, f) // the second replica: it joins, and never stores anything
	var lost, kept []int
	waitFor(t, 30*time.Second, "the second replica to take partitions", func() bool {
		a := assignments(t, addr, f)
		if len(a) != 2 {
			return false
		}
		kept = a[alone]
		lost = nil
		for member, ps := range a {
			if member != alone {
				lost = append(lost, ps...)
			}
		}
		return len(lost) > 0 && len(kept) > 0
	})
	rebalanced := time.Now()
	time.Sleep(3 * time.Second) // many idle marks
	ms := marks()
	for _, p := range lost {
		if ms[p].After(rebalanced) {
			t.Errorf("partition %d, lost in the rebalance, has its watermark advanced to %v, after the rebalance at %v", p, ms[p], rebalanced)
		}
	}
	for _, p := range kept {
		if !ms[p].After(rebalanced.Add(time.Second)) {
			t.Errorf("partition %d, kept, has its watermark at %v, not advanced since the rebalance at %v", p, ms[p], rebalanced)
		}
	}
	t.Logf("kept %v, lost %v", slices.Sorted(slices.Values(kept)), slices.Sorted(slices.Values(lost)))
}
