package riskwatch

import "fmt"

// Tier is the level of a resolution desk on the Fengqiao ladder. The values
// are stored: never rename them.
type Tier string

// Tiers, lowest first: a matter goes to the lowest desk competent for it.
const (
	TierVillage  Tier = "village"  // 村/社区 调委会
	TierTownship Tier = "township" // 乡镇/街道 综治中心
	TierCounty   Tier = "county"   // 县级 矛调中心
	TierCity     Tier = "city"     // 市级
)

// Tiers lists the ladder, lowest first.
var Tiers = []Tier{TierVillage, TierTownship, TierCounty, TierCity}

// Rank orders tiers: village 1 … city 4, anything else 0.
func (t Tier) Rank() int {
	switch t {
	case TierVillage:
		return 1
	case TierTownship:
		return 2
	case TierCounty:
		return 3
	case TierCity:
		return 4
	}
	return 0
}

// Name is the tier in Chinese.
func (t Tier) Name() string {
	switch t {
	case TierVillage:
		return "村级"
	case TierTownship:
		return "乡镇级"
	case TierCounty:
		return "县级"
	case TierCity:
		return "市级"
	}
	return string(t)
}

// TierOf is the tier whose desks own a region code of that precision: a
// village code belongs to the village, a township code to the township.
func TierOf(r Region) Tier {
	switch r.Level() {
	case "village":
		return TierVillage
	case "township":
		return TierTownship
	case "county":
		return TierCounty
	}
	return TierCity
}

// CaseStatus is where a case stands in the mediation practice. The values
// are stored: never rename them.
type CaseStatus string

// Case statuses. Escalation (上交) is not a status: the case moves to the
// desk above and waits there as pending, and the move is recorded.
const (
	CasePending    CaseStatus = "pending"    // 待受理: at a desk, nobody has taken it
	CaseAccepted   CaseStatus = "accepted"   // 已受理: a mediator owns it
	CaseMediating  CaseStatus = "mediating"  // 调解中
	CaseSettled    CaseStatus = "settled"    // 调解成功
	CaseTerminated CaseStatus = "terminated" // 调解终止: mediation failed or was refused
	CaseReferred   CaseStatus = "referred"   // 诉调对接: handed to court mediation
)

// Name is the status in Chinese.
func (s CaseStatus) Name() string {
	switch s {
	case CasePending:
		return "待受理"
	case CaseAccepted:
		return "已受理"
	case CaseMediating:
		return "调解中"
	case CaseSettled:
		return "调解成功"
	case CaseTerminated:
		return "调解终止"
	case CaseReferred:
		return "诉调对接"
	}
	return string(s)
}

// Open reports whether work on the case goes on: its clock runs and new
// evidence joins it.
func (s CaseStatus) Open() bool {
	return s == CasePending || s == CaseAccepted || s == CaseMediating
}

// CaseAction is a change a person (or the escalation clock) makes to a
// case's status.
type CaseAction string

// Case actions.
const (
	ActAccept    CaseAction = "accept"    // a mediator takes the case: 待受理 → 已受理
	ActStart     CaseAction = "start"     // mediation begins: 已受理 → 调解中
	ActSettle    CaseAction = "settle"    // 调解中 → 调解成功
	ActTerminate CaseAction = "terminate" // 调解中 → 调解终止
	ActRefer     CaseAction = "refer"     // 已受理 or 调解中 → 诉调对接
	ActEscalate  CaseAction = "escalate"  // any open status → 待受理 at the desk above (上交)
	ActReopen    CaseAction = "reopen"    // the dispute came back: a closed case → 已受理
)

// caseMoves is the state machine: for each action, the statuses it applies
// to and the status it leads to.
var caseMoves = map[CaseAction]struct {
	from []CaseStatus
	to   CaseStatus
}{
	ActAccept:    {[]CaseStatus{CasePending}, CaseAccepted},
	ActStart:     {[]CaseStatus{CaseAccepted}, CaseMediating},
	ActSettle:    {[]CaseStatus{CaseMediating}, CaseSettled},
	ActTerminate: {[]CaseStatus{CaseMediating}, CaseTerminated},
	ActRefer:     {[]CaseStatus{CaseAccepted, CaseMediating}, CaseReferred},
	ActEscalate:  {[]CaseStatus{CasePending, CaseAccepted, CaseMediating}, CasePending},
	ActReopen:    {[]CaseStatus{CaseSettled, CaseTerminated, CaseReferred}, CaseAccepted},
}

// Apply returns the status a applies to s leads to. An unknown action is
// ErrInvalid; an action the status does not allow (settling a pending case)
// is ErrConflict: the case is not where the caller thought.
func (s CaseStatus) Apply(a CaseAction) (CaseStatus, error) {
	m, ok := caseMoves[a]
	if !ok {
		return s, fmt.Errorf("case action %q: %w", a, ErrInvalid)
	}
	for _, from := range m.from {
		if from == s {
			return m.to, nil
		}
	}
	return s, fmt.Errorf("cannot %s a case that is %s (%s): %w", a, s, s.Name(), ErrConflict)
}

// CaseActions lists every action, for tables and documentation.
func CaseActions() []CaseAction {
	return []CaseAction{ActAccept, ActStart, ActSettle, ActTerminate, ActRefer, ActEscalate, ActReopen}
}

// CaseStatuses lists every status.
var CaseStatuses = []CaseStatus{CasePending, CaseAccepted, CaseMediating, CaseSettled, CaseTerminated, CaseReferred}

// DismissReason says why a reviewer dismissed an alert; the reasons feed
// the detectors' quality figures. The values are stored: never rename them.
type DismissReason string

// Dismiss reasons.
const (
	DismissFalsePositive DismissReason = "false_positive" // 误报
	DismissHandled       DismissReason = "handled"        // 已处理
	DismissDuplicate     DismissReason = "duplicate"      // 重复
)

// Valid reports whether r is one of the reasons.
func (r DismissReason) Valid() bool {
	return r == DismissFalsePositive || r == DismissHandled || r == DismissDuplicate
}
