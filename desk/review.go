package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
)

// Review is the alerts table: the intake that routes new alerts to their
// desk, the centres' review (confirm, dismiss, merge) and the listings.
type Review struct {
	base
	routing RoutingConfig
	dir     *Directory
	cases   *Cases
	party   partyFinder   // nil: no parties
	deleted deletedFinder // nil: no alert is withdrawn
}

// Alert is an alert as a desk sees it: the detector's fields, its review
// and where it was routed.
type Alert struct {
	Key           string             `json:"key"`
	Detector      string             `json:"detector"`
	Level         risk.Level         `json:"level"`
	Status        string             `json:"status"` // open, confirmed, dismissed, merged, closed, withdrawn
	Region        string             `json:"region"`
	Category      string             `json:"category"`
	Subject       string             `json:"subject,omitempty"`
	Person        string             `json:"person,omitempty"`
	Summary       string             `json:"summary"`
	Numbers       map[string]float64 `json:"numbers"`
	Words         []string           `json:"words"`
	Evidence      []risk.Evidence    `json:"evidence"`       // the first MaxEvidence records
	EvidenceCount int                `json:"evidence_count"` // every record it named
	WindowStart   time.Time          `json:"window_start"`
	WindowEnd     time.Time          `json:"window_end"`
	FirstSeen     time.Time          `json:"first_seen"`
	LastSeen      time.Time          `json:"last_seen"`
	CreatedAt     time.Time          `json:"created_at"`
	PreviousKey   string             `json:"previous_key,omitempty"`
	Desk          string             `json:"desk,omitempty"`
	RouteReason   string             `json:"route_reason,omitempty"`
	Case          int64              `json:"case,omitempty"`
	DismissReason string             `json:"dismiss_reason,omitempty"`
	ReviewedBy    string             `json:"reviewed_by,omitempty"`
}

const alertColumns = `key, detector, level, status, region, category, subject, person, summary, numbers, words, evidence, evidence_count,
	window_start, window_end, first_seen, last_seen, created_at, coalesce(previous_key, ''), coalesce(desk_id, ''), route_reason,
	coalesce(case_id, 0), coalesce(dismiss_reason, ''), coalesce(reviewed_by, '')`

func scanAlert(row pgx.CollectableRow) (Alert, error) {
	var a Alert
	var evidence []byte
	err := row.Scan(&a.Key, &a.Detector, &a.Level, &a.Status, &a.Region, &a.Category, &a.Subject, &a.Person, &a.Summary,
		&a.Numbers, &a.Words, &evidence, &a.EvidenceCount, &a.WindowStart, &a.WindowEnd, &a.FirstSeen, &a.LastSeen, &a.CreatedAt,
		&a.PreviousKey, &a.Desk, &a.RouteReason, &a.Case, &a.DismissReason, &a.ReviewedBy)
	if err == nil {
		err = json.Unmarshal(evidence, &a.Evidence)
	}
	return a, err
}

// AlertFilter selects alerts for a listing. Empty fields select
// everything in the caller's jurisdiction.
type AlertFilter struct {
	Status, Level, Detector, Desk string
	Category                      string    // exact category
	Region                        string    // division code prefix, inside the jurisdiction
	From, To                      time.Time // created_at
	After                         string    // cursor: the last key of the previous page
	Limit                         int
}

// Alerts lists the alerts in by's jurisdiction newest first, and the
// cursor of the next page ("" at the end).
func (s *Review) Alerts(ctx context.Context, by User, f AlertFilter) ([]Alert, string, error) {
	if err := by.allow(permAlerts, by.Jurisdiction); err != nil {
		return nil, "", err
	}
	// The narrower of the filter and the jurisdiction; disjoint ones
	// select nothing.
	region := by.Jurisdiction
	switch {
	case f.Region == "" || strings.HasPrefix(f.Region, by.Jurisdiction):
		if f.Region != "" {
			region = f.Region
		}
	case !strings.HasPrefix(by.Jurisdiction, f.Region):
		return []Alert{}, "", nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	var afterAt *time.Time
	if f.After != "" {
		var t time.Time
		// Only a key the caller may see: the answer must not tell whether
		// another county's alert exists.
		if err := s.pool.QueryRow(ctx, `SELECT created_at FROM alerts WHERE key = $1 AND starts_with(region, $2)`, f.After, by.Jurisdiction).Scan(&t); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, "", fmt.Errorf("cursor %q: %w", f.After, risk.ErrInvalid)
			}
			return nil, "", fmt.Errorf("read cursor: %w", err)
		}
		afterAt = &t
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE starts_with(region, $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR level = $3) AND ($4 = '' OR detector = $4)
		AND ($5 = '' OR desk_id = $5) AND ($6::timestamptz IS NULL OR created_at >= $6) AND ($7::timestamptz IS NULL OR created_at < $7)
		AND ($8::timestamptz IS NULL OR (created_at, key) < ($8, $9)) AND ($11 = '' OR category = $11)
		ORDER BY created_at DESC, key DESC LIMIT $10`,
		region, f.Status, f.Level, f.Detector, f.Desk, nullTime(f.From), nullTime(f.To), afterAt, f.After, limit+1, f.Category)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Key
	}
	return out, next, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// alertForUpdate locks an alert in the caller's jurisdiction; one outside
// it does not exist for the caller.
func alertForUpdate(ctx context.Context, tx pgx.Tx, by User, key string) (Alert, error) {
	rows, err := tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE key = $1 FOR UPDATE`, key)
	if err != nil {
		return Alert{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAlert)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !by.within(a.Region) {
		return Alert{}, notFound("alert", key)
	}
	return a, err
}

// reviewable locks an open alert that by may review. A role that reviews
// nothing is refused before any lookup.
func reviewable(ctx context.Context, tx pgx.Tx, by User, key string) (Alert, error) {
	if err := by.allow(permReview, by.Jurisdiction); err != nil {
		return Alert{}, err
	}
	a, err := alertForUpdate(ctx, tx, by, key)
	if err != nil {
		return Alert{}, err
	}
	if err := by.allow(permReview, a.Region); err != nil {
		return Alert{}, err
	}
	if a.Status != "open" {
		return Alert{}, fmt.Errorf("alert %s is %s: %w", key, a.Status, risk.ErrConflict)
	}
	return a, nil
}

// GetAlert returns an alert in by's jurisdiction.
func (s *Review) GetAlert(ctx context.Context, by User, key string) (Alert, error) {
	if err := by.allow(permAlerts, by.Jurisdiction); err != nil {
		return Alert{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE key = $1`, key)
	if err != nil {
		return Alert{}, fmt.Errorf("get alert: %w", err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAlert)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !by.within(a.Region) {
		return Alert{}, notFound("alert", key)
	}
	return a, err
}

// Confirm makes a reviewed alert a case, with the parties of its evidence,
// and tells the desk. deskID "" sends it to the desk the routing rule picks
// now (the directory may have changed since intake); otherwise the reviewer
// chose the desk: it must exist (else ErrInvalid), lie inside the
// reviewer's jurisdiction (else ErrForbidden) and cover the alert's region
// (else ErrInvalid). The audit entry and the alert's route reason say that
// the desk was chosen, and which one the rule picked.
func (s *Review) Confirm(ctx context.Context, by User, key, deskID, note string) (Case, error) {
	if err := by.allow(permReview, by.Jurisdiction); err != nil {
		return Case{}, err
	}
	note, err := s.text("note", note, false)
	if err != nil {
		return Case{}, err
	}
	desks, err := s.dir.Desks(ctx)
	if err != nil {
		return Case{}, err
	}
	// The parties come from ClickHouse: read them before the transaction
	// locks the alert. Its evidence cannot change once reviewed, and the
	// locked read below refuses one reviewed meanwhile.
	seen, err := s.GetAlert(ctx, by, key)
	if err != nil {
		return Case{}, err
	}
	var parties []Party
	if s.party != nil {
		if parties, err = s.party.Parties(ctx, seen.Evidence); err != nil {
			return Case{}, fmt.Errorf("parties of alert %s: %w", key, err)
		}
	}
	var id int64
	err = s.write(ctx, by.Username, func(c *change) error {
		a, err := reviewable(ctx, c.tx, by, key)
		if err != nil {
			return err
		}
		route, err := s.routing.Route(Scope{a.Detector, a.Level, a.Region}, desks)
		if err != nil && deskID == "" {
			return err
		}
		detail := map[string]any{"route": route.Reason}
		if deskID != "" {
			routed := route.Desk.ID
			if route, err = chosenRoute(by, a, deskID, route, desks); err != nil {
				return err
			}
			detail = map[string]any{"route": route.Reason, "chosen": deskID, "routed": routed}
		}
		if id, err = s.cases.open(ctx, c, a, route, parties); err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `UPDATE alerts SET status = 'confirmed', case_id = $2, reviewed_by = $3, reviewed_at = $4,
			desk_id = $5, route_reason = $6, routed_at = coalesce(routed_at, $4), routed_level = level, updated_at = $4 WHERE key = $1`,
			key, id, by.Username, c.at, route.Desk.ID, route.Reason); err != nil {
			return err
		}
		if note != "" {
			if err := addNote(ctx, c, id, "note", note); err != nil {
				return err
			}
		}
		if err := c.audit(ctx, "alert.confirm", auditRef{caseID: id, alertKey: key, deskID: route.Desk.ID}, detail); err != nil {
			return err
		}
		return c.publish(ctx, Event{Type: "alert.confirmed", Alert: key, Case: id, Desk: route.Desk.ID, Level: string(a.Level)})
	})
	if err != nil {
		return Case{}, err
	}
	return s.cases.Case(ctx, by, id)
}

// chosenRoute is the route to the desk a reviewer chose instead of routed,
// the rule's (whose desk is empty when the rule found none).
func chosenRoute(by User, a Alert, deskID string, routed Route, desks []Desk) (Route, error) {
	i := slices.IndexFunc(desks, func(d Desk) bool { return d.ID == deskID })
	if i < 0 {
		return Route{}, fmt.Errorf("desk %q: no such desk: %w", deskID, risk.ErrInvalid)
	}
	d := desks[i]
	if !by.within(d.Region) {
		return Route{}, fmt.Errorf("desk %s is outside %s's jurisdiction: %w", deskID, by.Username, risk.ErrForbidden)
	}
	r, err := risk.ParseRegion(a.Region)
	if err != nil || !d.covers(r) {
		return Route{}, fmt.Errorf("desk %s (%s) does not cover the alert's region %s: %w", deskID, d.Name, a.Region, risk.ErrInvalid)
	}
	reason := "研判人员指定" + d.Name
	if routed.Desk.ID != "" && routed.Desk.ID != d.ID {
		reason += "（规则分派至" + routed.Desk.Name + "）"
	} else if routed.Desk.ID == d.ID {
		reason += "（与规则分派一致）"
	}
	return Route{Desk: d, Tier: d.Tier, Reason: reason}, nil
}

// Dismiss closes a reviewed alert without a case. The reason is required:
// dismissals by reason are the detectors' measured false alarms.
func (s *Review) Dismiss(ctx context.Context, by User, key string, reason risk.DismissReason, note string) (Alert, error) {
	if err := by.allow(permReview, by.Jurisdiction); err != nil {
		return Alert{}, err
	}
	if !reason.Valid() {
		return Alert{}, fmt.Errorf("dismiss reason %q: want false_positive, handled or duplicate: %w", reason, risk.ErrInvalid)
	}
	note, err := s.text("note", note, false)
	if err != nil {
		return Alert{}, err
	}
	err = s.write(ctx, by.Username, func(c *change) error {
		a, err := reviewable(ctx, c.tx, by, key)
		if err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `UPDATE alerts SET status = 'dismissed', dismiss_reason = $2, reviewed_by = $3, reviewed_at = $4, updated_at = $4
			WHERE key = $1`, key, reason, by.Username, c.at); err != nil {
			return err
		}
		if err := c.audit(ctx, "alert.dismiss", auditRef{alertKey: key}, map[string]any{"reason": reason, "note": note}); err != nil {
			return err
		}
		return c.publish(ctx, Event{Type: "alert.dismissed", Alert: key, Level: string(a.Level), Detail: map[string]any{"reason": reason}})
	})
	if err != nil {
		return Alert{}, err
	}
	return s.GetAlert(ctx, by, key)
}

// Merge joins a reviewed alert to an existing case: its evidence becomes
// the case's, and the case's mediator is told.
func (s *Review) Merge(ctx context.Context, by User, key string, caseID int64) (Case, error) {
	err := s.write(ctx, by.Username, func(c *change) error {
		a, err := reviewable(ctx, c.tx, by, key)
		if err != nil {
			return err
		}
		k, err := caseForUpdate(ctx, c.tx, by, caseID)
		if err != nil {
			return err
		}
		if !k.Status.Open() {
			return fmt.Errorf("case %d is %s: reopen it first: %w", caseID, k.Status.Name(), risk.ErrConflict)
		}
		if _, err := c.tx.Exec(ctx, `UPDATE alerts SET status = 'merged', case_id = $2, reviewed_by = $3, reviewed_at = $4, updated_at = $4
			WHERE key = $1`, key, caseID, by.Username, c.at); err != nil {
			return err
		}
		return s.cases.join(ctx, c, k, a, "alert.merge")
	})
	if err != nil {
		return Case{}, err
	}
	return s.cases.Case(ctx, by, caseID)
}

// Related lists the open alerts and the cases about the same person or
// subject as an alert, in by's jurisdiction: what a reviewer merges into.
func (s *Review) Related(ctx context.Context, by User, key string) ([]Alert, []Case, error) {
	a, err := s.GetAlert(ctx, by, key)
	if err != nil {
		return nil, nil, err
	}
	persons, subject := []string{}, a.Subject
	if a.Person != "" {
		persons = append(persons, a.Person)
	}
	if s.party != nil {
		parties, err := s.party.Parties(ctx, a.Evidence)
		if err != nil {
			return nil, nil, fmt.Errorf("parties of alert %s: %w", key, err)
		}
		for _, p := range parties {
			persons = append(persons, p.Key)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE key <> $1 AND status = 'open' AND starts_with(region, $2)
		  AND ((person <> '' AND person = ANY($3)) OR ($4 <> '' AND subject = $4))
		ORDER BY last_seen DESC LIMIT 50`, key, by.Jurisdiction, persons, subject)
	if err != nil {
		return nil, nil, fmt.Errorf("related alerts: %w", err)
	}
	alerts, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, nil, err
	}
	cases, err := s.cases.list(ctx, `starts_with(region, $1) AND (persons && $2 OR ($3 <> '' AND subject = $3))
		ORDER BY created_at DESC LIMIT 50`, by.Jurisdiction, persons, subject)
	return alerts, cases, err
}

// deletedFinder says which of some records were deleted upstream (grid
// status 06): their newest stored state is 'deleted'.
type deletedFinder interface {
	Deleted(ctx context.Context, refs []risk.Evidence) ([]risk.Evidence, error)
}

// withdrawBatch is how many open alerts Withdraw reads at a time; their
// records are asked about together.
const withdrawBatch = 100

// Withdraw withdraws every open alert whose evidence records were all
// deleted upstream: its status becomes withdrawn, and the audit log and the
// riskwatch.cases topic say why and which records. Only alerts that list
// every record they named are judged (evidence_count within MaxEvidence),
// and alerts without evidence never. It does nothing without a
// deletedFinder (Deps.Deleted).
func (s *Review) Withdraw(ctx context.Context) error {
	if s.deleted == nil {
		return nil
	}
	after := ""
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
			WHERE status = 'open' AND evidence_count > 0 AND evidence_count = jsonb_array_length(evidence) AND key > $1
			ORDER BY key LIMIT $2`, after, withdrawBatch)
		if err != nil {
			return fmt.Errorf("alerts to check for deleted evidence: %w", err)
		}
		alerts, err := pgx.CollectRows(rows, scanAlert)
		if err != nil {
			return fmt.Errorf("alerts to check for deleted evidence: %w", err)
		}
		if len(alerts) == 0 {
			return nil
		}
		after = alerts[len(alerts)-1].Key
		var refs []risk.Evidence
		for _, a := range alerts {
			refs = append(refs, a.Evidence...)
		}
		gone := map[risk.Evidence]bool{}
		for chunk := range slices.Chunk(refs, 500) {
			deleted, err := s.deleted.Deleted(ctx, chunk)
			if err != nil {
				return fmt.Errorf("deleted records: %w", err)
			}
			for _, e := range deleted {
				gone[e] = true
			}
		}
		for _, a := range alerts {
			if !slices.ContainsFunc(a.Evidence, func(e risk.Evidence) bool { return !gone[e] }) {
				if err := s.withdraw(ctx, a); err != nil {
					return err
				}
			}
		}
	}
}

// withdraw withdraws one alert if it is still open.
func (s *Review) withdraw(ctx context.Context, a Alert) error {
	return s.write(ctx, "system", func(c *change) error {
		tag, err := c.tx.Exec(ctx, `UPDATE alerts SET status = 'withdrawn', updated_at = $2 WHERE key = $1 AND status = 'open'`, a.Key, c.at)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		detail := map[string]any{"reason": "证据记录均已被上游删除", "records": a.Evidence}
		if err := c.audit(ctx, "alert.withdraw", auditRef{alertKey: a.Key, deskID: a.Desk}, detail); err != nil {
			return err
		}
		return c.publish(ctx, Event{Type: "alert.withdrawn", Alert: a.Key, Desk: a.Desk, Level: string(a.Level), Detail: detail})
	})
}
