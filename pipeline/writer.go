package pipeline

import (
	"context"
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
	region, province, city, county, township, village, grid_code,
	category, category_raw, tags, kind, status, status_raw,
	channel, urgency, handle_unit, register_org, register_level,
	accepted_at, deadline, finished_at, satisfaction, answer_rejected,
	head_count, petitioner_count, amount,
	collective, repeat, repeat_num, skip_level, self_resolved,
	title, text, reply, address, lng, lat,
	person_keys, person_roles, person_names, person_phones, person_phone_keys, person_id_keys, person_sealed,
	warnings, topic, partition, offset)`

// WriteEvents inserts events into event_versions (and so into events).
func (w *EventWriter) WriteEvents(ctx context.Context, events []Stored) error {
	batch, err := w.conn.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer batch.Close() // no-op after Send; releases the connection on early return
	now := w.now().UTC()
	var p persons
	for i := range events {
		e := &events[i]
		p.set(e.Persons)
		r := e.Region
		if err := batch.Append(
			string(e.Source), e.ID, e.Version, e.Order(), e.UpdatedAt, e.OccurredAt, now,
			r.Code, r.Province(), r.City(), r.County(), r.Township(), r.Village(), e.GridCode,
			e.Category, e.RawCategory, e.Tags, e.Kind, string(e.Status), e.RawStatus,
			e.Channel, e.Urgency, e.HandleUnit, e.RegisterOrg, e.RegisterLevel,
			nullTime(e.AcceptedAt), nullTime(e.Deadline), nullTime(e.FinishedAt), e.Satisfaction, u8(e.AnswerRejected),
			nullCount(e.HeadCount), nullCount(e.PetitionerCount), nullAmount(e.Amount),
			u8(e.Collective), u8(e.Repeat), e.RepeatNum, u8(e.SkipLevel), u8(e.SelfResolved),
			e.Title, e.Text, e.Reply, e.Address, e.Lng, e.Lat,
			p.keys, p.roles, p.names, p.phones, p.phoneKeys, p.idKeys, p.sealed,
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

// persons turns []risk.Person into the parallel arrays of the schema.
type persons struct {
	keys, roles, names, phones, phoneKeys, idKeys, sealed []string
}

func (p *persons) set(ps []risk.Person) {
	// New slices per event: the batch keeps references until Send.
	*p = persons{
		roles: make([]string, len(ps)), names: make([]string, len(ps)), phones: make([]string, len(ps)),
		phoneKeys: make([]string, len(ps)), idKeys: make([]string, len(ps)), sealed: make([]string, len(ps)),
	}
	for i, x := range ps {
		p.roles[i], p.names[i], p.phones[i] = x.Role, x.Name, x.Phone
		p.phoneKeys[i], p.idKeys[i], p.sealed[i] = x.PhoneKey, x.IDKey, x.Sealed
		for _, k := range []string{x.IDKey, x.PhoneKey} {
			if k != "" && !slices.Contains(p.keys, k) {
				p.keys = append(p.keys, k)
			}
		}
	}
	if p.keys == nil {
		p.keys = []string{}
	}
}

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nullCount(n int32) *int32 {
	if n < 0 {
		return nil
	}
	return &n
}

func nullAmount(a float64) *float64 {
	if a < 0 {
		return nil
	}
	return &a
}
