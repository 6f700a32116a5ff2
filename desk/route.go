package desk

import (
	"fmt"
	"slices"
	"strings"

	risk "riskwatch"
)

// Scope is what routing reads of an alert.
type Scope struct {
	Detector string     `json:"detector"`
	Level    risk.Level `json:"level"`
	Region   string     `json:"region"` // division code of 6, 9 or 12 digits
}

// Route is the desk an alert goes to, and why, in words a centre worker
// reads on the alert: "分派至枫桥镇综治中心：橙色预警由乡镇级处置".
type Route struct {
	Desk   Desk      `json:"desk"`
	Tier   risk.Tier `json:"tier"` // the tier the rule asked for; the desk's may be higher when none exists there
	Reason string    `json:"reason"`
}

// prefixLen is how much of a 12-digit code a desk of each tier owns.
var prefixLen = map[risk.Tier]int{risk.TierVillage: 12, risk.TierTownship: 9, risk.TierCounty: 6, risk.TierCity: 4}

// prefix is the part of a 12-digit code that the desk owns: 3306 for the
// city of 绍兴, 330681109 for 枫桥镇.
func (d Desk) prefix() string {
	own, err := risk.ParseRegion(d.Region)
	if err != nil || prefixLen[d.Tier] == 0 {
		return "-" // matches no code
	}
	return own.Code[:prefixLen[d.Tier]]
}

// covers reports whether desk d owns the region (a parsed 12-digit code).
func (d Desk) covers(r risk.Region) bool {
	return r.Known() && strings.HasPrefix(r.Code, d.prefix())
}

var levelNames = map[risk.Level]string{risk.LevelRed: "红色", risk.LevelOrange: "橙色", risk.LevelYellow: "黄色", risk.LevelBlue: "蓝色"}

// Route picks the one desk an alert goes to: the lowest tier competent for
// the alert — by its level, by its breadth (an alert about a whole township
// is the township's, however mild) and by its detector — among the desks
// whose region holds the alert's; when that tier has no desk there, the
// next tier up. It never creates anything: it is also the route preview.
func (c RoutingConfig) Route(s Scope, desks []Desk) (Route, error) {
	r, err := risk.ParseRegion(s.Region)
	if err != nil {
		return Route{}, fmt.Errorf("route %s alert: %w", s.Detector, err)
	}
	tier, why := c.Levels[s.Level], fmt.Sprintf("%s预警由%s处置", levelNames[s.Level], c.Levels[s.Level].Name())
	if tier.Rank() == 0 {
		return Route{}, fmt.Errorf("route %s alert: level %q: %w", s.Detector, s.Level, risk.ErrInvalid)
	}
	if b := risk.TierOf(r); b.Rank() > tier.Rank() {
		tier, why = b, fmt.Sprintf("范围涉及%s（%s），由%s处置", breadthName(b), s.Region, b.Name())
	}
	if d, ok := c.Detectors[s.Detector]; ok && d.Rank() > tier.Rank() {
		tier, why = d, fmt.Sprintf("%s类预警由%s处置", detectorName(s.Detector), d.Name())
	}
	var best *Desk
	for i := range desks {
		d := &desks[i]
		if d.Tier.Rank() < tier.Rank() || !d.covers(r) {
			continue
		}
		if best == nil || d.Tier.Rank() < best.Tier.Rank() {
			best = d
		}
	}
	if best == nil {
		return Route{}, fmt.Errorf("route %s alert in %s: no desk at %s or above covers it: %w", s.Detector, s.Region, tier, risk.ErrNotFound)
	}
	if best.Tier != tier {
		why += fmt.Sprintf("；当地未设%s工作台，由上一级接收", tier.Name())
	}
	return Route{Desk: *best, Tier: tier, Reason: fmt.Sprintf("分派至%s：%s", best.Name, why)}, nil
}

// Above returns the desk one step up the ladder from d for a matter in
// region: the lowest desk of a higher tier that holds it. ok is false at
// the top.
func Above(d Desk, region string, desks []Desk) (Desk, bool) {
	r, err := risk.ParseRegion(region)
	if err != nil {
		return Desk{}, false
	}
	var up []Desk
	for _, o := range desks {
		if o.Tier.Rank() > d.Tier.Rank() && o.covers(r) {
			up = append(up, o)
		}
	}
	if len(up) == 0 {
		return Desk{}, false
	}
	return slices.MinFunc(up, func(a, b Desk) int { return a.Tier.Rank() - b.Tier.Rank() }), true
}

func breadthName(t risk.Tier) string {
	switch t {
	case risk.TierTownship:
		return "多个村（社区）"
	case risk.TierCounty:
		return "多个乡镇（街道）"
	case risk.TierCity:
		return "多个县（市、区）"
	}
	return "村（社区）"
}

var detectorNames = map[string]string{
	"surge": "突增", "trend": "趋势上升", "repeat": "重复诉求", "collective": "群体性风险", "extreme_intent": "极端言行",
	"convergence": "多渠道汇聚", "skip_level": "越级访", "overdue": "超期",
}

func detectorName(d string) string {
	if n, ok := detectorNames[d]; ok {
		return n
	}
	return strings.ReplaceAll(d, "_", " ")
}
