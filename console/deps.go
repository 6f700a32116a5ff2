package console

import (
	"context"
	"time"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// Deps are what the API serves: the desks' parts (package desk), the
// health of ingestion and the records in ClickHouse. Every field but
// Reload, Records, Matters, Quarantine, Briefs and Stored is required;
// without one of the last five (serve without ClickHouse or without the
// briefs' store) its endpoints answer 503.
type Deps struct {
	Ingest    ingestStats
	Accounts  accounts
	Review    review
	Cases     caseWork
	Directory directory
	Audit     auditLog
	Outbox    notices
	Stats     figures
	// Records reads stored records: evidence and history.
	Records records
	// Matters counts matters for the leaders' charts.
	Matters matters
	// Quarantine counts the quarantine's reasons.
	Quarantine quarantine
	// Briefs makes the leaders' briefs (package brief).
	Briefs briefs
	// Stored lists and opens the briefs made on schedule (brief.Store); nil:
	// its endpoints answer 503.
	Stored storedBriefs
	// Reload re-reads the desk directory file; nil when serve has none.
	Reload func(ctx context.Context, by *desk.User) (int, error)

	// Detectors lists the detectors' settings in force; nil: the
	// administration page says it is not available.
	Detectors detectorSettings

	// Ready checks, by name, what serving needs (ClickHouse, PostgreSQL,
	// Kafka); GET /readyz fails while one of them does.
	Ready map[string]func(context.Context) error
}

// ingestStats reads the state of ingestion.
type ingestStats interface {
	Stats(ctx context.Context) ([]pipeline.FeedStats, error)
}

// accounts signs people and machines in and manages them.
type accounts interface {
	Login(ctx context.Context, name, password, from string) (desk.User, desk.Session, error)
	SessionUser(ctx context.Context, token string) (desk.User, string, error)
	Logout(ctx context.Context, token string) error
	TokenUser(ctx context.Context, token string) (desk.User, error)
	Users(ctx context.Context, by desk.User) ([]desk.User, error)
	AddUser(ctx context.Context, by *desk.User, u desk.User, password string) (desk.User, error)
	UpdateUser(ctx context.Context, by desk.User, id int64, ch desk.UserChange) (desk.User, error)
	CreateToken(ctx context.Context, by *desk.User, userID int64, name string, ttl time.Duration) (string, error)
	Tokens(ctx context.Context, by desk.User) ([]desk.Token, error)
	RevokeToken(ctx context.Context, by *desk.User, id int64) error
	ChangePassword(ctx context.Context, by desk.User, old, new string) error
}

// review is the centres' work on alerts.
type review interface {
	Alerts(ctx context.Context, by desk.User, f desk.AlertFilter) ([]desk.Alert, string, error)
	GetAlert(ctx context.Context, by desk.User, key string) (desk.Alert, error)
	Related(ctx context.Context, by desk.User, key string) ([]desk.Alert, []desk.Case, error)
	Confirm(ctx context.Context, by desk.User, key, deskID, note string) (desk.Case, error)
	Dismiss(ctx context.Context, by desk.User, key string, reason risk.DismissReason, note string) (desk.Alert, error)
	Merge(ctx context.Context, by desk.User, key string, caseID int64) (desk.Case, error)
}

// caseWork is the mediators' and centres' work on cases.
type caseWork interface {
	Cases(ctx context.Context, by desk.User, f desk.CaseFilter) ([]desk.Case, error)
	Case(ctx context.Context, by desk.User, id int64) (desk.Case, error)
	Act(ctx context.Context, by desk.User, id int64, version int, a risk.CaseAction, reason string) (desk.Case, error)
	Assign(ctx context.Context, by desk.User, id int64, version int, mediator string) (desk.Case, error)
	AddNote(ctx context.Context, by desk.User, id int64, kind, body string) (desk.Note, error)
	Pause(ctx context.Context, by desk.User, id int64, version int, why string) (desk.Case, error)
	Resume(ctx context.Context, by desk.User, id int64, version int) (desk.Case, error)
	CanPause() bool
	Reveal(ctx context.Context, by desk.User, id int64, personKey string) (desk.Contact, error)
	SetOutcome(ctx context.Context, by desk.User, id int64, version int, o desk.Outcome) (desk.Case, error)
	Evidence(ctx context.Context, by desk.User, id int64) ([]risk.Evidence, error)
}

// directory is the desk directory and its routing rule.
type directory interface {
	DesksFor(ctx context.Context, by desk.User) ([]desk.Desk, error)
	SaveDesk(ctx context.Context, by desk.User, d desk.Desk) (desk.Desk, error)
	DeleteDesk(ctx context.Context, by desk.User, id string) error
	PreviewRoute(ctx context.Context, by desk.User, sc desk.Scope) (desk.Route, error)
}

// auditLog reads the audit log.
type auditLog interface {
	Entries(ctx context.Context, by desk.User, f desk.AuditFilter) ([]desk.AuditEntry, error)
}

// notices reads the notification log.
type notices interface {
	Notices(ctx context.Context, by desk.User, desk string, before int64, limit int) ([]desk.Notice, error)
}

// briefs makes a leaders' brief of a region and a period.
type briefs interface {
	Make(ctx context.Context, by desk.User, region string, p brief.Period) (*brief.Brief, error)
}

// storedBriefs reads the briefs made on schedule.
type storedBriefs interface {
	List(ctx context.Context, jurisdiction string, limit int) ([]brief.Stored, error)
	HTML(ctx context.Context, region, kind string, from time.Time) (string, error)
}

// figures computes the leaders' aggregates.
type figures interface {
	Figures(ctx context.Context, by desk.User) (desk.Figures, error)
	Period(ctx context.Context, by desk.User, region string, from, to time.Time) (desk.PeriodFigures, error)
	OpenAlerts(ctx context.Context, by desk.User) (map[string]int, error)
	Detectors(ctx context.Context, by desk.User, from, to time.Time, step string) ([]desk.DetectorFigure, error)
}

// records reads stored records (ClickHouse), masked.
type records interface {
	Records(ctx context.Context, refs []risk.Evidence) ([]pipeline.Record, error)
	History(ctx context.Context, region string, person, subject string, before time.Time, limit int) ([]pipeline.Record, error)
}

// matters counts matters (ClickHouse): aggregates only.
type matters interface {
	Series(ctx context.Context, region string, from, to time.Time, step string) ([]pipeline.MatterCount, error)
	Places(ctx context.Context, region string, from, to time.Time, level string, limit int) ([]pipeline.PlaceCount, error)
}

// quarantine counts the quarantined messages by reason.
type quarantine interface {
	Reasons(ctx context.Context, topic string) ([]pipeline.ReasonCount, error)
}
