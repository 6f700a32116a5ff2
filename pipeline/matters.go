package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
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

// dayOf is 00:00 in risk.CST of t's day there.
func dayOf(t time.Time) time.Time {
	t = t.In(risk.CST)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, risk.CST)
}

// Tally is how many matters of one feed and key (a category, a place or a
// topic, see Tally's by) were raised in one period of a Tally call.
type Tally struct {
	Period int         `json:"period"` // index i of the period [bounds[i], bounds[i+1])
	Source risk.Source `json:"source"`
	Key    string      `json:"key"`
	Count  int         `json:"count"`
}

// MaxPeriods is the most periods one Tally counts: a leap year of days.
const MaxPeriods = 366

// tallyKeys are the dimensions Tally counts by: a ClickHouse expression
// (which is also the column it needs).
var tallyKeys = map[string]string{
	"category": "category",
	"county":   "county",
	"township": "township",
	"village":  "village",
	"topics":   "tags",
}

// tallyKey is the key expression, the columns and the condition of by.
func tallyKey(by string) (expr, cols, where string, err error) {
	switch by {
	case "source":
		return "''", "", "", nil
	case "tag":
		return "arrayJoin(tags)", "tags", "", nil // a matter counts once under each of its topics
	case "county", "township", "village":
		return by, by, " AND " + by + " != ''", nil
	}
	var exprs, names []string
	for _, d := range strings.Split(by, "+") {
		col, ok := tallyKeys[d]
		if !ok || slices.Contains(names, col) {
			return "", "", "", fmt.Errorf("count by %q: want source, tag, or category, county, township, village and topics joined by +: %w", by, risk.ErrInvalid)
		}
		names = append(names, col)
		if d == "topics" {
			col = "arrayStringConcat(tags, ',')"
		}
		exprs = append(exprs, col)
	}
	if len(exprs) == 1 {
		return exprs[0], names[0], "", nil
	}
	return "concat(" + strings.Join(exprs, ", '|', ") + ")", strings.Join(names, ", "), "", nil
}

// mattersIn is the matters of region raised in [from, to), with the
// columns cols (and source, region, status, occurred_at), as a FROM clause to
// which conditions may be added with AND, and its arguments. It is the
// matters view's rows: the newest version of each record, not deleted. It
// reads events FINAL itself because ClickHouse 18 does not push a query's
// conditions into a view, so that counting in matters reads every month:
// here the months are pruned by occurred_at (when a matter was raised, the
// same in each of its versions) and everything else — status, region — is
// judged after FINAL has chosen the newest version, as in the view.
//
// FINAL merges on one core, so the span is read month by month (the
// table's partitions, in UTC: a record's versions are all in one), as
// branches of a UNION ALL that the server runs at once; and each month's
// rows are cut first to the records with a version in the region (a plain
// scan): the PREWHERE keeps or drops every version of a record together,
// so FINAL still chooses among all of them, and a hash collision only lets
// in a record the outer condition then drops.
func mattersIn(cols, region string, from, to time.Time) (string, []any) {
	if cols != "" {
		cols += ", "
	}
	var branches []string
	var args []any
	for start := from.UTC(); start.Before(to); {
		end := time.Date(start.Year(), start.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		if !end.Before(to) {
			end = to.UTC()
		}
		branches = append(branches, `SELECT `+cols+`source, region, status, occurred_at FROM events FINAL
			PREWHERE cityHash64(source, id) IN (SELECT cityHash64(source, id) FROM events
				WHERE occurred_at >= ? AND occurred_at < ? AND startsWith(region, ?))
			WHERE occurred_at >= ? AND occurred_at < ?`)
		args = append(args, start, end, region, start, end)
		start = end
	}
	return `(` + strings.Join(branches, "\n\t\tUNION ALL ") + `)
		WHERE status != 'deleted' AND startsWith(region, ?)`, append(args, region)
}

// Tally counts the matters inside region (a division code prefix) per
// period, feed and key, the periods being [bounds[i], bounds[i+1]): by is
// "source" (the key is ""), "category", "county", "township", "village"
// (matters whose region stops above the level are left out), "tag" (a
// matter counts under each of its topics, none without one), or several
// of category, county, township, village and topics (its topics joined by
// commas) joined by "+", whose key joins theirs by "|" (a place "" for
// matters above its level), so that one count gives feeds, categories,
// places and topics together. It is the one count
// behind every figure of matters — the dashboard's Series and Places, the
// API and the leaders' briefs — so that one period has one number.
// Rows come in period, feed, key order; empty ones are absent. Bounds that
// are fewer than two, not increasing or more than MaxPeriods+1, a bad
// region or a bad by are ErrInvalid.
func (r *MatterReader) Tally(ctx context.Context, region string, bounds []time.Time, by string) ([]Tally, error) {
	if len(bounds) < 2 || len(bounds) > MaxPeriods+1 {
		return nil, fmt.Errorf("%d period bounds: want 2 to %d: %w", len(bounds), MaxPeriods+1, risk.ErrInvalid)
	}
	expr, cols, where, err := tallyKey(by)
	if err != nil {
		return nil, err
	}
	from, to := bounds[0], bounds[len(bounds)-1]
	if err := checkSpan(region, from, to); err != nil {
		return nil, err
	}
	// The period is the number of inner bounds at or before occurred_at,
	// the bounds written into the query as epoch seconds (numbers made
	// here, not input), which works for any calendar: weeks, months, the
	// 信访 business month. (A lambda would be shorter, but ClickHouse 18
	// loses a subquery's columns inside one.)
	var period strings.Builder
	period.WriteString("toInt64(0")
	for i, t := range bounds {
		if i > 0 && !bounds[i-1].Before(t) {
			return nil, fmt.Errorf("period bound %s is not after %s: %w", t.Format(time.RFC3339), bounds[i-1].Format(time.RFC3339), risk.ErrInvalid)
		}
		if i > 0 && i < len(bounds)-1 {
			fmt.Fprintf(&period, " + (toUInt32(occurred_at) >= %d)", t.Unix())
		}
	}
	period.WriteString(")")
	in, args := mattersIn(cols, region, from, to)
	rows, err := r.conn.Query(ctx, `SELECT `+period.String()+` AS period, source, `+expr+` AS key, count()
		FROM `+in+where+`
		GROUP BY period, source, key ORDER BY period, source, key`, args...)
	if err != nil {
		return nil, fmt.Errorf("count matters by %s: %w", by, err)
	}
	defer rows.Close()
	out := []Tally{}
	for rows.Next() {
		var t Tally
		var period int64
		var source string
		var n uint64
		if err := rows.Scan(&period, &source, &t.Key, &n); err != nil {
			return nil, fmt.Errorf("count matters by %s: %w", by, err)
		}
		t.Period, t.Source, t.Count = int(period), risk.Source(source), int(n)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count matters by %s: %w", by, err)
	}
	return out, nil
}

// Series counts the matters inside region (a division code prefix) raised
// in [from, to), per feed and category, in buckets of a "day" or a "week"
// (Monday to Sunday) of the centres' calendar (risk.CST), oldest bucket
// first. Buckets without matters are absent. A bad region or step, or more
// than MaxPeriods buckets, is ErrInvalid. It counts with Tally.
func (r *MatterReader) Series(ctx context.Context, region string, from, to time.Time, step string) ([]MatterCount, error) {
	if err := checkSpan(region, from, to); err != nil {
		return nil, err
	}
	var starts []time.Time // each bucket's first day, 00:00 in risk.CST
	day := dayOf(from)
	switch step {
	case "day":
	case "week":
		day = day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
	default:
		return nil, fmt.Errorf("step %q: want day or week: %w", step, risk.ErrInvalid)
	}
	bounds := []time.Time{from}
	for starts = []time.Time{day}; ; {
		if step == "day" {
			day = day.AddDate(0, 0, 1)
		} else {
			day = day.AddDate(0, 0, 7)
		}
		if !day.Before(to) {
			break
		}
		if len(starts) >= MaxPeriods {
			return nil, fmt.Errorf("more than %d %ss from %s to %s: %w", MaxPeriods, step, from.Format(time.RFC3339), to.Format(time.RFC3339), risk.ErrInvalid)
		}
		bounds, starts = append(bounds, day), append(starts, day)
	}
	tallies, err := r.Tally(ctx, region, append(bounds, to), "category")
	if err != nil {
		return nil, err
	}
	out := make([]MatterCount, len(tallies))
	for i, t := range tallies {
		out[i] = MatterCount{Start: starts[t.Period], Source: t.Source, Category: t.Key, Count: t.Count}
	}
	return out, nil
}

// Places ranks the townships or villages (level "township" or "village")
// inside region by the matters raised there in [from, to), most first
// (ties by code), at most limit (0: 20; never more than 500). Matters whose
// region stops above the level are left out. It counts with Tally.
func (r *MatterReader) Places(ctx context.Context, region string, from, to time.Time, level string, limit int) ([]PlaceCount, error) {
	if level != "township" && level != "village" {
		return nil, fmt.Errorf("level %q: want township or village: %w", level, risk.ErrInvalid)
	}
	if limit <= 0 {
		limit = 20
	}
	tallies, err := r.Tally(ctx, region, []time.Time{from, to}, level)
	if err != nil {
		return nil, err
	}
	return RankPlaces(tallies, -1, min(limit, 500)), nil
}

// RankPlaces sums tallies by place (their key) over every feed, of one
// period (-1: all of them), and ranks the places most first, ties by
// code, at most limit.
func RankPlaces(tallies []Tally, period, limit int) []PlaceCount {
	sum := map[string]int{}
	for _, t := range tallies {
		if period < 0 || t.Period == period {
			sum[t.Key] += t.Count
		}
	}
	out := make([]PlaceCount, 0, len(sum))
	for p, n := range sum {
		out = append(out, PlaceCount{Place: p, Count: n})
	}
	slices.SortFunc(out, func(a, b PlaceCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Place, b.Place)) })
	return out[:min(len(out), limit)]
}

// Notable is a matter leaders hear of one by one: a collective one, or one
// petitioned above its level (越级). It holds codes and counts only, never
// the record's text or its people.
type Notable struct {
	OccurredAt    time.Time   `json:"occurred_at"`
	Source        risk.Source `json:"source"`
	Category      string      `json:"category"`
	Region        string      `json:"region"` // 12-digit division code
	Collective    bool        `json:"collective"`
	SkipLevel     bool        `json:"skip_level"`
	People        int         `json:"people"`         // people involved or petitioners, the larger; -1 unknown
	RegisterLevel string      `json:"register_level"` // petitions: 乡镇 县 市 省 国家
}

// Notable lists the collective and skip-level matters inside region raised
// in [from, to), largest first (then oldest), at most limit (0: 20; never
// more than 500).
func (r *MatterReader) Notable(ctx context.Context, region string, from, to time.Time, limit int) ([]Notable, error) {
	if err := checkSpan(region, from, to); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	in, args := mattersIn("id, category, collective, skip_level, head_count, petitioner_count, register_level", region, from, to)
	rows, err := r.conn.Query(ctx, `SELECT occurred_at, source, category, region, collective, skip_level,
			greatest(head_count, petitioner_count) AS people, register_level
		FROM `+in+`
			AND (collective = 1 OR skip_level = 1)
		ORDER BY people DESC, occurred_at, source, id LIMIT ?`, append(args, min(limit, 500))...)
	if err != nil {
		return nil, fmt.Errorf("list notable matters: %w", err)
	}
	defer rows.Close()
	out := []Notable{}
	for rows.Next() {
		var n Notable
		var source string
		var collective, skip uint8
		var people int32
		if err := rows.Scan(&n.OccurredAt, &source, &n.Category, &n.Region, &collective, &skip, &people, &n.RegisterLevel); err != nil {
			return nil, fmt.Errorf("list notable matters: %w", err)
		}
		n.Source, n.Collective, n.SkipLevel, n.People = risk.Source(source), collective == 1, skip == 1, int(people)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notable matters: %w", err)
	}
	return out, nil
}
