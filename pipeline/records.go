package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// Record is a stored record as a screen shows it: its newest version, with
// only the columns that are stored masked — the text and address with
// personal numbers redacted, the persons' masked names. It never carries a
// linking key, a sealed contact or a clear name.
type Record struct {
	Source     risk.Source `json:"source"`
	ID         string      `json:"id"`
	OccurredAt time.Time   `json:"occurred_at"` // when the matter was raised, UTC
	Region     string      `json:"region"`      // 12-digit division code; "" unknown
	Grid       string      `json:"grid"`        // 网格编码, grid feed only
	Category   string      `json:"category"`
	Kind       string      `json:"kind"`
	Status     string      `json:"status"` // open, in_progress, finished, reopened, deleted
	Title      string      `json:"title"`
	Text       string      `json:"text"`
	Address    string      `json:"address"`
	HeadCount  int         `json:"head_count"` // -1 when unknown
	Collective bool        `json:"collective"`
	Repeat     bool        `json:"repeat"`
	SkipLevel  bool        `json:"skip_level"`
	Persons    []string    `json:"persons"` // masked names as stored: 王*国
}

// RecordReader reads stored records for the screens: an alert's evidence
// and the history of a person or a subject.
type RecordReader struct {
	conn driver.Conn
}

// NewRecordReader returns a reader on the events of conn's database.
func NewRecordReader(conn driver.Conn) *RecordReader { return &RecordReader{conn: conn} }

// MaxRecords is the most records one call of Records or History returns.
const MaxRecords = 500

// recordColumns are the masked columns a Record shows.
const recordColumns = `source, id, occurred_at, region, grid_code, category, kind, status, title, text, address,
	head_count, collective, repeat, skip_level, persons`

// Records returns the newest version of each record refs names (the first
// MaxRecords of them), deleted ones included with their status, in the
// order they were raised. A record not stored is left out.
func (r *RecordReader) Records(ctx context.Context, refs []risk.Evidence) ([]Record, error) {
	if len(refs) == 0 {
		return []Record{}, nil
	}
	refs = refs[:min(len(refs), MaxRecords)]
	keys := make([]string, len(refs))
	ids := make([]any, len(refs))
	for i, e := range refs {
		keys[i] = string(e.Source) + "/" + e.ID
		ids[i] = e.ID
	}
	// As in Persons: id IN narrows by the table's key, has() keeps the
	// exact pairs; upstream ids are bound, never spliced.
	return r.query(ctx, `SELECT `+recordColumns+` FROM events FINAL
		WHERE id IN ? AND has(?, concat(source, '/', id)) ORDER BY occurred_at, source, id LIMIT ?`,
		clickhouse.GroupSet{Value: ids}, keys, MaxRecords)
}

// Deleted returns those of refs (the first MaxRecords) whose newest stored
// version is deleted upstream (grid status 06), in the order they were
// raised.
func (r *RecordReader) Deleted(ctx context.Context, refs []risk.Evidence) ([]risk.Evidence, error) {
	records, err := r.Records(ctx, refs)
	if err != nil {
		return nil, err
	}
	var out []risk.Evidence
	for _, x := range records {
		if x.Status == string(risk.StatusDeleted) {
			out = append(out, risk.Evidence{Source: x.Source, ID: x.ID})
		}
	}
	return out, nil
}

// divisionPrefix is a division code prefix: a jurisdiction.
var divisionPrefix = regexp.MustCompile(`^[0-9]{2,12}$`)

// checkRegion refuses a region that is not a division code prefix.
func checkRegion(region string) error {
	if !divisionPrefix.MatchString(region) {
		return fmt.Errorf("region %q: want a division code prefix of 2–12 digits: %w", region, risk.ErrInvalid)
	}
	return nil
}

// checkSpan refuses a region as checkRegion does, and an empty [from, to).
func checkSpan(region string, from, to time.Time) error {
	if err := checkRegion(region); err != nil {
		return err
	}
	if !from.Before(to) {
		return fmt.Errorf("from %s is not before to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), risk.ErrInvalid)
	}
	return nil
}

// History returns the records inside region (a division code prefix) of
// the person (a linking key, as in person_keys) or of the subject (a
// subject key, see package subject) raised before before, newest first, at
// most limit (0: 100; never more than MaxRecords). Records deleted upstream
// are left out. Without a person and a subject, or with a region that is
// not a prefix of digits, it is ErrInvalid.
func (r *RecordReader) History(ctx context.Context, region string, person, subject string, before time.Time, limit int) ([]Record, error) {
	if err := checkRegion(region); err != nil {
		return nil, err
	}
	if person == "" && subject == "" {
		return nil, fmt.Errorf("history: a person or a subject is required: %w", risk.ErrInvalid)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxRecords)
	if before.IsZero() {
		before = time.Now()
	}
	return r.query(ctx, `SELECT `+recordColumns+` FROM events FINAL
		WHERE status != 'deleted' AND startsWith(region, ?) AND occurred_at < ?
		  AND ((? != '' AND has(person_keys, ?)) OR (? != '' AND has(subjects, ?)))
		ORDER BY occurred_at DESC, source, id LIMIT ?`,
		region, before.UTC(), person, person, subject, subject, limit)
}

func (r *RecordReader) query(ctx context.Context, q string, args ...any) ([]Record, error) {
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query records: %w", err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var rec Record
		var source, persons string
		var headCount int32
		var collective, repeat, skip uint8
		if err := rows.Scan(&source, &rec.ID, &rec.OccurredAt, &rec.Region, &rec.Grid, &rec.Category, &rec.Kind, &rec.Status,
			&rec.Title, &rec.Text, &rec.Address, &headCount, &collective, &repeat, &skip, &persons); err != nil {
			return nil, fmt.Errorf("read records: %w", err)
		}
		rec.Source, rec.OccurredAt, rec.HeadCount = risk.Source(source), rec.OccurredAt.UTC(), int(headCount)
		rec.Collective, rec.Repeat, rec.SkipLevel = collective == 1, repeat == 1, skip == 1
		var stored []storedPerson
		if err := json.Unmarshal([]byte(persons), &stored); err != nil {
			return nil, fmt.Errorf("read persons of %s/%s: %w", source, rec.ID, err)
		}
		rec.Persons = []string{}
		for _, p := range stored {
			if p.Name != "" {
				rec.Persons = append(rec.Persons, p.Name) // masked as stored; keys and seals stay here
			}
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	return out, nil
}
