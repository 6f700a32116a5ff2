package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// EventWriter stores batches in ClickHouse, one native insert per call.
type EventWriter struct {
	conn driver.Conn
	now  func() time.Time
}

// NewEventWriter returns a writer on conn, whose database holds the tables of
// package schema.
func NewEventWriter(conn driver.Conn) *EventWriter {
	return &EventWriter{conn: conn, now: time.Now}
}

// insertEvents lists its columns: clickhouse-go's PrepareBatch needs them on
// old servers. The materialized view events_mv copies every row into events.
const insertEvents = `INSERT INTO event_versions (source, id, version, ver, updated_at, occurred_at, ingested_at,
	region, county, grid_code,
	category, category_raw, tags, kind, status, status_raw,
	channel, urgency, handle_unit, register_org, register_level,
	accepted_at, deadline, finished_at, satisfaction, answer_rejected,
	head_count, petitioner_count, amount,
	collective, repeat, repeat_num, skip_level, self_resolved,
	title, text, reply, address, lng, lat,
	person_keys, persons, subjects,
	warnings, topic, partition, offset)`

// WriteEvents inserts events into event_versions (and so into events).
func (w *EventWriter) WriteEvents(ctx context.Context, events []Stored) error {
	batch, err := w.conn.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer batch.Close() // no-op after Send; releases the connection on early return
	now := w.now().UTC()
	for i := range events {
		e := &events[i]
		keys, persons, err := personColumns(e.Persons)
		if err != nil {
			return fmt.Errorf("persons of %s/%s: %w", e.Source, e.ID, err)
		}
		if err := batch.Append(
			string(e.Source), e.ID, e.Version, e.Order(), e.UpdatedAt, e.OccurredAt, now,
			e.Region.Code, e.Region.County(), e.GridCode,
			e.Category, e.RawCategory, e.Tags, e.Kind, string(e.Status), e.RawStatus,
			e.Channel, e.Urgency, e.HandleUnit, e.RegisterOrg, e.RegisterLevel,
			utc(e.AcceptedAt), utc(e.Deadline), utc(e.FinishedAt), e.Satisfaction, u8(e.AnswerRejected),
			e.HeadCount, e.PetitionerCount, e.Amount,
			u8(e.Collective), u8(e.Repeat), e.RepeatNum, u8(e.SkipLevel), u8(e.SelfResolved),
			e.Title, e.Text, e.Reply, e.Address, e.Lng, e.Lat,
			keys, persons, e.Subjects,
			e.Warnings, e.Topic, int32(e.Partition), e.Offset,
		); err != nil {
			return fmt.Errorf("append %s/%s: %w", e.Source, e.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send %d events: %w", len(events), err)
	}
	return nil
}

const insertRejected = `INSERT INTO rejected_events (topic, partition, offset, source, key, value_sealed, header_keys, header_values, reason, received_at)`

// WriteRejected inserts quarantined messages into rejected_events.
func (w *EventWriter) WriteRejected(ctx context.Context, rejects []Rejected) error {
	batch, err := w.conn.PrepareBatch(ctx, insertRejected)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer batch.Close()
	now := w.now().UTC()
	for _, r := range rejects {
		keys := make([]string, len(r.Headers))
		values := make([]string, len(r.Headers))
		for i, h := range r.Headers {
			keys[i], values[i] = h.Key, string(h.Value)
		}
		if err := batch.Append(r.Topic, int32(r.Partition), r.Offset, string(r.Source), r.Key, r.Sealed, keys, values, r.Reason, now); err != nil {
			return fmt.Errorf("append %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send %d rejected: %w", len(rejects), err)
	}
	return nil
}

const insertWatermarks = `INSERT INTO ingest_watermarks (topic, partition, next_offset, event_time, written_at)`

// WriteWatermarks records how far each partition has been stored.
func (w *EventWriter) WriteWatermarks(ctx context.Context, marks []Watermark) error {
	if len(marks) == 0 {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, insertWatermarks)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer batch.Close()
	now := w.now().UTC()
	for _, m := range marks {
		t := m.EventTime
		if t.IsZero() {
			t = time.Unix(0, 0)
		}
		if err := batch.Append(m.Topic, int32(m.Partition), uint64(m.NextOffset), t.UTC(), now); err != nil {
			return fmt.Errorf("append watermark %s/%d: %w", m.Topic, m.Partition, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send %d watermarks: %w", len(marks), err)
	}
	return nil
}

// storedPerson is one element of the persons JSON column.
type storedPerson struct {
	Role     string `json:"role"`
	Name     string `json:"name,omitempty"`  // masked
	Phone    string `json:"phone,omitempty"` // masked
	PhoneKey string `json:"phone_key,omitempty"`
	IDKey    string `json:"id_key,omitempty"`
	Sealed   string `json:"sealed,omitempty"`
}

// personColumns returns the linking keys (ID and phone hashes, each once)
// and the persons as JSON.
func personColumns(ps []risk.Person) (keys []string, persons string, err error) {
	keys = []string{}
	if len(ps) == 0 {
		return keys, "[]", nil
	}
	out := make([]storedPerson, len(ps))
	for i, p := range ps {
		out[i] = storedPerson{Role: p.Role, Name: p.Name, Phone: p.Phone, PhoneKey: p.PhoneKey, IDKey: p.IDKey, Sealed: p.Sealed}
		for _, k := range []string{p.IDKey, p.PhoneKey} {
			if k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	b, err := json.Marshal(out)
	return keys, string(b), err
}

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// utc is t in UTC, or the epoch that stands for "none" in the schema.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}
