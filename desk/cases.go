package desk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// Cases are the disputes the desks work, with their parties, notes and
// ladder of escalations.
type Cases struct {
	base
	deadlines DeadlineConfig
	cal       calendar
	dir       *Directory
	seal      unsealer // nil: contacts cannot be revealed
}

// Case is a dispute a desk works until it is settled, terminated, referred
// or escalated.
type Case struct {
	ID          int64           `json:"id"`
	Desk        string          `json:"desk"`
	FirstDesk   string          `json:"first_desk"`
	Mediator    string          `json:"mediator,omitempty"`
	Status      risk.CaseStatus `json:"status"`
	StatusName  string          `json:"status_name"`
	Level       risk.Level      `json:"level"`
	Kind        string          `json:"kind"`
	Title       string          `json:"title"`
	Region      string          `json:"region"`
	Subject     string          `json:"subject,omitempty"`
	Persons     []string        `json:"persons"` // linking keys of its parties: new evidence about them joins the case
	ReceivedAt  time.Time       `json:"received_at"`
	DueAt       time.Time       `json:"due_at"`
	Paused      bool            `json:"paused"`
	Card        string          `json:"card,omitempty"` // yellow or red (黄牌/红牌督办)
	Escalations int             `json:"escalations"`
	Reopened    int             `json:"reopened"`
	Version     int             `json:"version"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	ClosedAt    *time.Time      `json:"closed_at,omitempty"`
	Outcome     *Outcome        `json:"outcome,omitempty"` // nil until its mediator records one

	// Filled by Case, not by lists.
	Parties []Party      `json:"parties,omitempty"`
	Alerts  []string     `json:"alerts,omitempty"`
	Notes   []Note       `json:"notes,omitempty"`
	Ladder  []Escalation `json:"ladder,omitempty"`
	Desks   []string     `json:"desks,omitempty"` // desks that may read it: its own and those it came up from
}

// Party is a person of a case, as everyone but its mediator sees them:
// masked. Sealed is the encrypted contact; it never leaves the store.
type Party struct {
	Key    string `json:"key"`
	Role   string `json:"role"`
	Name   string `json:"name"`
	Phone  string `json:"phone"`
	Sealed string `json:"-"`
}

// Contact is a party's clear contact, revealed to the case's mediator.
type Contact struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	IDNo  string `json:"id_no,omitempty"`
}

// Note is an entry of a case's record: a note, a contact with a party, a
// step of progress, or new evidence joining it.
type Note struct {
	ID     int64     `json:"id"`
	Author string    `json:"author"`
	Kind   string    `json:"kind"`
	Body   string    `json:"body"`
	At     time.Time `json:"at"`
}

// Escalation is one move up the ladder.
type Escalation struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	By     string    `json:"by"` // "" when the clock escalated
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Outcome is what a mediation agreed (调解结果): the agreement's text, its
// personal numbers masked, and the money agreed in yuan (0 when none). By
// and At say who recorded it and when; they are set by the store and ignored
// in a change. A referral to court mediation (诉调对接) is the refer action.
type Outcome struct {
	Agreement string    `json:"agreement"`
	Amount    float64   `json:"amount"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// maxAmount is the largest amount an outcome records, in yuan: what
// numeric(14, 2) holds.
const maxAmount = 999_999_999_999.99

const caseColumns = `id, desk_id, first_desk_id, coalesce(mediator, ''), status, level, kind, title, region, subject, persons,
	received_at, due_at, paused_at IS NOT NULL, card, escalations, reopened, version, created_at, updated_at, closed_at,
	outcome_agreement, outcome_amount::float8, coalesce(outcome_by, ''), outcome_at`

func scanCase(row pgx.CollectableRow) (Case, error) {
	var k Case
	var agreement *string
	var amount *float64
	var outcomeBy string
	var outcomeAt *time.Time
	err := row.Scan(&k.ID, &k.Desk, &k.FirstDesk, &k.Mediator, &k.Status, &k.Level, &k.Kind, &k.Title, &k.Region, &k.Subject,
		&k.Persons, &k.ReceivedAt, &k.DueAt, &k.Paused, &k.Card, &k.Escalations, &k.Reopened, &k.Version, &k.CreatedAt, &k.UpdatedAt, &k.ClosedAt,
		&agreement, &amount, &outcomeBy, &outcomeAt)
	k.StatusName = k.Status.Name()
	if agreement != nil {
		k.Outcome = &Outcome{Agreement: *agreement, By: outcomeBy}
		if amount != nil {
			k.Outcome.Amount = *amount
		}
		if outcomeAt != nil {
			k.Outcome.At = *outcomeAt
		}
	}
	return k, err
}

// caseDesks are the desks that may read a case.
func caseDesks(ctx context.Context, q querier, id int64) ([]Desk, error) {
	rows, err := q.Query(ctx, `SELECT `+deskColumns+` FROM desks WHERE id IN (SELECT desk_id FROM case_desks WHERE case_id = $1)`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanDesk)
}

// canRead reports whether by may read case k: centre staff of its
// jurisdiction, and the people of the desks it is or was at.
func canRead(by User, k Case, desks []Desk) error {
	if err := by.allow(permCases, k.Region); err != nil {
		return err
	}
	if by.Role != RoleMediator {
		return nil
	}
	for _, d := range desks {
		if d.Member(by.Username) {
			return nil
		}
	}
	return fmt.Errorf("case %d is not at %s's desks: %w", k.ID, by.Username, risk.ErrForbidden)
}

// loadCase reads case id and the desks that may read it; lock is "" or
// " FOR UPDATE".
func loadCase(ctx context.Context, q querier, id int64, lock string) (Case, []Desk, error) {
	rows, err := q.Query(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`+lock, id)
	if err != nil {
		return Case{}, nil, fmt.Errorf("get case: %w", err)
	}
	k, err := pgx.CollectExactlyOneRow(rows, scanCase)
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, nil, notFound("case", id)
	}
	if err != nil {
		return Case{}, nil, err
	}
	desks, err := caseDesks(ctx, q, id)
	return k, desks, err
}

// caseForUpdate locks a case that by may read; one by may not read does
// not exist for them.
func caseForUpdate(ctx context.Context, tx pgx.Tx, by User, id int64) (Case, error) {
	if err := by.allow(permCases, by.Jurisdiction); err != nil {
		return Case{}, err
	}
	k, desks, err := loadCase(ctx, tx, id, " FOR UPDATE")
	if err != nil {
		return Case{}, err
	}
	if err := canRead(by, k, desks); err != nil {
		return Case{}, notFound("case", id)
	}
	return k, nil
}

// Case returns a case with its parties (masked), alerts, notes and ladder.
func (s *Cases) Case(ctx context.Context, by User, id int64) (Case, error) {
	k, desks, err := loadCase(ctx, s.pool, id, "")
	if err != nil {
		return Case{}, err
	}
	// A role that reads no case is refused as such; a case outside the
	// caller's jurisdiction or desks does not exist for them.
	if err := by.allow(permCases, by.Jurisdiction); err != nil {
		return Case{}, err
	}
	if err := canRead(by, k, desks); err != nil {
		return Case{}, notFound("case", id)
	}
	for _, d := range desks {
		k.Desks = append(k.Desks, d.ID)
	}
	slices.Sort(k.Desks)
	rows, err := s.pool.Query(ctx, `SELECT person_key, role, name, phone, '' FROM case_parties WHERE case_id = $1 ORDER BY role, person_key`, id)
	if err != nil {
		return Case{}, err
	}
	if k.Parties, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Party]); err != nil {
		return Case{}, err
	}
	if rows, err = s.pool.Query(ctx, `SELECT key FROM alerts WHERE case_id = $1 ORDER BY created_at`, id); err != nil {
		return Case{}, err
	}
	if k.Alerts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return Case{}, err
	}
	if rows, err = s.pool.Query(ctx, `SELECT id, author, kind, body, at FROM case_notes WHERE case_id = $1 ORDER BY id`, id); err != nil {
		return Case{}, err
	}
	if k.Notes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Note]); err != nil {
		return Case{}, err
	}
	if rows, err = s.pool.Query(ctx, `SELECT from_desk, to_desk, by_user, reason, at FROM escalations WHERE case_id = $1 ORDER BY id`, id); err != nil {
		return Case{}, err
	}
	k.Ladder, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Escalation])
	return k, err
}

// CaseFilter narrows a list of cases.
type CaseFilter struct {
	Status string // a status, or "open" for the open ones
	Desk   string
	Mine   bool // the caller's own cases (mediators)
	Limit  int
}

// Cases lists the cases by may read, newest first.
func (s *Cases) Cases(ctx context.Context, by User, f CaseFilter) ([]Case, error) {
	if err := by.allow(permCases, by.Jurisdiction); err != nil {
		return nil, err
	}
	where := []string{"starts_with(region, $1)"}
	args := []any{by.Jurisdiction}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	switch f.Status {
	case "":
	case "open":
		where = append(where, "status IN ('pending', 'accepted', 'mediating')")
	default:
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Desk != "" {
		where = append(where, "desk_id = "+arg(f.Desk))
	}
	if f.Mine {
		where = append(where, "mediator = "+arg(by.Username))
	}
	if by.Role == RoleMediator {
		me := arg(by.Username)
		where = append(where, `id IN (SELECT case_id FROM case_desks cd JOIN desks d ON d.id = cd.desk_id
			WHERE `+me+` = ANY(d.members) OR `+me+` = ANY(d.heads))`)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	return s.list(ctx, strings.Join(where, " AND ")+" ORDER BY created_at DESC, id DESC LIMIT "+fmt.Sprint(limit), args...)
}

func (s *Cases) list(ctx context.Context, where string, args ...any) ([]Case, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return pgx.CollectRows(rows, scanCase)
}

// open creates the case of an alert at the route's desk.
func (s *Cases) open(ctx context.Context, c *change, a Alert, route Route, parties []Party) (int64, error) {
	persons := []string{}
	if a.Person != "" {
		persons = append(persons, a.Person)
	}
	for _, p := range parties {
		if !strings.Contains(strings.Join(persons, "\x00"), p.Key) {
			persons = append(persons, p.Key)
		}
	}
	due := s.cal.AddWorkingDays(c.at, s.deadlines.days(route.Desk.Tier, a.Detector))
	var id int64
	err := c.tx.QueryRow(ctx, `INSERT INTO cases (desk_id, first_desk_id, status, level, kind, title, region, subject, persons,
			received_at, due_at, created_at, updated_at)
		VALUES ($1, $1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) RETURNING id`,
		route.Desk.ID, a.Level, a.Detector, a.Summary, a.Region, a.Subject, persons, c.at, due).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create case: %w", err)
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO case_desks (case_id, desk_id) VALUES ($1, $2)`, id, route.Desk.ID); err != nil {
		return 0, err
	}
	for _, p := range parties {
		if _, err := c.tx.Exec(ctx, `INSERT INTO case_parties (case_id, person_key, role, name, phone, sealed) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`, id, p.Key, p.Role, p.Name, p.Phone, p.Sealed); err != nil {
			return 0, fmt.Errorf("add party: %w", err)
		}
	}
	if err := c.audit(ctx, "case.create", auditRef{caseID: id, alertKey: a.Key, deskID: route.Desk.ID},
		map[string]any{"due": due, "level": a.Level, "kind": a.Detector, "parties": len(parties)}); err != nil {
		return 0, err
	}
	msg := robot.Message{
		Title: "新案件：" + detectorName(a.Detector),
		Markdown: fmt.Sprintf("#### 新案件 #%d（%s预警）\n%s\n\n- 接收：%s\n- 期限：%s\n- %s",
			id, levelNames[a.Level], a.Summary, route.Desk.Name, due.In(risk.CST).Format("2006-01-02 15:04"), route.Reason),
	}
	if err := c.notify(ctx, route.Desk, fmt.Sprintf("case/%d/new/%s", id, route.Desk.ID), a.Level == risk.LevelRed, msg); err != nil {
		return 0, err
	}
	return id, c.publish(ctx, Event{Type: "case.created", Case: id, Alert: a.Key, Desk: route.Desk.ID, Status: string(risk.CasePending), Level: string(a.Level)})
}

// join adds an alert's evidence to a case and tells its mediator.
func (s *Cases) join(ctx context.Context, c *change, k Case, a Alert, action string) error {
	if err := addNote(ctx, c, k.ID, "evidence", fmt.Sprintf("新增预警（%s，%s）：%s", detectorName(a.Detector), levelNames[a.Level], a.Summary)); err != nil {
		return err
	}
	if _, err := c.tx.Exec(ctx, `UPDATE cases SET level = $2, version = version + 1, updated_at = $3 WHERE id = $1`, k.ID, k.Level.Max(a.Level), c.at); err != nil {
		return err
	}
	if err := c.audit(ctx, action, auditRef{caseID: k.ID, alertKey: a.Key, deskID: k.Desk}, map[string]any{"level": a.Level}); err != nil {
		return err
	}
	d, err := getDesk(ctx, c.tx, k.Desk)
	if err != nil {
		return err
	}
	msg := robot.Message{Title: "案件新情况", Markdown: fmt.Sprintf("#### 案件 #%d 有新情况\n%s\n\n- 承办：%s", k.ID, a.Summary, orNone(k.Mediator))}
	if err := c.notify(ctx, d, fmt.Sprintf("case/%d/evidence/%s", k.ID, a.Key), a.Level == risk.LevelRed, msg); err != nil {
		return err
	}
	return c.publish(ctx, Event{Type: "case.evidence", Case: k.ID, Alert: a.Key, Desk: k.Desk, Level: string(a.Level)})
}

func orNone(s string) string {
	if s == "" {
		return "未指派"
	}
	return s
}

// checkVersion refuses a change made against an older version of a case:
// someone else changed it since the caller read it.
func checkVersion(k Case, version int) error {
	if version != k.Version {
		return fmt.Errorf("case %d changed since you read it (version %d, now %d): reload and try again: %w", k.ID, version, k.Version, risk.ErrConflict)
	}
	return nil
}

// Act applies an action to a case (accept, start, settle, terminate,
// refer, escalate, reopen) against the version the caller read. Accepting
// makes the caller its mediator; the other actions are for its mediator,
// the desk's heads, and (escalate only) centre reviewers.
func (s *Cases) Act(ctx context.Context, by User, id int64, version int, a risk.CaseAction, reason string) (Case, error) {
	return s.work(ctx, by, id, version, a, func(c *change, k Case, desks []Desk) error {
		to, err := k.Status.Apply(a)
		if err != nil {
			return err
		}
		reason, err := s.text(string(a)+" reason", reason, a == risk.ActEscalate || a == risk.ActTerminate || a == risk.ActRefer)
		if err != nil {
			return err
		}
		if a == risk.ActEscalate {
			return s.escalate(ctx, c, k, desks, by.Username, reason)
		}
		return s.move(ctx, c, k, a, to, by, reason)
	})
}

// work runs fn on case id, locked, once by may take action a on it at the
// version they read, and returns the case as it then is.
func (s *Cases) work(ctx context.Context, by User, id int64, version int, a risk.CaseAction, fn func(*change, Case, []Desk) error) (Case, error) {
	desks, err := s.dir.Desks(ctx)
	if err != nil {
		return Case{}, err
	}
	err = s.write(ctx, by.Username, func(c *change) error {
		k, err := caseForUpdate(ctx, c.tx, by, id)
		if err != nil {
			return err
		}
		if err := s.mayAct(by, k, a, desks); err != nil {
			return err
		}
		if err := checkVersion(k, version); err != nil {
			return err
		}
		return fn(c, k, desks)
	})
	if err != nil {
		return Case{}, err
	}
	return s.Case(ctx, by, id)
}

// mayAct checks who may take action a on case k.
func (s *Cases) mayAct(by User, k Case, a risk.CaseAction, desks []Desk) error {
	d := findDesk(desks, k.Desk)
	switch {
	case by.Role == RoleReviewer && (a == risk.ActEscalate || a == risk.ActReopen):
		return by.allow(permAssign, k.Region)
	case by.Role != RoleMediator:
		return fmt.Errorf("%s may not %s a case: %w", by.Role, a, risk.ErrForbidden)
	case !d.Member(by.Username):
		return fmt.Errorf("case %d is at %s, not at %s's desk: %w", k.ID, d.Name, by.Username, risk.ErrForbidden)
	case a == risk.ActAccept || a == risk.ActReopen || k.Mediator == by.Username || slices.Contains(d.Heads, by.Username):
		return by.allow(permWork, k.Region)
	}
	return fmt.Errorf("case %d is %s's: %w", k.ID, k.Mediator, risk.ErrForbidden)
}

func findDesk(desks []Desk, id string) Desk {
	for _, d := range desks {
		if d.ID == id {
			return d
		}
	}
	return Desk{ID: id, Name: id}
}

// move writes a status change that stays at the desk.
func (s *Cases) move(ctx context.Context, c *change, k Case, a risk.CaseAction, to risk.CaseStatus, by User, reason string) error {
	mediator, due, received, closed := k.Mediator, k.DueAt, k.ReceivedAt, k.ClosedAt
	reopened := k.Reopened
	switch a {
	case risk.ActAccept:
		mediator = by.Username
	case risk.ActSettle, risk.ActTerminate, risk.ActRefer:
		closed = &c.at
	case risk.ActReopen:
		// The dispute came back: a fresh term at the desk that has it.
		reopened++
		closed, received = nil, c.at
		due = s.cal.AddWorkingDays(c.at, s.deadlines.days(findTier(ctx, c, k.Desk), k.Kind))
		if mediator == "" {
			mediator = by.Username
		}
	}
	_, err := c.tx.Exec(ctx, `UPDATE cases SET status = $2, mediator = nullif($3, ''), due_at = $4, received_at = $5, closed_at = $6,
		reopened = $7, card = CASE WHEN $8 THEN '' ELSE card END, warned_at = CASE WHEN $8 THEN NULL ELSE warned_at END,
		version = version + 1, updated_at = $9 WHERE id = $1`,
		k.ID, to, mediator, due, received, closed, reopened, a == risk.ActReopen, c.at)
	if err != nil {
		return fmt.Errorf("update case %d: %w", k.ID, err)
	}
	if reason != "" {
		if err := addNote(ctx, c, k.ID, "progress", fmt.Sprintf("%s：%s", to.Name(), reason)); err != nil {
			return err
		}
	}
	if err := c.audit(ctx, "case."+string(a), auditRef{caseID: k.ID, deskID: k.Desk},
		map[string]any{"from": k.Status, "to": to, "reason": reason, "mediator": mediator}); err != nil {
		return err
	}
	return c.publish(ctx, Event{Type: "case." + string(a), Case: k.ID, Desk: k.Desk, Status: string(to), Level: string(k.Level)})
}

func findTier(ctx context.Context, c *change, deskID string) risk.Tier {
	d, err := getDesk(ctx, c.tx, deskID)
	if err != nil {
		return risk.TierCounty
	}
	return d.Tier
}

// escalate moves a case one step up the ladder (上交): it waits there as
// pending with a fresh term, the desks below keep read access, and the
// move is recorded — never silent. by is "" when the clock escalates.
func (s *Cases) escalate(ctx context.Context, c *change, k Case, desks []Desk, by, reason string) error {
	from := findDesk(desks, k.Desk)
	to, ok := Above(from, k.Region, desks)
	if !ok {
		return fmt.Errorf("case %d is at %s, the top of the ladder: %w", k.ID, from.Name, risk.ErrConflict)
	}
	due := s.cal.AddWorkingDays(c.at, s.deadlines.days(to.Tier, k.Kind))
	if _, err := c.tx.Exec(ctx, `UPDATE cases SET desk_id = $2, status = 'pending', mediator = NULL, received_at = $3, due_at = $4,
		paused_at = NULL, warned_at = NULL, card = '', escalations = escalations + 1, version = version + 1, updated_at = $3 WHERE id = $1`,
		k.ID, to.ID, c.at, due); err != nil {
		return fmt.Errorf("escalate case %d: %w", k.ID, err)
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO case_desks (case_id, desk_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, k.ID, to.ID); err != nil {
		return err
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO escalations (case_id, from_desk, to_desk, by_user, reason, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, from.ID, to.ID, by, reason, c.at); err != nil {
		return err
	}
	if err := c.audit(ctx, "case.escalate", auditRef{caseID: k.ID, deskID: to.ID},
		map[string]any{"from": from.ID, "to": to.ID, "reason": reason, "due": due}); err != nil {
		return err
	}
	msg := robot.Message{
		Title:    "案件上交：" + from.Name,
		Markdown: fmt.Sprintf("#### 案件 #%d 由%s上交\n%s\n\n- 原因：%s\n- 期限：%s", k.ID, from.Name, k.Title, reason, due.In(risk.CST).Format("2006-01-02 15:04")),
	}
	if err := c.notify(ctx, to, fmt.Sprintf("case/%d/escalated/%s", k.ID, to.ID), true, msg); err != nil {
		return err
	}
	return c.publish(ctx, Event{Type: "case.escalated", Case: k.ID, Desk: to.ID, Status: string(risk.CasePending), Level: string(k.Level),
		Detail: map[string]any{"from": from.ID, "reason": reason}})
}

// Assign gives a case to a mediator of its desk: reviewers hand cases out,
// and a desk's heads assign within their desk.
func (s *Cases) Assign(ctx context.Context, by User, id int64, version int, mediator string) (Case, error) {
	err := s.write(ctx, by.Username, func(c *change) error {
		k, err := caseForUpdate(ctx, c.tx, by, id)
		if err != nil {
			return err
		}
		d, err := getDesk(ctx, c.tx, k.Desk)
		if err != nil {
			return err
		}
		if by.Role == RoleMediator {
			if !slices.Contains(d.Heads, by.Username) {
				return fmt.Errorf("only %s's heads assign its cases: %w", d.Name, risk.ErrForbidden)
			}
		} else if err := by.allow(permAssign, k.Region); err != nil {
			return err
		}
		if err := checkVersion(k, version); err != nil {
			return err
		}
		if !d.Member(mediator) {
			return fmt.Errorf("%s does not work at %s: %w", mediator, d.Name, risk.ErrInvalid)
		}
		if !k.Status.Open() {
			return fmt.Errorf("case %d is %s: %w", id, k.Status.Name(), risk.ErrConflict)
		}
		status := k.Status
		if status == risk.CasePending {
			status = risk.CaseAccepted
		}
		if _, err := c.tx.Exec(ctx, `UPDATE cases SET mediator = $2, status = $3, version = version + 1, updated_at = $4 WHERE id = $1`,
			id, mediator, status, c.at); err != nil {
			return err
		}
		if err := c.audit(ctx, "case.assign", auditRef{caseID: id, deskID: d.ID}, map[string]any{"mediator": mediator}); err != nil {
			return err
		}
		msg := robot.Message{Title: "案件指派", Markdown: fmt.Sprintf("#### 案件 #%d 已指派给 %s\n%s\n\n- 期限：%s", id, mediator, k.Title, k.DueAt.In(risk.CST).Format("2006-01-02 15:04"))}
		if err := c.notify(ctx, d, fmt.Sprintf("case/%d/assigned/%s/%d", id, mediator, k.Version), false, msg); err != nil {
			return err
		}
		return c.publish(ctx, Event{Type: "case.assigned", Case: id, Desk: d.ID, Status: string(status), Detail: map[string]any{"mediator": mediator}})
	})
	if err != nil {
		return Case{}, err
	}
	return s.Case(ctx, by, id)
}

// NoteKinds are the kinds of entries people add to a case.
var NoteKinds = []string{"note", "contact", "progress"}

// AddNote appends a note, a contact record or progress to a case. Notes
// never conflict: two people writing at once both keep theirs.
func (s *Cases) AddNote(ctx context.Context, by User, id int64, kind, body string) (Note, error) {
	if !slices.Contains(NoteKinds, kind) {
		return Note{}, fmt.Errorf("note kind %q: want note, contact or progress: %w", kind, risk.ErrInvalid)
	}
	body, err := s.text("note", body, true)
	if err != nil {
		return Note{}, err
	}
	var n Note
	err = s.write(ctx, by.Username, func(c *change) error {
		k, err := caseForUpdate(ctx, c.tx, by, id)
		if err != nil {
			return err
		}
		d, err := getDesk(ctx, c.tx, k.Desk)
		if err != nil {
			return err
		}
		if by.Role == RoleMediator && !d.Member(by.Username) {
			return fmt.Errorf("case %d is at %s: %w", id, d.Name, risk.ErrForbidden)
		}
		if by.Role != RoleMediator {
			if err := by.allow(permAssign, k.Region); err != nil {
				return err
			}
		}
		if err := c.tx.QueryRow(ctx, `INSERT INTO case_notes (case_id, author, kind, body, at) VALUES ($1, $2, $3, $4, $5) RETURNING id, author, kind, body, at`,
			id, by.Username, kind, body, c.at).Scan(&n.ID, &n.Author, &n.Kind, &n.Body, &n.At); err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `UPDATE cases SET updated_at = $2 WHERE id = $1`, id, c.at); err != nil {
			return err
		}
		return c.audit(ctx, "case.note", auditRef{caseID: id, deskID: k.Desk}, map[string]any{"kind": kind, "note": n.ID})
	})
	return n, err
}

func addNote(ctx context.Context, c *change, id int64, kind, body string) error {
	_, err := c.tx.Exec(ctx, `INSERT INTO case_notes (case_id, author, kind, body, at) VALUES ($1, $2, $3, $4, $5)`, id, c.actor, kind, body, c.at)
	return err
}

// Pause stops a case's clock while it waits on an outside party (a court,
// an expert's report); Resume restarts it, moving the due time by the
// working time paused. Both need the deadlines.pause_clock setting.
func (s *Cases) Pause(ctx context.Context, by User, id int64, version int, why string) (Case, error) {
	return s.clock(ctx, by, id, version, true, why)
}

// CanPause says whether Pause is enabled (deadlines.pause_clock).
func (s *Cases) CanPause() bool { return s.deadlines.PauseClock }

// Resume restarts a paused case's clock; see Pause.
func (s *Cases) Resume(ctx context.Context, by User, id int64, version int) (Case, error) {
	return s.clock(ctx, by, id, version, false, "")
}

func (s *Cases) clock(ctx context.Context, by User, id int64, version int, pause bool, why string) (Case, error) {
	if !s.deadlines.PauseClock {
		return Case{}, fmt.Errorf("pausing deadlines is not enabled (deadlines.pause_clock): %w", risk.ErrInvalid)
	}
	why, err := s.text("what the case waits for", why, pause)
	if err != nil {
		return Case{}, err
	}
	// Who may pause is who may mediate.
	return s.work(ctx, by, id, version, risk.ActStart, func(c *change, k Case, _ []Desk) error {
		var err error
		if !k.Status.Open() || k.Paused == pause {
			return fmt.Errorf("case %d is %s, paused %v: %w", id, k.Status.Name(), k.Paused, risk.ErrConflict)
		}
		if pause {
			_, err = c.tx.Exec(ctx, `UPDATE cases SET paused_at = $2, version = version + 1, updated_at = $2 WHERE id = $1`, id, c.at)
			if err == nil {
				err = addNote(ctx, c, id, "progress", "暂停计时："+why)
			}
		} else {
			var since time.Time
			if err := c.tx.QueryRow(ctx, `SELECT paused_at FROM cases WHERE id = $1`, id).Scan(&since); err != nil {
				return err
			}
			due := s.cal.ExtendBy(k.DueAt, s.cal.WorkingTimeBetween(since, c.at))
			_, err = c.tx.Exec(ctx, `UPDATE cases SET paused_at = NULL, due_at = $2, version = version + 1, updated_at = $3 WHERE id = $1`, id, due, c.at)
		}
		if err != nil {
			return err
		}
		action := map[bool]string{true: "case.pause", false: "case.resume"}[pause]
		return c.audit(ctx, action, auditRef{caseID: id, deskID: k.Desk}, map[string]any{"why": why})
	})
}

// Reveal opens a party's contact for the case's mediator, and writes who
// read it, when, in which case, to the audit log in the same transaction:
// no reveal goes unrecorded. Nobody else may reveal.
func (s *Cases) Reveal(ctx context.Context, by User, id int64, personKey string) (Contact, error) {
	if s.seal == nil {
		return Contact{}, fmt.Errorf("no personal-data key configured: %w", risk.ErrForbidden)
	}
	var contact Contact
	err := s.write(ctx, by.Username, func(c *change) error {
		k, err := caseForUpdate(ctx, c.tx, by, id)
		if err != nil {
			return err
		}
		if by.Role != RoleMediator || k.Mediator != by.Username {
			return fmt.Errorf("only the case's mediator sees contacts: %w", risk.ErrForbidden)
		}
		var sealed string
		err = c.tx.QueryRow(ctx, `SELECT sealed FROM case_parties WHERE case_id = $1 AND person_key = $2`, id, personKey).Scan(&sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("party", personKey)
		}
		if err != nil {
			return err
		}
		if sealed == "" {
			return fmt.Errorf("party %s left no contact: %w", personKey, risk.ErrNotFound)
		}
		if contact, err = s.seal.Unseal(sealed); err != nil {
			return fmt.Errorf("open contact: %w", err)
		}
		return c.audit(ctx, "party.reveal", auditRef{caseID: id, deskID: k.Desk}, map[string]any{"person": personKey})
	})
	return contact, err
}

// SetOutcome records (or corrects) the outcome of a case's mediation
// against the version the caller read: a stale version is ErrConflict. It
// is for the case's mediator and its desk's heads — the people who may
// settle it — while the case is 调解中 or 调解成功 (else ErrConflict). The
// agreement is required and masked like every typed text; the amount must
// be a number of yuan from 0 to 999,999,999,999.99 (else ErrInvalid). The
// change, its audit entry and its event are one transaction.
func (s *Cases) SetOutcome(ctx context.Context, by User, id int64, version int, o Outcome) (Case, error) {
	agreement, err := s.text("agreement", o.Agreement, true)
	if err != nil {
		return Case{}, err
	}
	if math.IsNaN(o.Amount) || o.Amount < 0 || o.Amount > maxAmount {
		return Case{}, fmt.Errorf("amount %v: want 0 to %.2f yuan: %w", o.Amount, maxAmount, risk.ErrInvalid)
	}
	amount := math.Round(o.Amount*100) / 100
	return s.work(ctx, by, id, version, risk.ActSettle, func(c *change, k Case, _ []Desk) error {
		if k.Status != risk.CaseMediating && k.Status != risk.CaseSettled {
			return fmt.Errorf("case %d is %s: an outcome is recorded while mediating or once settled: %w", id, k.Status.Name(), risk.ErrConflict)
		}
		if _, err := c.tx.Exec(ctx, `UPDATE cases SET outcome_agreement = $2, outcome_amount = $3, outcome_by = $4, outcome_at = $5,
			version = version + 1, updated_at = $5 WHERE id = $1`, id, agreement, amount, by.Username, c.at); err != nil {
			return fmt.Errorf("record outcome of case %d: %w", id, err)
		}
		detail := map[string]any{"amount": amount, "status": k.Status, "corrected": k.Outcome != nil}
		if err := c.audit(ctx, "case.outcome", auditRef{caseID: id, deskID: k.Desk}, detail); err != nil {
			return err
		}
		return c.publish(ctx, Event{Type: "case.outcome", Case: id, Desk: k.Desk, Status: string(k.Status), Level: string(k.Level),
			Detail: map[string]any{"amount": amount}})
	})
}

// Evidence lists the records behind a case: the listed evidence of every
// alert it was made of or joined, oldest alert first, each record once, at
// most 500. Whoever may read the case (Case) may read its evidence; a case
// they may not read does not exist for them.
func (s *Cases) Evidence(ctx context.Context, by User, id int64) ([]risk.Evidence, error) {
	if _, err := s.Case(ctx, by, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT evidence FROM alerts WHERE case_id = $1 ORDER BY created_at, key`, id)
	if err != nil {
		return nil, fmt.Errorf("evidence of case %d: %w", id, err)
	}
	lists, err := pgx.CollectRows(rows, pgx.RowTo[[]risk.Evidence])
	if err != nil {
		return nil, fmt.Errorf("evidence of case %d: %w", id, err)
	}
	out := []risk.Evidence{}
	seen := map[risk.Evidence]bool{}
	for _, l := range lists {
		for _, e := range l {
			if !seen[e] && len(out) < 500 {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}
