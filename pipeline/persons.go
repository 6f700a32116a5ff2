package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// PersonReader reads the persons of stored records: what a case needs of
// its evidence to know its parties.
type PersonReader struct {
	conn driver.Conn
}

// NewPersonReader returns a reader on the events of conn's database.
func NewPersonReader(conn driver.Conn) *PersonReader { return &PersonReader{conn: conn} }

// MaxPersonRecords is how many records one call of Persons reads: the
// first ones of an alert's evidence, which is what a case's parties come
// from; the rest only add the same people again.
const MaxPersonRecords = 500

// Persons returns the persons of the first MaxPersonRecords records, each
// once by linking key (or once per record when they have none), masked and
// sealed as stored.
func (r *PersonReader) Persons(ctx context.Context, records []risk.Evidence) ([]risk.Person, error) {
	if len(records) == 0 {
		return nil, nil
	}
	records = records[:min(len(records), MaxPersonRecords)]
	keys := make([]string, len(records))
	ids := make([]any, len(records))
	for i, e := range records {
		keys[i] = string(e.Source) + "/" + e.ID
		ids[i] = e.ID
	}
	// id IN narrows the read by the table's key (source, id); has() keeps
	// the exact pairs. The ids came from upstream: bound, never spliced.
	rows, err := r.conn.Query(ctx, `SELECT persons FROM events FINAL WHERE id IN ? AND has(?, concat(source, '/', id)) ORDER BY occurred_at`, clickhouse.GroupSet{Value: ids}, keys)
	if err != nil {
		return nil, fmt.Errorf("query persons: %w", err)
	}
	defer rows.Close()
	var out []risk.Person
	seen := map[string]bool{}
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("read persons: %w", err)
		}
		var stored []storedPerson
		if err := json.Unmarshal([]byte(raw), &stored); err != nil {
			return nil, fmt.Errorf("read persons: %w", err)
		}
		for _, s := range stored {
			p := risk.Person{Role: s.Role, Name: s.Name, Phone: s.Phone, PhoneKey: s.PhoneKey, IDKey: s.IDKey, Sealed: s.Sealed}
			if k := p.Key(); k != "" {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, p)
		}
	}
	return out, rows.Err()
}
