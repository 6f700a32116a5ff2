package desk

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
)

// Stats computes the aggregates leaders read.
type Stats struct{ base }

// Figures are the aggregates leaders read: no person, no text.
type Figures struct {
	Jurisdiction string         `json:"jurisdiction"`
	OpenAlerts   map[string]int `json:"open_alerts"` // by level
	Cases        map[string]int `json:"cases"`       // by status
	Overdue      int            `json:"overdue"`     // open cases past due
	Cards        map[string]int `json:"cards"`       // open cases by card
	Settled      int            `json:"settled"`     // cases settled (调解成功)
	// SettledFirst is how many of Settled were settled at the desk that
	// first received them: with Settled, the 矛盾不上交 figure.
	SettledFirst int     `json:"settled_first"`
	SettledShare float64 `json:"settled_first_share"`
	Escalated    int     `json:"escalated"` // cases that went up the ladder at least once
	// Reviewed counts reviewed alerts by detector and outcome (confirmed,
	// merged, or the dismiss reason): the detectors' precision as the
	// centres judge it.
	Reviewed map[string]map[string]int `json:"reviewed"`
	// History says, per detector, what its latest run left uncompared for
	// want of history (趋势上升 in its first weeks): silent, not clear.
	// Detectors with nothing to say are absent. The same for every
	// jurisdiction: it names no place.
	History map[string]string `json:"history"`
}

// Figures returns the jurisdiction's aggregates.
func (s *Stats) Figures(ctx context.Context, by User) (Figures, error) {
	if err := by.allow(permStats, by.Jurisdiction); err != nil {
		return Figures{}, err
	}
	f := Figures{Jurisdiction: by.Jurisdiction, OpenAlerts: map[string]int{}, Cases: map[string]int{}, Cards: map[string]int{}}
	count := func(dst map[string]int, q string) error { return s.count(ctx, dst, q, by.Jurisdiction, s.now()) }
	err := count(f.OpenAlerts, openAlertsByLevel)
	if err == nil {
		err = count(f.Cases, `SELECT status, count(*) FROM cases WHERE starts_with(region, $1) AND $2::timestamptz IS NOT NULL GROUP BY status`)
	}
	if err == nil {
		err = count(f.Cards, `SELECT card, count(*) FROM cases WHERE card <> '' AND status IN ('pending', 'accepted', 'mediating')
			AND starts_with(region, $1) AND $2::timestamptz IS NOT NULL GROUP BY card`)
	}
	if err == nil {
		err = s.pool.QueryRow(ctx, `SELECT
				count(*) FILTER (WHERE status IN ('pending', 'accepted', 'mediating') AND due_at < $2),
				count(*) FILTER (WHERE status = 'settled'),
				count(*) FILTER (WHERE status = 'settled' AND desk_id = first_desk_id),
				count(*) FILTER (WHERE escalations > 0)
			FROM cases WHERE starts_with(region, $1)`, by.Jurisdiction, s.now()).Scan(&f.Overdue, &f.Settled, &f.SettledFirst, &f.Escalated)
	}
	if err != nil {
		return Figures{}, fmt.Errorf("figures: %w", err)
	}
	if err := s.reviewed(ctx, by, &f); err != nil {
		return Figures{}, err
	}
	f.History = map[string]string{}
	// The latest done window of each detector, by the ledger's key: a skip
	// over the few detectors, then one index probe each, however many
	// windows the ledger keeps.
	if err := s.notes(ctx, f.History, `WITH RECURSIVE d(name) AS (
			SELECT min(detector) FROM detector_runs
			UNION ALL
			SELECT (SELECT min(detector) FROM detector_runs WHERE detector > d.name) FROM d WHERE d.name IS NOT NULL)
		SELECT d.name, l.note FROM d CROSS JOIN LATERAL (
			SELECT note FROM detector_runs r WHERE r.detector = d.name AND r.status = 'done' ORDER BY r.window_start DESC LIMIT 1) l
		WHERE d.name IS NOT NULL AND l.note <> ''`); err != nil {
		return Figures{}, fmt.Errorf("figures: detectors' history: %w", err)
	}
	if f.Settled > 0 {
		f.SettledShare = float64(f.SettledFirst) / float64(f.Settled)
	}
	return f, nil
}

// openAlertsByLevel counts the open alerts of a jurisdiction ($1) by level.
const openAlertsByLevel = `SELECT level, count(*) FROM alerts WHERE status = 'open' AND starts_with(region, $1) AND $2::timestamptz IS NOT NULL GROUP BY level`

// OpenAlerts counts the open alerts in by's jurisdiction by level, as
// Figures does: one query, for the reviewers' queue, which asks every few
// seconds.
func (s *Stats) OpenAlerts(ctx context.Context, by User) (map[string]int, error) {
	if err := by.allow(permStats, by.Jurisdiction); err != nil {
		return nil, err
	}
	open := map[string]int{}
	if err := s.count(ctx, open, openAlertsByLevel, by.Jurisdiction, s.now()); err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return open, nil
}

// count fills dst from a query of (key, count) rows.
func (s *Stats) count(ctx context.Context, dst map[string]int, q string, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		dst[k] = n
	}
	return rows.Err()
}

// notes fills dst from a query of (key, text) rows.
func (s *Stats) notes(ctx context.Context, dst map[string]string, q string, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		dst[k] = v
	}
	return rows.Err()
}

func (s *Stats) reviewed(ctx context.Context, by User, f *Figures) error {
	f.Reviewed = map[string]map[string]int{}
	rows, err := s.pool.Query(ctx, `SELECT detector, CASE WHEN status = 'dismissed' THEN dismiss_reason ELSE status END, count(*)
		FROM alerts WHERE status IN ('confirmed', 'merged', 'dismissed') AND reviewed_by IS NOT NULL AND starts_with(region, $1)
		GROUP BY 1, 2`, by.Jurisdiction)
	if err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var detector, outcome string
		var n int
		if err := rows.Scan(&detector, &outcome, &n); err != nil {
			return fmt.Errorf("figures: %w", err)
		}
		if f.Reviewed[detector] == nil {
			f.Reviewed[detector] = map[string]int{}
		}
		f.Reviewed[detector][outcome] = n
	}
	return rows.Err()
}

// DetectorFigure is what became of the alerts one detector raised in one
// bucket of time: the precision the desks experience. Counts only.
type DetectorFigure struct {
	Start     time.Time      `json:"start"` // the bucket's first day, 00:00 in risk.CST
	Detector  string         `json:"detector"`
	Raised    int            `json:"raised"`    // alerts created in the bucket
	Confirmed int            `json:"confirmed"` // … of them confirmed as a case
	Merged    int            `json:"merged"`    // … merged into a case
	Open      int            `json:"open"`      // … still waiting for review
	Dismissed map[string]int `json:"dismissed"` // … dismissed, by reason (false_positive, handled, duplicate)
}

// Detectors counts the alerts in by's jurisdiction created in [from, to)
// per detector and bucket of a "day" or a "week" (Monday to Sunday) of the
// centres' calendar (risk.CST), with what became of them so far, oldest
// bucket first, detectors in name order. Alerts closed without review count
// only as raised. It is for those who read figures (administrators,
// reviewers, leaders): aggregates only, no alert named. A bad step or an
// empty range is ErrInvalid.
func (s *Stats) Detectors(ctx context.Context, by User, from, to time.Time, step string) ([]DetectorFigure, error) {
	if err := by.allow(permStats, by.Jurisdiction); err != nil {
		return nil, err
	}
	if step != "day" && step != "week" {
		return nil, fmt.Errorf("step %q: want day or week: %w", step, risk.ErrInvalid)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("from %s is not before to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), risk.ErrInvalid)
	}
	// The bucket is truncated on the wall clock of UTC+8 (which has no
	// summer time); date_trunc's weeks start on Monday.
	rows, err := s.pool.Query(ctx, `WITH g AS (
			SELECT date_trunc($2, (created_at AT TIME ZONE 'UTC') + interval '8 hours') AS bucket, detector, status,
				coalesce(dismiss_reason, '') AS reason, count(*)::int AS n
			FROM alerts WHERE starts_with(region, $1) AND created_at >= $3 AND created_at < $4
			GROUP BY 1, 2, 3, 4)
		SELECT bucket, detector, sum(n)::int,
			coalesce(sum(n) FILTER (WHERE status = 'confirmed'), 0)::int,
			coalesce(sum(n) FILTER (WHERE status = 'merged'), 0)::int,
			coalesce(sum(n) FILTER (WHERE status = 'open'), 0)::int,
			coalesce(jsonb_object_agg(reason, n) FILTER (WHERE status = 'dismissed'), '{}')
		FROM g GROUP BY 1, 2 ORDER BY 1, 2`, by.Jurisdiction, step, from, to)
	if err != nil {
		return nil, fmt.Errorf("detector figures: %w", err)
	}
	defer rows.Close()
	out := []DetectorFigure{}
	for rows.Next() {
		var f DetectorFigure
		var wall time.Time
		if err := rows.Scan(&wall, &f.Detector, &f.Raised, &f.Confirmed, &f.Merged, &f.Open, &f.Dismissed); err != nil {
			return nil, fmt.Errorf("detector figures: %w", err)
		}
		f.Start = time.Date(wall.Year(), wall.Month(), wall.Day(), 0, 0, 0, 0, risk.CST)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("detector figures: %w", err)
	}
	return out, nil
}

// PeriodFigures are what happened inside a region in one period [From, To):
// the alerts raised and what the desks did with cases. Counts only. It is
// computed from the alerts' and cases' current rows, so a later move (a
// settled case reopened) changes the figure of the period it was settled in.
type PeriodFigures struct {
	Region string    `json:"region"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Alerts counts, by level, the alerts whose window ended in the period:
	// the event time they speak of, so that a backtest of past weeks fills
	// those weeks' briefs; live, a window ends minutes before its alert.
	Alerts map[string]int `json:"alerts"`
	Opened int            `json:"opened"` // cases opened in the period
	// Settled counts the cases settled (调解成功) in the period, and
	// SettledFirst those of them settled at the desk that first received
	// them: SettledFirst/Settled is the 矛盾不上交率.
	Settled      int `json:"settled"`
	SettledFirst int `json:"settled_first"`
	Escalated    int `json:"escalated"` // cases moved up the ladder in the period, each once
	// Overdue counts the cases whose deadline fell in the period (up to
	// now) and that were not closed by it.
	Overdue int `json:"overdue"`
}

// Period returns the figures of region in [from, to). The region must lie
// in by's jurisdiction and by must read figures (ErrForbidden); an empty
// range is ErrInvalid.
func (s *Stats) Period(ctx context.Context, by User, region string, from, to time.Time) (PeriodFigures, error) {
	if err := by.allow(permStats, region); err != nil {
		return PeriodFigures{}, err
	}
	if !from.Before(to) {
		return PeriodFigures{}, fmt.Errorf("from %s is not before to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), risk.ErrInvalid)
	}
	p := PeriodFigures{Region: region, From: from, To: to, Alerts: map[string]int{}}
	err := s.count(ctx, p.Alerts, `SELECT level, count(*) FROM alerts WHERE starts_with(region, $1) AND window_end > $2 AND window_end <= $3 GROUP BY level`,
		region, from, to)
	if err == nil {
		err = s.pool.QueryRow(ctx, `SELECT
				count(*) FILTER (WHERE created_at >= $2 AND created_at < $3),
				count(*) FILTER (WHERE status = 'settled' AND closed_at >= $2 AND closed_at < $3),
				count(*) FILTER (WHERE status = 'settled' AND closed_at >= $2 AND closed_at < $3 AND desk_id = first_desk_id),
				count(*) FILTER (WHERE due_at >= $2 AND due_at < least($3, $4) AND (closed_at IS NULL OR closed_at > due_at)),
				(SELECT count(DISTINCT e.case_id) FROM escalations e JOIN cases c ON c.id = e.case_id
					WHERE starts_with(c.region, $1) AND e.at >= $2 AND e.at < $3)
			FROM cases WHERE starts_with(region, $1)`, region, from, to, s.now()).Scan(&p.Opened, &p.Settled, &p.SettledFirst, &p.Overdue, &p.Escalated)
	}
	if err != nil {
		return PeriodFigures{}, fmt.Errorf("figures of a period: %w", err)
	}
	return p, nil
}

// NotableAlert is a red or orange alert, as leaders may read of it: what
// and where, never who.
type NotableAlert struct {
	At       time.Time  `json:"at"` // the end of its window: when what it warns of happened
	Detector string     `json:"detector"`
	Level    risk.Level `json:"level"`
	Category string     `json:"category"`
	Region   string     `json:"region"`
	Status   string     `json:"status"`
}

// NotableEscalation is a case moved up the ladder: from which desk to which,
// and whether the clock or a person moved it.
type NotableEscalation struct {
	At       time.Time  `json:"at"`
	Kind     string     `json:"kind"` // the detector of the alert that made the case
	Level    risk.Level `json:"level"`
	From     string     `json:"from"` // desk names
	To       string     `json:"to"`
	ByClock  bool       `json:"by_clock"`
	CaseOpen bool       `json:"case_open"`
}

// Notable lists the red and orange alerts inside region whose window ended
// in [from, to), most severe then oldest first, and the escalations of the
// period, oldest first, at most limit of each (0: 20). No person, no text.
func (s *Stats) Notable(ctx context.Context, by User, region string, from, to time.Time, limit int) ([]NotableAlert, []NotableEscalation, error) {
	if err := by.allow(permStats, region); err != nil {
		return nil, nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.pool.Query(ctx, `SELECT window_end, detector, level, category, region, status FROM alerts
		WHERE starts_with(region, $1) AND window_end > $2 AND window_end <= $3 AND level IN ('red', 'orange')
		ORDER BY level = 'red' DESC, window_end, key LIMIT $4`, region, from, to, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("notable alerts: %w", err)
	}
	alerts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (NotableAlert, error) {
		var a NotableAlert
		err := row.Scan(&a.At, &a.Detector, &a.Level, &a.Category, &a.Region, &a.Status)
		return a, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("notable alerts: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT e.at, c.kind, c.level, f.name, t.name, e.by_user = '', c.status IN ('pending', 'accepted', 'mediating')
		FROM escalations e JOIN cases c ON c.id = e.case_id JOIN desks f ON f.id = e.from_desk JOIN desks t ON t.id = e.to_desk
		WHERE starts_with(c.region, $1) AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id LIMIT $4`, region, from, to, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("notable escalations: %w", err)
	}
	escalations, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (NotableEscalation, error) {
		var e NotableEscalation
		err := row.Scan(&e.At, &e.Kind, &e.Level, &e.From, &e.To, &e.ByClock, &e.CaseOpen)
		return e, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("notable escalations: %w", err)
	}
	return alerts, escalations, nil
}
