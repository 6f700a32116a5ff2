package desk

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Intake handles the alerts the detectors raised since the last call: an
// alert about the person, the subject or the earlier alert of an open case
// joins that case and tells its mediator, instead of waiting for review as
// a new matter; every other new alert — and an open one whose level rose —
// is routed to the one desk competent for it, with the reason. Replicas
// share the work (SKIP LOCKED); each alert is handled once per level.
func (s *Review) Intake(ctx context.Context) error {
	desks, err := s.dir.Desks(ctx)
	if err != nil {
		return err
	}
	for {
		n := 0
		err := s.write(ctx, "system", func(c *change) error {
			rows, err := c.tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts
				WHERE status = 'open' AND (routed_at IS NULL OR routed_level IS DISTINCT FROM level)
				ORDER BY created_at LIMIT 50 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			alerts, err := pgx.CollectRows(rows, scanAlert)
			if err != nil {
				return err
			}
			n = len(alerts)
			for _, a := range alerts {
				if err := s.intake(ctx, c, a, desks); err != nil {
					return fmt.Errorf("alert %s: %w", a.Key, err)
				}
			}
			return nil
		})
		if err != nil || n < 50 {
			return err
		}
	}
}

func (s *Review) intake(ctx context.Context, c *change, a Alert, desks []Desk) error {
	k, found, err := openCaseOf(ctx, c.tx, a)
	if err != nil {
		return err
	}
	if found {
		if _, err := c.tx.Exec(ctx, `UPDATE alerts SET status = 'merged', case_id = $2, desk_id = $3, routed_at = $4, routed_level = level,
			route_reason = $5, updated_at = $4 WHERE key = $1`, a.Key, k.ID, k.Desk, c.at, fmt.Sprintf("并入在办案件 #%d", k.ID)); err != nil {
			return err
		}
		return s.cases.join(ctx, c, k, a, "alert.join")
	}
	route, err := s.routing.Route(Scope{a.Detector, a.Level, a.Region}, desks)
	desk, reason := route.Desk.ID, route.Reason
	if err != nil {
		// Kept for the county's reviewers, who see every alert of their
		// jurisdiction: an alert nobody owns must not vanish.
		desk, reason = "", "无可接收的工作台："+err.Error()
	}
	if _, err := c.tx.Exec(ctx, `UPDATE alerts SET desk_id = nullif($2, ''), route_reason = $3, routed_at = $4, routed_level = level WHERE key = $1`,
		a.Key, desk, reason, c.at); err != nil {
		return err
	}
	if err := c.audit(ctx, "alert.route", auditRef{alertKey: a.Key, deskID: desk}, map[string]any{"reason": reason, "level": a.Level}); err != nil {
		return err
	}
	return c.publish(ctx, Event{Type: "alert.routed", Alert: a.Key, Desk: desk, Level: string(a.Level), Detail: map[string]any{"reason": reason, "summary": a.Summary}})
}

// openCaseOf finds the open case an alert is about: the case of the alert
// it recurs from, or one with its person among the parties or its subject.
func openCaseOf(ctx context.Context, tx pgx.Tx, a Alert) (Case, bool, error) {
	rows, err := tx.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE status IN ('pending', 'accepted', 'mediating') AND (
			id = (SELECT case_id FROM alerts WHERE key = $1)
			OR ($2 <> '' AND $2 = ANY(persons))
			OR ($3 <> '' AND subject = $3 AND starts_with(region, left($4, 6))))
		ORDER BY created_at DESC LIMIT 1 FOR UPDATE`, a.PreviousKey, a.Person, a.Subject, a.Region)
	if err != nil {
		return Case{}, false, err
	}
	cases, err := pgx.CollectRows(rows, scanCase)
	if err != nil || len(cases) == 0 {
		return Case{}, false, err
	}
	return cases[0], true, nil
}
