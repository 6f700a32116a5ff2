package console

import (
	"context"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// Deps are what the API and the pages serve: the desks' parts (package desk) and the
// health of ingestion. Every field but Reload is required.
type Deps struct {
	Ingest    ingestStats
	Accounts  accounts
	Review    review
	Cases     caseWork
	Directory directory
	Audit     auditLog
	Outbox    notices
	Stats     figures
	// Reload re-reads the desk directory file; nil when serve has none.
	Reload func(ctx context.Context, by *desk.User) (int, error)

	// Optional parts of the pages (pending.go): nil shows 「暂不可用」.
	Records     recordReader      // evidence records and history
	Matters     matterReader      // the dashboard's series and places
	Quarantine  quarantineReader  // quarantine counts by reason
	Passwords   passwords         // own password change
	Outcomes    outcomes          // a case's outcome
	DetectorFig detectorFigures   // detector figures over time
	Redirect    redirectedConfirm // confirm to a desk other than the routed one
	Detectors   detectorSettings  // the detectors' settings in force
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
}

// review is the centres' work on alerts.
type review interface {
	Alerts(ctx context.Context, by desk.User, f desk.AlertFilter) ([]desk.Alert, string, error)
	GetAlert(ctx context.Context, by desk.User, key string) (desk.Alert, error)
	Related(ctx context.Context, by desk.User, key string) ([]desk.Alert, []desk.Case, error)
	Confirm(ctx context.Context, by desk.User, key, note string) (desk.Case, error)
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
	Reveal(ctx context.Context, by desk.User, id int64, personKey string) (desk.Contact, error)
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

// figures computes the leaders' aggregates.
type figures interface {
	Figures(ctx context.Context, by desk.User) (desk.Figures, error)
}
