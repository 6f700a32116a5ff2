package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// TestQuarantineReader lists the quarantine as `riskwatch quarantine` shows
// it: newest first, one topic or all, each message once however often it
// was replayed, raw values only when opened with the key.
func TestQuarantineReader(t *testing.T) {
	conn, _ := schematest.Open(t)
	p := testProtector(t)
	for _, r := range []struct {
		topic      string
		offset     int64
		value      string
		receivedAt string
	}{
		{"hotline.workorders", 8, `{"caseNo":`, "2020-03-01 10:00:00"},
		{"hotline.workorders", 9, `[1,2]`, "2020-03-01 10:00:05"},
		{"hotline.workorders", 9, `[1,2]`, "2020-03-01 10:00:06"}, // replayed
		{"grid.events", 5, `{"eventId":""}`, "2020-03-01 10:00:03"},
	} {
		err := conn.Exec(context.Background(), `INSERT INTO rejected_events (topic, partition, offset, source, key, value_sealed, header_keys, header_values, reason, received_at)
			SELECT ?, 0, ?, 'hotline', '', ?, [], [], 'not JSON', toDateTime(?, 'UTC')`, r.topic, r.offset, p.SealBytes([]byte(r.value)), r.receivedAt)
		if err != nil {
			t.Fatal(err)
		}
	}
	place := func(qs []pipeline.Quarantined) []string {
		var out []string
		for _, q := range qs {
			out = append(out, fmt.Sprintf("%s/%d=%s", q.Topic, q.Offset, q.Value))
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		open  func(string) ([]byte, error)
		topic string
		limit int
		want  []string
	}{
		{"all, sealed", nil, "", 10, []string{"hotline.workorders/9=", "grid.events/5=", "hotline.workorders/8="}},
		{"one topic", nil, "hotline.workorders", 10, []string{"hotline.workorders/9=", "hotline.workorders/8="}},
		{"limit", nil, "", 1, []string{"hotline.workorders/9="}},
		{"opened", p.OpenBytes, "grid.events", 10, []string{`grid.events/5={"eventId":""}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pipeline.NewQuarantineReader(conn, tt.open).List(context.Background(), tt.topic, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(place(got), tt.want) {
				t.Errorf("listed %q, want %q", place(got), tt.want)
			}
		})
	}
	other, err := normalize.NewProtector(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.NewQuarantineReader(conn, other.OpenBytes).List(context.Background(), "", 10); err == nil {
		t.Errorf("values opened with another key: want an error")
	}
}
