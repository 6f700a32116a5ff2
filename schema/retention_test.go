package schema_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"riskwatch/schema"
	"riskwatch/schema/schematest"
)

// TestRetentionDropsWholeOldMonths stores records and quarantined messages
// on both sides of the cutoffs, drops what Expired lists, and checks that
// exactly the months ending by their cutoff went, in every table, and that
// a second run finds nothing and dropping again is harmless.
func TestRetentionDropsWholeOldMonths(t *testing.T) {
	conn, _ := schematest.Open(t)
	ctx := context.Background()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	occurred := []string{"2019-12-15 08:00:00", "2020-01-31 23:59:59", "2020-02-01 00:00:00", "2020-03-10 12:00:00"}
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO event_versions (source, id, version, ver, updated_at, occurred_at, ingested_at)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range occurred {
		if err := batch.Append("hotline", fmt.Sprint("R", i), uint32(1), uint64(1), utc(at), utc(at), utc(at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	received := []string{"2020-01-10 00:00:00", "2020-02-10 00:00:00"}
	batch, err = conn.PrepareBatch(ctx, `INSERT INTO rejected_events (topic, partition, offset, reason, received_at)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range received {
		if err := batch.Append("hotline.workorders", int32(0), int64(i), "test", utc(at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	// Events: mid-February keeps February. Quarantine: the 1st of February
	// is the end of January, which goes.
	eventsBefore, quarantineBefore := utc("2020-02-15 00:00:00"), utc("2020-02-01 00:00:00")
	expired, err := schema.Expired(ctx, conn, eventsBefore, quarantineBefore)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range expired {
		got = append(got, fmt.Sprintf("%s %s %d", p.Table, p.ID, p.Rows))
	}
	slices.Sort(got)
	want := []string{"event_versions 201912 1", "event_versions 202001 1", "events 201912 1", "events 202001 1", "rejected_events 202001 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("expired %q, want %q", got, want)
	}
	for _, p := range expired {
		if err := schema.Drop(ctx, conn, p); err != nil {
			t.Fatal(err)
		}
	}

	for _, table := range []string{"event_versions", "events"} {
		var kept []string
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT toString(occurred_at) FROM %s ORDER BY occurred_at`, table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			kept = append(kept, s)
		}
		rows.Close()
		if !slices.Equal(kept, occurred[2:]) {
			t.Errorf("%s kept %q, want %q (February and March)", table, kept, occurred[2:])
		}
	}
	var quarantined []string
	rows, err := conn.Query(ctx, `SELECT toString(received_at) FROM rejected_events ORDER BY received_at`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		quarantined = append(quarantined, s)
	}
	rows.Close()
	if !slices.Equal(quarantined, received[1:]) {
		t.Errorf("quarantine kept %q, want %q", quarantined, received[1:])
	}

	again, err := schema.Expired(ctx, conn, eventsBefore, quarantineBefore)
	if err != nil || len(again) != 0 {
		t.Errorf("second run: %v (%v), want nothing", again, err)
	}
	if err := schema.Drop(ctx, conn, expired[0]); err != nil {
		t.Errorf("dropping a partition already gone: %v", err)
	}
}
