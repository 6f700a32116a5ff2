// Package riskwatch holds the domain types shared by the pipeline, the
// detectors and the desks: the normalised event, regions, persons and the
// error kinds callers act on. It imports only the standard library.
package riskwatch

import (
	"log/slog"
	"time"
)

// Source names an upstream feed. The values are stored in ClickHouse and are
// part of every record's identity: never rename them.
type Source string

// The three upstream feeds.
const (
	SourceHotline  Source = "hotline"  // 12345 hotline work orders (热线工单)
	SourcePetition Source = "petition" // petitions (信访件)
	SourceGrid     Source = "grid"     // grid-governance reports (网格事件)
)

// Sources lists the feeds in a fixed order.
var Sources = []Source{SourceHotline, SourcePetition, SourceGrid}

// CST is China Standard Time, UTC+8 all year: the zone of the centres'
// calendars, deadlines, cron schedules and displays, and of every upstream
// time sent without a zone. Times are stored in UTC.
var CST = time.FixedZone("CST", 8*3600)

// Status is the unified life-cycle state of a record across feeds.
type Status string

// Unified statuses. The upstream word is kept in Event.RawStatus.
const (
	StatusOpen       Status = "open"        // registered, not yet handled (受理, 登记, 00)
	StatusInProgress Status = "in_progress" // dispatched or being handled (派单, 交办, 01, 02 …)
	StatusFinished   Status = "finished"    // answered, closed or archived (办结, 答复, 归档, 04 …)
	StatusReopened   Status = "reopened"    // the answer was rejected and handling resumed (重办, 复查, 复核)
	StatusDeleted    Status = "deleted"     // removed upstream (grid 06): kept in history, never counted
)

// Event is one version of one upstream record, normalised. The pair
// (Source, ID) identifies the record; Order decides which version is newest.
//
// Event carries personal data only as keyed hashes and masked or sealed
// forms, yet its free text may still quote people: it implements
// slog.LogValuer so that logging an Event shows only its identity.
type Event struct {
	Source  Source
	ID      string // upstream id: caseNo, petitionNo or eventId
	Version uint32 // upstream version; 0 when the feed sent none

	UpdatedAt  time.Time // updateTime: when upstream wrote this state
	OccurredAt time.Time // when the matter was raised: callTime, registerTime or reportTime

	Region   Region // where the matter is (问题属地 for petitions)
	GridCode string // 网格编码, grid feed only

	Category    string   // unified category, see the normalize package's table
	RawCategory string   // upstream category as sent: catalog, contentClass or bigType/subType
	Tags        []string // topics across categories, e.g. 健康码, 复工复产, 租金, 物资价格
	Kind        string   // 咨询 求助 投诉 举报 建议 意见 表扬 来信 来访 网上 电话 其他 网格上报

	Status    Status
	RawStatus string // upstream status word or code as sent

	Channel       string // hotline channel, petition form or grid source, as sent
	Urgency       uint8  // 0 unknown, 1 normal/low, 2 urgent/medium, 3 critical/high
	HandleUnit    string // 承办单位
	RegisterOrg   string // petitions: 登记机关
	RegisterLevel string // petitions: level of the registering organ: 乡镇 县 市 省 国家

	AcceptedAt time.Time // petitions: 受理时间; zero when unknown
	Deadline   time.Time // 办理时限; zero when none
	FinishedAt time.Time // 办结时间; zero when not finished

	Satisfaction   uint8 // 0 unknown, 1 very satisfied … 5 very dissatisfied
	AnswerRejected bool  // the person rejected the answer: 不满意, 未解决, 复查, 复核, 重办

	HeadCount       int32   // people involved (涉及人数); -1 when unknown
	PetitionerCount int32   // petitions: people who came or signed; -1 when unknown
	Amount          float64 // money involved in yuan; -1 when unknown

	Collective   bool   // collective matter: groupFlag, or 5 or more petitioners
	Repeat       bool   // upstream says it was raised before (repeatFlag)
	RepeatNum    uint16 // petitions: times petitioned before
	SkipLevel    bool   // upstream says 越级 (overLevelFlag)
	SelfResolved bool   // grid: settled on the spot by the grid worker

	Title   string // short title, personal numbers redacted
	Text    string // content / mainFacts + mainRequest, personal numbers redacted
	Reply   string // answer or result, personal numbers redacted
	Address string // 事发地址 as sent

	Lng, Lat float64 // WGS-84 as sent; both 0 when missing or outside China

	Persons []Person // callers, petitioners, parties; the first is the main one

	// Subjects are what the matter is about, as normalised keys that meet
	// across differently worded records: firm:兴达, estate:金色家园,
	// project:330681109:安置房, land:330681109201.
	Subjects []string

	Warnings []string // what was dropped or guessed while normalising, for the operators
}

// LogValue implements slog.LogValuer: the record's identity, never its text or
// the people in it.
func (e Event) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("source", string(e.Source)),
		slog.String("id", e.ID),
		slog.String("grid", e.GridCode),
	)
}

// Deleted reports whether the record was removed upstream and must not count.
func (e Event) Deleted() bool { return e.Status == StatusDeleted }

// Person is someone named in a record, without personal data in clear:
// masked forms for display, keyed hashes for linking the same person across
// feeds, and Sealed for the few who may see the contact.
type Person struct {
	Role      string // caller, petitioner, party or reporter
	Name      string // masked: 王*国
	Phone     string // masked: 138****2345
	PhoneKey  string // keyed hash of the normalised phone number; "" when none
	IDKey     string // keyed hash of the normalised resident ID number; "" when none
	Sealed    string // name, phone and ID encrypted for the owner of a case; "" when none
	Anonymous bool   // upstream marks the person anonymous or masked
}

// Key is the person's linking key: the ID hash when known, else the phone hash.
func (p Person) Key() string {
	if p.IDKey != "" {
		return p.IDKey
	}
	return p.PhoneKey
}

// Order ranks the versions of one record: the greater Order is the newer
// state. updateTime comes first, in milliseconds, because some gateways send
// no version; version breaks ties within one millisecond. Milliseconds fill 43
// bits until the year 2248, leaving 21 bits for the version.
func (e Event) Order() uint64 {
	const versionBits = 21
	v := uint64(e.Version)
	if v >= 1<<versionBits {
		v = 1<<versionBits - 1
	}
	ms := e.UpdatedAt.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return uint64(ms)<<versionBits | v
}
