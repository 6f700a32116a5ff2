package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// Clock moves the cases' deadlines: reminders, cards and escalation.
type Clock struct {
	base
	cases *Cases
}

// Tick runs the deadline clock at now: it warns the mediator of a case due
// within deadlines.due_soon working days (将到期), gives an overdue case a
// yellow card to its desk's heads (黄牌督办), and red_card working days
// later a red card and escalation to the desk above. Each step is a
// conditional update of one case in its own transaction, so ticks may run
// on every replica and repeat: each step happens once. A case that fails
// (or panics) is reported in the error and the others go on.
func (s *Clock) Tick(ctx context.Context, now time.Time) error {
	now = now.UTC()
	desks, err := s.cases.dir.Desks(ctx)
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE status IN ('pending', 'accepted', 'mediating') AND paused_at IS NULL AND due_at < $1::timestamptz + interval '40 days'
		ORDER BY due_at`, now)
	if err != nil {
		return fmt.Errorf("cases due: %w", err)
	}
	cases, err := pgx.CollectRows(rows, scanCase)
	if err != nil {
		return fmt.Errorf("cases due: %w", err)
	}
	var errs []error
	for _, k := range cases {
		err := runSafely(ctx, func(ctx context.Context) error { return s.tickCase(ctx, k, desks, now) })
		if err != nil {
			errs = append(errs, fmt.Errorf("case %d: %w", k.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Clock) tickCase(ctx context.Context, k Case, desks []Desk, now time.Time) error {
	d := findDesk(desks, k.Desk)
	cfg := s.cases.deadlines
	write := func(fn func(c *change, k Case) error) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			c := &change{tx: tx, at: now, actor: "system"}
			// Re-read under the lock: another replica may have moved it.
			rows, err := tx.Query(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1 AND version = $2 FOR UPDATE`, k.ID, k.Version)
			if err != nil {
				return err
			}
			cur, err := pgx.CollectRows(rows, scanCase)
			if err != nil || len(cur) == 0 {
				return err
			}
			return fn(c, cur[0])
		})
	}
	switch {
	case now.Before(k.DueAt):
		if !s.cases.cal.DueWithin(now, k.DueAt, cfg.DueSoon) {
			return nil
		}
		return write(func(c *change, k Case) error {
			tag, err := c.tx.Exec(ctx, `UPDATE cases SET warned_at = $2 WHERE id = $1 AND warned_at IS NULL`, k.ID, now)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			if err := c.audit(ctx, "case.due_soon", auditRef{caseID: k.ID, deskID: k.Desk}, map[string]any{"due": k.DueAt}); err != nil {
				return err
			}
			msg := robot.Message{Title: "将到期：案件 #" + fmt.Sprint(k.ID), Markdown: fmt.Sprintf("#### 案件 #%d 将到期\n%s\n\n- 承办：%s\n- 期限：%s",
				k.ID, k.Title, orNone(k.Mediator), k.DueAt.In(risk.CST).Format("2006-01-02 15:04"))}
			return c.notify(ctx, d, fmt.Sprintf("case/%d/due-soon/%d", k.ID, k.DueAt.Unix()), false, msg)
		})
	case k.Card == "":
		return write(func(c *change, k Case) error {
			return s.card(ctx, c, k, d, "yellow")
		})
	// Due times are the end of a working day (24:00): the days past due
	// count from that day, not from the next.
	case k.Card == "yellow" && !now.Before(s.cases.cal.AddWorkingDays(k.DueAt.Add(-time.Nanosecond), cfg.RedCard)):
		return write(func(c *change, k Case) error {
			if err := s.card(ctx, c, k, d, "red"); err != nil {
				return err
			}
			if _, ok := Above(d, k.Region, desks); !ok {
				return nil // the top desk keeps its red card
			}
			k.Version++
			reason := fmt.Sprintf("超期%d个工作日未办结，红牌督办，自动上交", cfg.RedCard)
			return s.cases.escalate(ctx, c, k, desks, "", reason)
		})
	}
	return nil
}

// card gives a case a yellow or red card and tells the desk's heads.
func (s *Clock) card(ctx context.Context, c *change, k Case, d Desk, color string) error {
	if _, err := c.tx.Exec(ctx, `UPDATE cases SET card = $2, version = version + 1, updated_at = $3 WHERE id = $1`, k.ID, color, c.at); err != nil {
		return err
	}
	if err := c.audit(ctx, "case.card", auditRef{caseID: k.ID, deskID: d.ID}, map[string]any{"card": color, "due": k.DueAt, "heads": d.Heads}); err != nil {
		return err
	}
	name := map[string]string{"yellow": "黄牌督办", "red": "红牌督办"}[color]
	msg := robot.Message{Title: name + "：案件 #" + fmt.Sprint(k.ID), Markdown: fmt.Sprintf("#### %s：案件 #%d 已超期\n%s\n\n- 承办：%s\n- 期限：%s\n- 请负责人督办：%s",
		name, k.ID, k.Title, orNone(k.Mediator), k.DueAt.In(risk.CST).Format("2006-01-02 15:04"), orNone(strings.Join(d.Heads, "、")))}
	if err := c.notify(ctx, d, fmt.Sprintf("case/%d/card/%s/%d", k.ID, color, k.DueAt.Unix()), color == "red", msg); err != nil {
		return err
	}
	return c.publish(ctx, Event{Type: "case.card", Case: k.ID, Desk: d.ID, Status: string(k.Status), Level: string(k.Level), Detail: map[string]any{"card": color}})
}
