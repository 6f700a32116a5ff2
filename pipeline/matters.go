package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// MatterCount is how many matters of one feed and category were raised in
// one bucket of time. Counts only: no record, no person.
type MatterCount struct {
	Start    time.Time   `json:"start"` // the bucket's first day, 00:00 in risk.CST
	Source   risk.Source `json:"source"`
	Category string      `json:"category"`
	Count    int         `json:"count"`
}

// PlaceCount is how many matters were raised in one township or village.
type PlaceCount struct {
	Place string `json:"place"` // 9-digit township or 12-digit village code
	Count int    `json:"count"`
}

// MatterReader counts matters (records in their newest state, not deleted
// upstream) for the leaders' charts. It returns aggregates only.
type MatterReader struct {
	conn driver.Conn
}

// NewMatterReader returns a reader on the matters of conn's database.
func NewMatterReader(conn driver.Conn) *MatterReader { return &MatterReader{conn: conn} }

// cstDay is the day of occurred_at (stored in UTC) in risk.CST, computed
// without the server's time-zone data: UTC+8 has no summer time.
const cstDay = `toDate(occurred_at + 28800)`

// Series counts the matters inside region (a division code prefix) raised
// in [from, to), per feed and category, in buckets of a "day" or a "week"
// (Monday to Sunday) of the centres' calendar (risk.CST), oldest bucket
// first. Buckets without matters are absent. A bad region or step is
// ErrInvalid.
func (r *MatterReader) Series(ctx context.Context, region string, from, to time.Time, step string) ([]MatterCount, error) {
	if err := checkSpan(region, from, to); err != nil {
		return nil, err
	}
	bucket := cstDay
	switch step {
	case "day":
	case "week":
		bucket = "toMonday(" + cstDay + ")"
	default:
		return nil, fmt.Errorf("step %q: want day or week: %w", step, risk.ErrInvalid)
	}
	rows, err := r.conn.Query(ctx, `SELECT `+bucket+` AS bucket, source, category, count() FROM matters
		WHERE startsWith(region, ?) AND occurred_at >= ? AND occurred_at < ?
		GROUP BY bucket, source, category ORDER BY bucket, source, category`, region, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("count matters: %w", err)
	}
	defer rows.Close()
	out := []MatterCount{}
	for rows.Next() {
		var day time.Time
		var source string
		var m MatterCount
		var n uint64
		if err := rows.Scan(&day, &source, &m.Category, &n); err != nil {
			return nil, fmt.Errorf("count matters: %w", err)
		}
		m.Start = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, risk.CST)
		m.Source, m.Count = risk.Source(source), int(n)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count matters: %w", err)
	}
	return out, nil
}

// Places ranks the townships or villages (level "township" or "village")
// inside region by the matters raised there in [from, to), most first
// (ties by code), at most limit (0: 20; never more than 500). Matters whose
// region stops above the level are left out.
func (r *MatterReader) Places(ctx context.Context, region string, from, to time.Time, level string, limit int) ([]PlaceCount, error) {
	if err := checkSpan(region, from, to); err != nil {
		return nil, err
	}
	if level != "township" && level != "village" {
		return nil, fmt.Errorf("level %q: want township or village: %w", level, risk.ErrInvalid)
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 500)
	// level is one of two column names, checked above.
	rows, err := r.conn.Query(ctx, `SELECT `+level+` AS place, count() AS n FROM matters
		WHERE startsWith(region, ?) AND occurred_at >= ? AND occurred_at < ? AND place != ''
		GROUP BY place ORDER BY n DESC, place LIMIT ?`, region, from.UTC(), to.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("rank places: %w", err)
	}
	defer rows.Close()
	out := []PlaceCount{}
	for rows.Next() {
		var p PlaceCount
		var n uint64
		if err := rows.Scan(&p.Place, &n); err != nil {
			return nil, fmt.Errorf("rank places: %w", err)
		}
		p.Count = int(n)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rank places: %w", err)
	}
	return out, nil
}
