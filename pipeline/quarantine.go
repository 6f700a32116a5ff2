package pipeline

import (
	"context"
	"fmt"
	"slices"
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

// ReasonCount is how many quarantined messages share one reason.
type ReasonCount struct {
	// Reason is the reason with its particulars folded: every quoted value
	// is "…" and every run of digits is N, so that `updateTime "2020-13-01":
	// unparseable time` of two messages is one reason.
	Reason string    `json:"reason"`
	Count  int       `json:"count"`
	Topics []string  `json:"topics"` // where it happened, sorted
	Latest time.Time `json:"latest"` // when the newest such message was quarantined
}

// reasonQuoted and reasonDigits fold a reason's particulars (RE2, as
// ClickHouse's replaceRegexpAll reads it): a quoted value as the decoders
// quote it (Go's %q, with escapes), and digits — offsets, sizes, masked
// numbers.
const (
	reasonQuoted = `"(?:[^"\\]|\\.)*"`
	reasonDigits = `[0-9]+`
)

// Reasons counts the quarantined messages of topic ("" for every topic)
// by reason, folded as ReasonCount says, most frequent first (ties by
// reason). Each message counts once however often it was replayed. The
// reasons are stored masked; the raw values are never read.
func (r *QuarantineReader) Reasons(ctx context.Context, topic string) ([]ReasonCount, error) {
	rows, err := r.conn.Query(ctx, `SELECT replaceRegexpAll(replaceRegexpAll(reason, ?, '"…"'), ?, 'N') AS folded,
			count() AS n, groupUniqArray(topic), max(received_at)
		FROM rejected_events FINAL WHERE ? = '' OR topic = ?
		GROUP BY folded ORDER BY n DESC, folded`, reasonQuoted, reasonDigits, topic, topic)
	if err != nil {
		return nil, fmt.Errorf("count quarantine reasons: %w", err)
	}
	defer rows.Close()
	out := []ReasonCount{}
	for rows.Next() {
		var c ReasonCount
		var n uint64
		if err := rows.Scan(&c.Reason, &n, &c.Topics, &c.Latest); err != nil {
			return nil, fmt.Errorf("count quarantine reasons: %w", err)
		}
		c.Count, c.Latest = int(n), c.Latest.UTC()
		slices.Sort(c.Topics)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count quarantine reasons: %w", err)
	}
	return out, nil
}
