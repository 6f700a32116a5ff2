package console

import (
	"context"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
)

// Seams for data other branches are adding (pipeline's readers, desk's
// password change, outcome and detector figures). Each is an optional Deps
// field: nil shows 「暂不可用」 in its section. The types below mirror the
// announced ones field for field; when those land, the integrator replaces
// each local type by the real one (pipeline.Record, pipeline.MatterCount,
// pipeline.PlaceCount, pipeline.ReasonCount, desk.Outcome,
// desk.DetectorFigure) and the templates keep working, as they only read
// these fields.

// Record is an upstream record as an alert's evidence shows it: masked, as
// the pipeline stored it (pipeline.Record).
type Record struct {
	Source                        risk.Source
	ID                            string
	OccurredAt                    time.Time
	Region, Grid, Category, Kind  string
	Status, Title, Text, Address  string
	HeadCount                     int
	Collective, Repeat, SkipLevel bool
	Persons                       []string
}

// recordReader reads evidence records and a person's or subject's history
// (pipeline.RecordReader).
type recordReader interface {
	Records(ctx context.Context, refs []risk.Evidence) ([]Record, error)
	History(ctx context.Context, region, person, subject string, before time.Time, limit int) ([]Record, error)
}

// MatterCount is the number of matters of one feed and category in one
// step of time (pipeline.MatterCount).
type MatterCount struct {
	Start    time.Time
	Source   risk.Source
	Category string
	Count    int
}

// PlaceCount is the number of matters of one place (pipeline.PlaceCount).
type PlaceCount struct {
	Region string
	Count  int
}

// matterReader counts matters for the leaders' dashboard
// (pipeline.MatterReader). step is "day" or "week"; level is "township" or
// "village".
type matterReader interface {
	Series(ctx context.Context, region string, from, to time.Time, step string) ([]MatterCount, error)
	Places(ctx context.Context, region string, from, to time.Time, level string, limit int) ([]PlaceCount, error)
}

// ReasonCount is how many quarantined messages share a reason
// (pipeline.ReasonCount).
type ReasonCount struct {
	Reason string
	Count  int
}

// quarantineReader counts the quarantine by reason (QuarantineReader).
type quarantineReader interface {
	Reasons(ctx context.Context, topic string) ([]ReasonCount, error)
}

// passwords lets a signed-in person change their own password
// (desk.Accounts.ChangePassword).
type passwords interface {
	ChangePassword(ctx context.Context, by desk.User, old, new string) error
}

// Outcome is a case's result: the agreement reached and the amount paid
// (desk.Outcome).
type Outcome struct {
	Agreement string
	Amount    float64
}

// outcomes records a case's outcome (desk.Cases.SetOutcome).
type outcomes interface {
	SetOutcome(ctx context.Context, by desk.User, id int64, version int, o Outcome) (desk.Case, error)
}

// DetectorFigure is one detector's review figures in one step of time
// (desk.DetectorFigure).
type DetectorFigure struct {
	Detector  string
	Start     time.Time
	Raised    int
	Confirmed int
	Dismissed map[string]int // by risk.DismissReason
}

// detectorFigures reads the detectors' figures over time
// (desk.Stats.Detectors).
type detectorFigures interface {
	Detectors(ctx context.Context, by desk.User, from, to time.Time, step string) ([]DetectorFigure, error)
}

// redirectedConfirm confirms an alert to a desk other than the routed one
// (desk.Review.Confirm with a deskID). Until it lands, a reviewer may only
// confirm to the routed desk.
type redirectedConfirm interface {
	ConfirmTo(ctx context.Context, by desk.User, key, deskID, note string) (desk.Case, error)
}

// DetectorSetting is one detector's settings in force, as the
// administration page lists them.
type DetectorSetting struct {
	Detector string
	Schedule string        // cron, UTC+8
	Window   time.Duration // event time one run reads
	Timeout  time.Duration
	Values   []SettingValue // the tuning in force, by name
}

// SettingValue is one named setting.
type SettingValue struct{ Name, Value string }

// detectorSettings lists the detectors' settings in force (read-only).
type detectorSettings interface {
	Settings() []DetectorSetting
}
