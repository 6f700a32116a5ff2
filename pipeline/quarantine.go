package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Quarantined is one message of the quarantine (rejected_events).
type Quarantined struct {
	Topic      string    `json:"topic"`
	Partition  int32     `json:"partition"`
	Offset     int64     `json:"offset"`
	Source     string    `json:"source"`
	Key        string    `json:"key"`
	Reason     string    `json:"reason"`
	ReceivedAt time.Time `json:"received_at"`
	Value      string    `json:"value,omitempty"` // the raw message, only when opened: personal data
}

// QuarantineReader reads the quarantine.
type QuarantineReader struct {
	conn driver.Conn
	open func(sealed string) ([]byte, error)
}

// NewQuarantineReader returns a reader of the rejected_events of conn's
// database. With open non-nil (the personal-data key's OpenBytes) it also
// opens the sealed raw values; nil leaves them sealed and unread.
func NewQuarantineReader(conn driver.Conn, open func(sealed string) ([]byte, error)) *QuarantineReader {
	return &QuarantineReader{conn: conn, open: open}
}

// List returns at most limit quarantined messages of topic ("" for every
// topic), newest first, each once however often it was replayed. A value
// that does not open is an error: the key is not the one it was sealed with.
func (r *QuarantineReader) List(ctx context.Context, topic string, limit int) ([]Quarantined, error) {
	rows, err := r.conn.Query(ctx, `SELECT topic, partition, offset, source, key, value_sealed, reason, received_at
		FROM rejected_events FINAL WHERE ? = '' OR topic = ? ORDER BY received_at DESC, topic, partition, offset LIMIT ?`, topic, topic, limit)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	defer rows.Close()
	var out []Quarantined
	for rows.Next() {
		var q Quarantined
		var sealed string
		if err := rows.Scan(&q.Topic, &q.Partition, &q.Offset, &q.Source, &q.Key, &sealed, &q.Reason, &q.ReceivedAt); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		q.ReceivedAt = q.ReceivedAt.UTC()
		if r.open != nil {
			raw, err := r.open(sealed)
			if err != nil {
				return nil, fmt.Errorf("open %s/%d/%d: %w", q.Topic, q.Partition, q.Offset, err)
			}
			q.Value = string(raw)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return out, nil
}
