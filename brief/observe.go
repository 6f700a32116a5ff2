package brief

import (
	"fmt"
	"math"
	"strings"
)

// MaxObservations is the most observations a brief makes.
const MaxObservations = 3

// observe writes the observations of a brief by rules, most telling first:
// rising categories, rising places, red alerts, overdue cases, a change in
// the 矛盾不上交率. Each sentence states figures of the brief and claims a
// rise only where the figures show one: above the history's mean always
// (that is what Rise means), 环比 only when above the previous period too.
// Nothing notable, no observation.
func observe(b *Brief) []Observation {
	var out []Observation
	unit := b.Period.Name()
	rise := func(r Rise) string {
		s := fmt.Sprintf("%d件，高于此前%d%s平均（%s件）", r.Current, b.History, unit, decimal(r.Mean))
		if r.Current > r.Previous && r.Previous > 0 {
			s += fmt.Sprintf("，环比上升%d%%", percentUp(r.Current, r.Previous))
		}
		return s
	}
	for _, r := range b.RisingCategories {
		text := r.Name + "类诉求" + rise(r)
		var where []string
		held := 0
		for _, p := range r.Places {
			where = append(where, fmt.Sprintf("%s（%d件）", p.Name, p.Current))
			held += p.Current
		}
		if len(where) > 0 && 2*held >= r.Current {
			text += "，集中在" + strings.Join(where, "、")
		}
		out = append(out, Observation{Rule: "rising_category", Key: r.Key, Text: text})
	}
	for _, r := range b.RisingPlaces {
		out = append(out, Observation{Rule: "rising_place", Key: r.Key, Text: r.Name + "诉求" + rise(r)})
	}
	fig := map[string]Figure{}
	for _, f := range b.Headline {
		fig[f.Key] = f
	}
	if f := fig["alerts_red"]; f.Current > 0 {
		out = append(out, Observation{Rule: "red_alerts", Key: f.Key, Text: fmt.Sprintf("本%s红色预警%d条（上%s%d条），需逐条跟进", unit, f.Current, unit, f.Previous)})
	}
	if f := fig["cases_overdue"]; f.Current > 0 {
		out = append(out, Observation{Rule: "overdue", Key: f.Key, Text: fmt.Sprintf("本%s%d件案件到期未办结", unit, f.Current)})
	}
	// The share moves only with enough cases behind it on both sides.
	s, set := b.SettledShare, fig["cases_settled"]
	if s.Current != nil && s.Previous != nil && set.Current >= 5 && set.Previous >= 5 {
		if d := math.Round(*s.Current - *s.Previous); math.Abs(d) >= 10 {
			dir := "上升"
			if d < 0 {
				dir = "下降"
			}
			out = append(out, Observation{Rule: "settled_share", Key: "settled_first_share", Text: fmt.Sprintf("矛盾不上交率%.0f%%，较上%s%s%.0f个百分点",
				*s.Current, unit, dir, math.Abs(d))})
		}
	}
	return out[:min(len(out), MaxObservations)]
}

// percentUp is the rise from prev to cur in whole percent, rounded down so
// that it never overstates.
func percentUp(cur, prev int) int { return (cur - prev) * 100 / prev }

// decimal writes a mean with one decimal, without a trailing .0.
func decimal(v float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
}
