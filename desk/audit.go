package desk

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
)

// AuditLog reads the audit log, which every change writes in its own
// transaction (change.audit).
type AuditLog struct {
	base
	cases *Cases
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Case   int64           `json:"case,omitempty"`
	Alert  string          `json:"alert,omitempty"`
	Desk   string          `json:"desk,omitempty"`
	Detail json.RawMessage `json:"detail"`
}

// AuditFilter narrows the audit log. After pages: entries with a smaller id.
type AuditFilter struct {
	Case  int64
	Alert string
	Actor string
	After int64
	Limit int
}

// Entries returns the audit log, newest first: centre staff and
// administrators read their jurisdiction's, and a case's mediators read the
// story of the cases they may read.
func (s *AuditLog) Entries(ctx context.Context, by User, f AuditFilter) ([]AuditEntry, error) {
	if by.Role == RoleMediator && f.Case != 0 {
		if _, err := s.cases.Case(ctx, by, f.Case); err != nil {
			return nil, err
		}
	} else if err := by.allow(permAudit, by.Jurisdiction); err != nil {
		return nil, err
	}
	where := []string{`(a.case_id IN (SELECT id FROM cases WHERE starts_with(region, $1))
		OR a.alert_key IN (SELECT key FROM alerts WHERE starts_with(region, $1))
		OR a.desk_id IN (SELECT id FROM desks WHERE starts_with(region, $1))
		OR a.actor IN (SELECT username FROM users WHERE starts_with(jurisdiction, $1)))`}
	args := []any{by.Jurisdiction}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Case != 0 {
		where = append(where, "a.case_id = "+arg(f.Case))
	}
	if f.Alert != "" {
		where = append(where, "a.alert_key = "+arg(f.Alert))
	}
	if f.Actor != "" {
		where = append(where, "a.actor = "+arg(f.Actor))
	}
	if f.After > 0 {
		where = append(where, "a.id < "+arg(f.After))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 200
	}
	limit = min(limit, 500)
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.at, a.actor, a.action, coalesce(a.case_id, 0), coalesce(a.alert_key, ''), coalesce(a.desk_id, ''), a.detail
		FROM audit_log a WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY a.id DESC LIMIT %d`, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
}

// Attest records, before it happens, that by is about to read personal
// data outside the console — riskwatch quarantine -open prints raw
// messages — and why. Only an enabled administrator may, and only with a
// reason; detail says what is opened (and from which operating-system
// account), and the entry is read with the administrator's jurisdiction's
// audit log.
func (s *AuditLog) Attest(ctx context.Context, by User, action, reason string, detail map[string]any) error {
	if by.Disabled || by.Role != RoleAdmin {
		return fmt.Errorf("only an enabled administrator may %s, not %s (%s): %w", action, by.Username, by.Role, risk.ErrForbidden)
	}
	reason, err := s.text("reason", reason, true)
	if err != nil {
		return err
	}
	entry := map[string]any{"reason": reason}
	for k, v := range detail {
		entry[k] = v
	}
	return s.write(ctx, by.Username, func(c *change) error {
		return c.audit(ctx, action, auditRef{}, entry)
	})
}
