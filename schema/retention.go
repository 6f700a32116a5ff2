package schema

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention: ClickHouse 18.16 has no TTL, so old data goes a month at a
// time, by dropping the monthly partitions (PARTITION BY toYYYYMM(...)) that
// end before a cutoff. Dropping a partition is instant and frees its disk;
// no row of a newer month is touched.

// The tables retention drops months of, each partitioned by the month of
// one UTC column (see the migrations).
var (
	eventTables      = []string{"event_versions", "events"} // by occurred_at: a record and all its versions stay in one month
	quarantineTables = []string{"rejected_events"}          // by received_at
)

// Minimum ages retention accepts, so that a typo (540h for 540d) cannot drop
// what the detectors and briefs still read: the detectors' longest history
// is 8 weeks of baseline and 4 of trend; the quarantine is where an
// operator looks for a week's rejected messages.
const (
	MinEventAge      = 90 * 24 * time.Hour
	MinQuarantineAge = 7 * 24 * time.Hour
)

// Partition is one month of one table.
type Partition struct {
	Table string
	ID    string    // the partition id, YYYYMM
	Month time.Time // its first instant, UTC
	Rows  uint64
	Bytes uint64 // on disk, compressed
}

// End is the first instant after the partition's month.
func (p Partition) End() time.Time { return p.Month.AddDate(0, 1, 0) }

// Expired lists the months of the event tables that end at or before
// eventsBefore, and those of the quarantine that end at or before
// quarantineBefore: whole months only, so nothing newer than a cutoff goes.
// It reads system.parts of the connection's database and changes nothing.
func Expired(ctx context.Context, conn driver.Conn, eventsBefore, quarantineBefore time.Time) ([]Partition, error) {
	var out []Partition
	for _, set := range []struct {
		tables []string
		before time.Time
	}{{eventTables, eventsBefore}, {quarantineTables, quarantineBefore}} {
		parts, err := partitions(ctx, conn, set.tables)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if !p.End().After(set.before) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// partitions lists the active monthly partitions of tables, oldest first.
func partitions(ctx context.Context, conn driver.Conn, tables []string) ([]Partition, error) {
	rows, err := conn.Query(ctx, `SELECT table, partition_id, sum(rows), sum(bytes_on_disk) FROM system.parts
		WHERE database = currentDatabase() AND active AND has(?, table)
		GROUP BY table, partition_id ORDER BY partition_id, table`, tables)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.ID, &p.Rows, &p.Bytes); err != nil {
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		month, err := time.Parse("200601", p.ID)
		if err != nil {
			return nil, fmt.Errorf("table %s: partition %q is not a month (YYYYMM): %w", p.Table, p.ID, err)
		}
		p.Month = month.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// Drop drops p. Dropping a partition that is already gone is not an error,
// so a run cut short can be run again.
func Drop(ctx context.Context, conn driver.Conn, p Partition) error {
	// Table and id come from system.parts and the fixed lists above, and the
	// id is checked to be six digits: nothing a client sent.
	if _, err := time.Parse("200601", p.ID); err != nil || len(p.ID) != 6 {
		return fmt.Errorf("drop %s partition %q: not a month", p.Table, p.ID)
	}
	if !slices.Contains(eventTables, p.Table) && !slices.Contains(quarantineTables, p.Table) {
		return fmt.Errorf("drop %s partition %s: retention keeps that table", p.Table, p.ID)
	}
	if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", p.Table, p.ID)); err != nil {
		return fmt.Errorf("drop %s partition %s: %w", p.Table, p.ID, err)
	}
	return nil
}
