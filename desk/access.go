package desk

import (
	"fmt"

	risk "riskwatch"
)

// perm is something a user may be allowed to do, always inside their
// jurisdiction.
type perm string

const (
	permAlerts  perm = "read alerts"
	permReview  perm = "review alerts"
	permCases   perm = "read cases"
	permAssign  perm = "assign cases"
	permWork    perm = "work cases"
	permDesks   perm = "manage desks"
	permUsers   perm = "manage users"
	permAudit   perm = "read the audit log"
	permStats   perm = "read figures"
	permRouting perm = "preview routes"
)

// grants is the authorization matrix. Mediators work the cases of their own
// desks (checked with the case); leaders see aggregates only, never an
// alert or a case, so never a person.
var grants = map[Role][]perm{
	RoleAdmin:    {permAlerts, permCases, permDesks, permUsers, permAudit, permStats, permRouting},
	RoleReviewer: {permAlerts, permReview, permCases, permAssign, permAudit, permStats, permRouting},
	RoleMediator: {permCases, permWork},
	RoleLeader:   {permStats},
}

// allow reports whether u may do p about something in region. A disabled
// user may do nothing.
func (u User) allow(p perm, region string) error {
	if u.Disabled {
		return fmt.Errorf("%s is disabled: %w", u.Username, risk.ErrForbidden)
	}
	granted := false
	for _, g := range grants[u.Role] {
		granted = granted || g == p
	}
	if !granted {
		return fmt.Errorf("%s may not %s: %w", u.Role, p, risk.ErrForbidden)
	}
	if !u.within(region) {
		// Not naming the region: the caller may not know it exists.
		return fmt.Errorf("outside %s's jurisdiction %s: %w", u.Username, u.Jurisdiction, risk.ErrForbidden)
	}
	return nil
}
