package scenario

import (
	"fmt"
	"math/rand/v2"
	"time"

	risk "riskwatch"
)

// Background volume of the whole county (all 10 townships) a day, at
// Scale 1: a county-level 12345 centre's few hundred work orders, grid
// workers' tens of reports, a few petitions.
const (
	hotlinePerDay  = 320.0
	expressPerDay  = 8.0 // calls about express delivery points (快递网点), besides those
	gridPerDay     = 45.0
	petitionPerDay = 5.0
)

// Hourly profiles in UTC+8 (relative weights) and day-of-week factors
// (Sunday first): calls peak mid-morning and mid-afternoon; grid workers
// report on their rounds in working hours; petitions are registered in
// office hours on working days, online ones any time.
var (
	callHours     = [24]float64{0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.6, 1.5, 3.5, 5.5, 6, 5.5, 3.5, 3.5, 5, 5.5, 5, 4.5, 3, 2.5, 2.5, 2, 1.5, 0.8}
	gridHours     = [24]float64{0, 0, 0, 0, 0, 0, 0.1, 0.5, 4, 6, 6, 5, 2, 3, 5, 5.5, 5, 3, 1, 0.5, 0.3, 0.2, 0, 0}
	officeHours   = [24]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 2, 5, 5, 4, 1, 2, 5, 5, 4, 1, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1}
	callDays      = [7]float64{0.7, 1.15, 1.05, 1.05, 1.05, 1.0, 0.75}
	gridDays      = [7]float64{0.5, 1.15, 1.15, 1.15, 1.15, 1.1, 0.6}
	petitionDays  = [7]float64{0.15, 1.3, 1.3, 1.3, 1.3, 1.2, 0.15}
	outsideRegion = []string{cityCode, "330603", "330103"} // the city, 柯桥区, 下城区 (abolished 2021): misrouted orders
)

// recent is a background caller who may come back once: a near miss of
// repeat (two matters) or, weeks later in another feed, of convergence.
type recent struct {
	p   person
	at  time.Time
	cat *catalog
}

// background generates the seasonal traffic of the townships: a Poisson
// count each hour, spread over the hour.
func (g *gen) background() {
	feeds := []hourly{
		{hotlinePerDay, &callHours, &callDays, g.backgroundCall},
		{gridPerDay, &gridHours, &gridDays, g.backgroundReport},
		{petitionPerDay, &officeHours, &petitionDays, g.backgroundPetition},
	}
	g.eachHour(feeds)
	// Calls about express points come from a stream of their own: adding
	// them left the rest of the background where it was.
	r := g.r
	g.r = rand.New(rand.NewPCG(g.cfg.Seed, 5))
	g.eachHour([]hourly{{expressPerDay, &callHours, &callDays, g.backgroundExpress}})
	g.r = r
}

// hourly is a feed of the background: perDay records a day at Scale 1,
// spread by hour and day of the week, each made by make.
type hourly struct {
	perDay float64
	hours  *[24]float64
	days   *[7]float64
	make   func(time.Time)
}

// eachHour draws the records of feeds: a Poisson count each hour, spread
// over the hour.
func (g *gen) eachHour(feeds []hourly) {
	all, some := 0.0, 0.0
	for i := range townships {
		all += townships[i].weight
	}
	for _, t := range g.towns {
		some += t.weight
	}
	scale := g.cfg.Scale * some / all
	for h := g.from; h.Before(g.to); h = h.Add(time.Hour) {
		local := h.In(risk.CST)
		for _, f := range feeds {
			lambda := f.perDay * scale * f.days[local.Weekday()] / mean(f.days[:]) * f.hours[local.Hour()] / sum(f.hours[:])
			for range poisson(g.r, lambda) {
				at := h.Add(between(g.r, 0, time.Hour))
				if at.Before(g.to.Add(-5 * time.Minute)) {
					f.make(at)
				}
			}
		}
	}
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func mean(xs []float64) float64 { return sum(xs) / float64(len(xs)) }

func (g *gen) town() *township {
	ws := make([]float64, len(g.towns))
	for i, t := range g.towns {
		ws[i] = t.weight
	}
	return g.towns[weighted(g.r, ws)]
}

func (g *gen) anyVillage(t *township) *village { return &t.villages[g.r.IntN(len(t.villages))] }

func (g *gen) backgroundCall(at time.Time) {
	t := g.town()
	v := g.anyVillage(t)
	ws := make([]float64, len(catalogs))
	for i, c := range catalogs {
		ws[i] = c.weight
	}
	c := call{at: at, town: t, vil: v, cat: catalogs[weighted(g.r, ws)], anon: g.r.IntN(10) == 0}
	again := false
	if g.r.IntN(50) == 0 { // someone calls a second time about the same thing
		if i := g.recentCaller(at.Add(-25*24*time.Hour), at.Add(-time.Hour)); i >= 0 {
			c.caller, c.cat, c.anon, again = g.callers[i].p, g.callers[i].cat, false, true
			g.callers = append(g.callers[:i], g.callers[i+1:]...)
		}
	}
	if !again {
		c.caller = g.newPerson(g.r.IntN(30) == 0)
	}
	if c.cat.path == "劳动和社会保障/劳动关系/拖欠工资" {
		c.involved, c.amount = 1+g.r.IntN(5), 1000*(3+g.r.IntN(60))
		if g.r.IntN(50) == 0 {
			c.involved = fmt.Sprintf("%d人", c.involved) // a number sent as text: a warning, not a rejection
		}
	}
	if g.r.IntN(100) == 0 {
		c.region = pick(g.r, outsideRegion)
		c.address = "绍兴市" + pick(g.r, roads)
	}
	g.hotline(c)
	if !again && !c.anon && c.region == "" {
		g.callers = append(g.callers, recent{p: c.caller, at: at, cat: c.cat})
	}
}

// recentCaller finds a one-time caller who called in [from, to); -1 when
// none.
func (g *gen) recentCaller(from, to time.Time) int {
	var fit []int
	for i, c := range g.callers {
		if !c.at.Before(from) && c.at.Before(to) {
			fit = append(fit, i)
		}
	}
	if len(fit) == 0 {
		return -1
	}
	return pick(g.r, fit)
}

// expressPoints are the calls about express delivery points (商贸旅游):
// parcels late or lost, a point that moved.
var expressPoints = &catalog{path: "商务/快递物流/快递网点", appeals: []string{"投诉", "求助"}, unit: "诸暨市商务局",
	texts: []string{
		"{镇}{村}的快递驿站取件排长队，包裹经常找不到，请督促整改。",
		"网购的包裹显示已签收，实际没有收到，{镇}快递点不给说法。",
		"{镇}快递网点搬了地方也没通知，取件很不方便。",
	}}

func (g *gen) backgroundExpress(at time.Time) {
	t := g.town()
	g.hotline(call{at: at, town: t, vil: g.anyVillage(t), cat: expressPoints, caller: g.newPerson(false)})
}

func (g *gen) backgroundReport(at time.Time) {
	t := g.town()
	ws := make([]float64, len(gridKinds))
	for i, k := range gridKinds {
		ws[i] = k.weight
	}
	rp := report{at: at, town: t, vil: g.anyVillage(t), kind: gridKinds[weighted(g.r, ws)]}
	if rp.kind.dispute {
		for range 1 + g.r.IntN(2) {
			rp.parties = append(rp.parties, g.newPerson(g.r.IntN(5) == 0))
		}
	}
	g.grid(rp)
}

func (g *gen) backgroundPetition(at time.Time) {
	t := g.town()
	ws := make([]float64, len(petitionClasses))
	for i, c := range petitionClasses {
		ws[i] = c.weight
	}
	v := visit{at: at, town: t, vil: g.anyVillage(t), cls: petitionClasses[weighted(g.r, ws)]}
	n := 1 + weighted(g.r, []float64{75, 15, 7, 3}) // 4 at most: 5 is a collective petition
	for range n {
		v.people = append(v.people, g.newPerson(g.r.IntN(10) < 7))
	}
	if g.r.IntN(25) == 0 {
		// A caller of weeks ago petitions: in two feeds, but too far apart
		// to converge.
		if i := g.recentCaller(at.Add(-30*24*time.Hour), at.Add(-16*24*time.Hour)); i >= 0 {
			v.people[0] = g.callers[i].p
			g.callers = append(g.callers[:i], g.callers[i+1:]...)
		}
	}
	switch x := g.r.IntN(10); {
	case x < 2:
		v.org = townOrgan(t)
	case x < 3:
		// The city bureau registers a county-wide matter: one level up,
		// not skipping.
		v.org, v.region = cityBureau, countyCode
	}
	g.petition(v)
}
