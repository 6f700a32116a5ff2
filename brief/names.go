package brief

import (
	"strings"

	risk "riskwatch"
	"riskwatch/desk"
)

// deskSuffixes are the endings of desk names that name the body, not the
// place: 枫桥镇综治中心 is 枫桥镇's centre.
var deskSuffixes = []string{"社会矛盾纠纷调处化解中心", "矛盾纠纷调处化解中心", "矛调中心", "综治中心", "人民调解委员会", "调委会"}

// Names names places after the desks of the directory, the only register
// of place names riskwatch keeps: a desk's region is named by its name
// without the body's word (枫源村调委会 → 枫源村). Places without a desk
// have no name ("").
func Names(desks []desk.Desk) func(code string) string {
	names := map[string]string{}
	for _, d := range desks {
		n := d.Name
		for _, s := range deskSuffixes {
			if strings.HasSuffix(n, s) {
				n = strings.TrimSuffix(n, s)
				break
			}
		}
		if n != "" && n != d.Name {
			names[d.Region] = n
			if r, err := risk.ParseRegion(d.Region); err == nil {
				names[r.Code] = n // the padded code too: 330681 is 330681000000
			}
		}
	}
	return func(code string) string { return names[code] }
}

// Scope is the division-code prefix a brief of region covers: 3306 for
// the city 330600, 330681109 for 330681109000. A bad code is ErrInvalid.
func Scope(region string) (string, error) {
	r, err := risk.ParseRegion(region)
	if err != nil {
		return "", err
	}
	return prefix(r), nil
}
