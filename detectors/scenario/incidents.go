package scenario

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	risk "riskwatch"
)

// plant adds the incidents of every detector and the traps. Incidents
// become knowable after the first 4 weeks (surge needs them as history);
// their earlier records (a repeat's first calls) may come before. Traps
// fall anywhere.
func (g *gen) plant() {
	g.plantExtreme()
	g.plantSurge()
	g.plantSkipLevel()
	g.plantRepeat()
	g.plantOverdue()
	g.plantCollective()
	g.plantConvergence()
	g.plantTrend()
	g.plantTraps()
}

// The span in which incidents become knowable: after 4 weeks of history,
// leaving a day and a half for what follows them.
func (g *gen) incFrom() time.Time { return g.from.AddDate(0, 0, 28) }
func (g *gen) incTo() time.Time   { return g.to.Add(-36 * time.Hour) }

// when draws a time in [lo, hi); daytime keeps it in 08:00–18:00 UTC+8.
func (g *gen) when(lo, hi time.Time, daytime bool) time.Time {
	for {
		t := lo.Add(between(g.r, 0, hi.Sub(lo)))
		if h := t.In(risk.CST).Hour(); !daytime || h >= 8 && h < 18 {
			return t
		}
	}
}

// hourOf is a random day of the incident span at the given hour (UTC+8).
func (g *gen) hourOf(hour int) time.Time {
	day := g.when(g.incFrom(), g.incTo().Add(-24*time.Hour), false).In(risk.CST)
	return time.Date(day.Year(), day.Month(), day.Day(), hour, 0, 0, 0, risk.CST).UTC()
}

// townOr is the township named by code when it carries traffic, else any.
func (g *gen) townOr(code string) *township {
	for _, t := range g.towns {
		if t.code == code {
			return t
		}
	}
	return g.towns[g.r.IntN(len(g.towns))]
}

func (g *gen) incident(detector, kind string, level risk.Level, region, what string, knowable time.Time, recs ...*rec) *planted {
	n := 1
	for _, p := range g.incidents {
		if p.Detector == detector {
			n++
		}
	}
	p := &planted{
		Incident: Incident{ID: fmt.Sprintf("%s-%d", detector, n), Detector: detector, Kind: kind, Level: level, Region: region, What: what, KnowableAt: knowable},
		recs:     recs,
	}
	g.incidents = append(g.incidents, p)
	return p
}

func (g *gen) trap(detector, kind, what string, recs ...*rec) {
	g.traps = append(g.traps, &trapped{
		Trap: Trap{ID: fmt.Sprintf("trap-%d", len(g.traps)+1), Detector: detector, Kind: kind, What: what},
		recs: recs,
	})
}

// nth is the time the n-th record (1-based) of recs was raised.
func nth(recs []*rec, n int) time.Time {
	ts := make([]time.Time, len(recs))
	for i, r := range recs {
		ts[i] = r.at
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts[min(n, len(ts))-1]
}

func (g *gen) plantExtreme() {
	lo, hi := g.incFrom(), g.incTo()
	t := g.townOr("330681109")
	v := g.anyVillage(t)
	r := g.hotline(call{at: g.when(lo, hi, true), town: t, vil: v, caller: g.newPerson(false), cat: catalogByPath("劳动和社会保障/劳动关系/拖欠工资"),
		content: g.fill("来电人反映{公司}拖欠其{月}个月工资，老板一直躲着不见，来电人情绪激动，称再不给钱就从厂房楼顶跳下去。", t, v), involved: 1})
	g.incident(ExtremeIntent, "self_harm", risk.LevelRed, t.code, "a caller owed wages says he will jump from the factory roof", r.at, r)

	t = g.townOr("330681104")
	v = g.anyVillage(t)
	r = g.hotline(call{at: g.when(lo, hi, true), town: t, vil: v, caller: g.newPerson(false), cat: catalogByPath("城乡建设/征地拆迁/补偿安置"), appeal: "投诉",
		content: g.fill("{村}征地补偿款至今没有到位，村里一直不给说法，来电人表示再拖下去就去北京上访。", t, v)})
	g.incident(ExtremeIntent, "going_up", risk.LevelRed, t.code, "a villager says he will petition in Beijing over land compensation", r.at, r)

	t = g.town()
	v = g.anyVillage(t)
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, vil: v, people: []person{g.newPerson(true)}, cls: classByName("城乡建设_征地拆迁"),
		facts: g.fill("信访人房屋在{镇}旧村改造中被拆除，补偿至今未谈妥，其扬言若再拖延就要和开发商同归于尽。", t, v)})
	g.incident(ExtremeIntent, "violence", risk.LevelRed, t.code, "a petitioner threatens violence against the developer", r.at, r)

	t = g.townOr("330681001")
	r = g.grid(report{at: g.when(lo, hi, true), town: t, kind: &gridKind{big: "矛盾纠纷", sub: "物业纠纷", dispute: true}, involved: 6, urgency: "高",
		content: g.fill("{小区}部分业主在小区门口拉横幅抗议物业擅自涨价，网格员已到场劝导并报社区。", t, nil)})
	g.incident(ExtremeIntent, "banner", risk.LevelOrange, t.code, "home owners hang a banner against the property company", r.at, r)

	t = g.town()
	v = g.anyVillage(t)
	r = g.grid(report{at: g.when(lo, hi, true), town: t, vil: v, kind: &gridKind{big: "矛盾纠纷", sub: "征地拆迁纠纷", dispute: true}, involved: 5, urgency: "高",
		parties: []person{g.newPerson(false)},
		content: g.fill("{村}部分村民因征地补偿未落实，扬言要堵路阻止施工，网格员已上报镇综治中心。", t, v)})
	g.incident(ExtremeIntent, "blockade", risk.LevelRed, t.code, "villagers threaten to block the road against construction", r.at, r)
}

// burst is n calls from n different people within the hour from start.
func (g *gen) burst(start time.Time, n int, c call, texts []string, region func() (*township, *village, string)) []*rec {
	var recs []*rec
	for range n {
		c.at = start.Add(between(g.r, 0, time.Hour))
		c.town, c.vil, c.region = region()
		c.caller = g.newPerson(false)
		c.content = g.fill(pick(g.r, texts), c.town, g.villageOr(c))
		c.title = ""
		recs = append(recs, g.hotline(c))
	}
	return recs
}

func (g *gen) plantSurge() {
	// A chemical smell at night: one township's residents call within the
	// hour, about as many as the township's 生态环境 calls of a fortnight.
	t := g.townOr("330681104")
	recs := g.burst(g.hourOf(21), 16+g.r.IntN(5), call{cat: catalogByPath("生态环境/大气污染/异味"), appeal: "投诉"}, []string{
		"晚上{镇}{村}一带有很重的刺鼻气味，像是化工厂在偷排，家里老人小孩都闻着难受。",
		"{镇}附近又有臭味，晚上九点多开始的，请环保部门马上来查。",
		"闻到一股刺鼻的化学品味道，窗户关着都能闻到，不知道哪里排放的，{村}很多人都闻到了。",
	}, g.inTown(t))
	g.incident(Surge, "night_odour", risk.LevelOrange, t.code, fmt.Sprintf("%d residents of %s call about a chemical smell between 21:00 and 22:00", len(recs), t.name), nth(recs, 5), recs...)

	// A bus line cut without notice: parents call before school.
	t = g.townOr("330681003")
	start := g.hourOf(7)
	for start.In(risk.CST).Weekday() == time.Saturday || start.In(risk.CST).Weekday() == time.Sunday {
		start = g.hourOf(7)
	}
	recs = g.burst(start, 14+g.r.IntN(4), call{cat: catalogByPath("交通运输/公交客运/线路班次"), appeal: "投诉"}, []string{
		"{镇}到城区的公交线路今天起突然停运，孩子上学、大人上班都没车，也没提前通知。",
		"{村}门口的公交站今天早上一辆车都没有，问了才知道线路停了，请交通部门说明情况。",
		"公交停运事先没有任何公告，{村}的学生只能走很远去坐车。",
	}, g.inTown(t))
	g.incident(Surge, "bus_line_cut", risk.LevelOrange, t.code, fmt.Sprintf("%d people of %s call about a bus line cut between 07:00 and 08:00", len(recs), t.name), nth(recs, 5), recs...)

	// Food poisoning after a village banquet: a small place, a small
	// number, graded by the size of the place.
	t = g.townOr("330681109")
	v := g.anyVillage(t)
	food := &catalog{path: "卫生健康/食品安全/食物中毒", appeals: []string{"求助"}, unit: "诸暨市卫生健康局"}
	recs = g.burst(g.hourOf(20), 9+g.r.IntN(3), call{cat: food, urgency: "紧急"}, []string{
		"{村}今天中午办喜酒，吃完后好多人上吐下泻，已经有人去了卫生院，请卫生部门来看看。",
		"家里三口人吃了{村}的喜宴后都拉肚子发烧，村里好多人都一样。",
	}, func() (*township, *village, string) { return t, v, t.villageCode(v) })
	g.incident(Surge, "village_food_poisoning", risk.LevelOrange, t.villageCode(v), fmt.Sprintf("%d people of %s%s call about food poisoning after a banquet", len(recs), t.name, v.name), nth(recs, 5), recs...)

	// A power cut across the county in the evening: a surge everywhere, and
	// no dispute at all (a trap for collective).
	start = g.hourOf(19)
	power := catalogByPath("城乡建设/供电/停电")
	recs = g.burst(start, 45+2*len(g.towns), call{cat: power, appeal: "求助", urgency: "紧急"}, []string{
		"家里突然停电了，整个小区都没电，电梯里还困了人，请问什么时候恢复。",
		"{镇}{村}大面积停电，冰箱里的东西都要坏了，供电公司电话打不进。",
		"晚上七点多开始停电，到现在还没来电，家里有老人需要用制氧机。",
		"{镇}这边全停电了，路灯也不亮，请尽快抢修。",
	}, func() (*township, *village, string) {
		t := g.town()
		v := g.anyVillage(t)
		return t, v, g.regionCode(t, v)
	})
	surgeRecs := slices.Clone(recs)
	for range 5 {
		t := g.town()
		at := start.Add(between(g.r, 5*time.Minute, time.Hour))
		recs = append(recs, g.grid(report{at: at, town: t, kind: &gridKind{big: "安全隐患", sub: "供电线路故障"}, urgency: "高", involved: 80 + g.r.IntN(220),
			content: g.fill("{村}一带自晚上七点起大面积停电，约有数百户受影响，已报供电所抢修。", t, g.anyVillage(t))}))
	}
	g.incident(Surge, "power_cut", risk.LevelOrange, countyCode, fmt.Sprintf("a power cut: %d calls and 5 grid reports from every township between 19:00 and 20:00", len(surgeRecs)), nth(surgeRecs, 5), recs...)
	g.trap(Collective, "power_cut", "many people in many townships report the same power cut: an outage, not a collective dispute", recs...)
}

// inTown places calls in t, at its villages or the township itself, as
// agents do when callers name where they are.
func (g *gen) inTown(t *township) func() (*township, *village, string) {
	return func() (*township, *village, string) {
		v := g.anyVillage(t)
		if g.r.IntN(10) < 7 {
			return t, v, t.villageCode(v)
		}
		return t, v, t.code
	}
}

func (g *gen) plantSkipLevel() {
	lo, hi := g.incFrom(), g.incTo()
	// A village's land matter: petitioned at the county, then at the
	// province — a dispute climbing levels.
	t := g.townOr("330681109")
	v := g.anyVillage(t)
	p := g.newPerson(true)
	at := g.when(lo, hi, true)
	cls := classByName("城乡建设_征地拆迁")
	first := g.petition(visit{at: g.when(later(g.from, at.AddDate(0, 0, -21)), at.AddDate(0, 0, -7), true), town: t, vil: v, region: t.villageCode(v), people: []person{p}, cls: cls})
	r := g.petition(visit{at: at, town: t, vil: v, region: t.villageCode(v), people: []person{p}, cls: cls, org: provinceBureau, repeat: true,
		facts: g.fill("信访人反映{村}征地补偿问题，此前已向诸暨市信访局反映，答复后仍未解决，要求省里督促落实。", t, v)})
	g.incident(SkipLevel, "province", risk.LevelOrange, t.code, "a village land matter petitioned at the county, then at the province", r.at, first, r)

	t = g.town()
	r = g.petition(visit{at: g.when(lo, hi, false), town: t, region: t.code, people: []person{g.newPerson(true)}, cls: classByName("劳动和社会保障_拖欠工资"), org: nationalBureau})
	g.incident(SkipLevel, "national", risk.LevelRed, t.code, "a township's wage matter petitioned online at the national bureau", r.at, r)

	t = g.town()
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, region: t.code, people: []person{g.newPerson(true)}, cls: classByName("房产物业_物业管理"), org: cityBureau})
	g.incident(SkipLevel, "city", risk.LevelYellow, t.code, "a township's estate matter petitioned at the city bureau", r.at, r)

	t = g.town()
	v = g.anyVillage(t)
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, vil: v, region: t.villageCode(v), people: []person{g.newPerson(true)}, cls: classByName("农村农业_土地承包"), org: cityBureau, overLevel: true})
	g.incident(SkipLevel, "city_flagged", risk.LevelOrange, t.code, "a village matter at the city bureau, flagged 越级 upstream", r.at, r)

	// A village's land matter at the township's office, then weeks later at
	// the county: climbing a level without skipping one (矛盾上交).
	t = g.town()
	v = g.anyVillage(t)
	p = g.newPerson(true)
	at = g.when(lo, hi, true)
	first = g.petition(visit{at: g.when(later(g.from, at.AddDate(0, 0, -40)), at.AddDate(0, 0, -10), true), town: t, vil: v, region: t.villageCode(v),
		people: []person{p}, cls: cls, org: townOrgan(t)})
	r = g.petition(visit{at: at, town: t, vil: v, region: t.villageCode(v), people: []person{p}, cls: cls, repeat: true,
		facts: g.fill("信访人反映{村}征地补偿问题，此前已向镇里反映，至今未解决。", t, v)})
	g.incident(SkipLevel, "climb", risk.LevelYellow, t.code, "a land matter at the township's office, then at the county weeks later", r.at, first, r)
}

// repeatTimes plans a repeat caller's n calls: two in the week before the
// third, which is knowable, the rest after, all within 26 days.
func (g *gen) repeatTimes(n int) (knowable time.Time, ts []time.Time) {
	knowable = g.when(g.incFrom(), g.to.AddDate(0, 0, -4), true)
	for range 2 {
		ts = append(ts, g.when(later(g.from, knowable.AddDate(0, 0, -8)), knowable.Add(-2*time.Hour), true))
	}
	ts = append(ts, knowable)
	last := earlier(knowable.AddDate(0, 0, 18), g.to.Add(-2*time.Hour))
	for range n - 3 {
		ts = append(ts, g.when(knowable.Add(time.Hour), last, true))
	}
	slices.SortFunc(ts, time.Time.Compare)
	return knowable, ts
}

func (g *gen) plantRepeat() {
	plan := []struct {
		kind  string
		n     int
		cat   string
		level risk.Level
		what  string
	}{
		{"rejected_answer", 3, "房产物业/物业管理/物业服务", risk.LevelOrange, "a home owner calls 3 times about the same leak; she rejected the first answer"},
		{"six_calls", 6, "劳动和社会保障/劳动关系/拖欠工资", risk.LevelOrange, "a worker calls 6 times in three weeks about his wages"},
		{"nine_calls", 9, "生态环境/噪声污染/施工噪音", risk.LevelRed, "a resident calls 9 times in under four weeks about night-time noise"},
		{"three_calls", 3, "城乡建设/市政设施/道路破损", risk.LevelYellow, "a villager calls 3 times about the same broken road"},
	}
	for _, pl := range plan {
		t := g.town()
		v := g.anyVillage(t)
		p := g.newPerson(g.r.IntN(4) == 0)
		_, ts := g.repeatTimes(pl.n)
		text := g.fill(pick(g.r, catalogByPath(pl.cat).texts), t, v)
		var recs []*rec
		for i, at := range ts {
			c := call{at: at, town: t, vil: v, caller: p, cat: catalogByPath(pl.cat), content: text}
			if i > 0 {
				c.content = "来电人再次反映：" + text
			}
			if i == 0 && pl.kind == "rejected_answer" {
				c.life = lifeRejected
				c.appeal = "投诉"
			}
			recs = append(recs, g.hotline(c))
		}
		g.incident(Repeat, pl.kind, pl.level, t.code, pl.what, nth(recs, 3), recs...)
	}
}

// overdueLevel is what the overdue rule gives a deadline at the scenario's
// end: orange 7 days late, yellow late, blue due within a day.
func (g *gen) overdueLevel(deadline time.Time) risk.Level {
	switch late := g.to.Sub(deadline); {
	case late > 7*24*time.Hour:
		return risk.LevelOrange
	case late > 0:
		return risk.LevelYellow
	}
	return risk.LevelBlue
}

// deadlineLate draws a deadline between lo and hi before the scenario's
// end, and no earlier than a day into the incident span (it becomes
// knowable a day before it falls due).
func (g *gen) deadlineLate(lo, hi time.Duration) time.Time {
	earliest := g.incFrom().Add(25 * time.Hour)
	from, to := later(earliest, g.to.Add(-hi)), g.to.Add(-lo)
	if !from.Before(to) {
		return earliest
	}
	return g.when(from, to, true)
}

func (g *gen) plantOverdue() {
	const day = 24 * time.Hour
	// A complaint dispatched and left: more than a week late if the
	// scenario leaves room, else just late.
	dl := g.deadlineLate(7*day+3*time.Hour, 10*day)
	t := g.town()
	v := g.anyVillage(t)
	r := g.hotline(call{at: dl.Add(-7 * day), town: t, vil: v, caller: g.newPerson(false), cat: catalogByPath("城乡建设/违章建筑/违法建设"), appeal: "举报", urgency: "一般", life: lifeOpen, deadline: 7 * day})
	// A routine report, however late, is the hotline's own supervision: a
	// reminder to the desk, not a warning for review.
	g.incident(Overdue, "hotline_late", g.overdueLevel(r.due), t.code, "a report of illegal building, dispatched and never answered", r.due.Add(-day), r).Reminder = true

	// Extended once (延期), and late again: a dispute (物业纠纷), for review
	// from its deadline (将到期 before it is a reminder).
	dl = g.deadlineLate(30*time.Hour, 4*day)
	t = g.town()
	r = g.hotline(call{at: dl.Add(-10 * day), town: t, vil: g.anyVillage(t), caller: g.newPerson(false), cat: catalogByPath("房产物业/物业管理/物业服务"), appeal: "投诉", urgency: "一般",
		life: lifeOpen, deadline: 5 * day, extend: 5 * day})
	g.incident(Overdue, "hotline_extended", g.overdueLevel(r.due), t.code, "a complaint extended once (延期), then late again", r.due, r)

	// A grid report dispatched to the township and never closed.
	dl = g.deadlineLate(30*time.Hour, 9*day)
	t = g.town()
	r = g.grid(report{at: dl.Add(-between(g.r, 4*day, 6*day)), town: t, kind: gridKinds[0], parties: []person{g.newPerson(false), g.newPerson(false)}, life: lifeOpen, deadline: dl})
	g.incident(Overdue, "grid_late", g.overdueLevel(r.due), t.code, "a neighbours' dispute dispatched (02) and never closed", r.due, r)

	// A petition assigned (交办) with a 30-day deadline set upstream.
	dl = g.deadlineLate(30*time.Hour, g.to.Sub(g.from.Add(32*day)))
	t = g.town()
	r = g.petition(visit{at: dl.Add(-31 * day), town: t, vil: g.anyVillage(t), people: []person{g.newPerson(true)}, cls: classByName("民政_社会救助"), life: lifeOpen, deadline: dl})
	g.incident(Overdue, "petition_late", g.overdueLevel(r.due), t.code, "a petition assigned with a 30-day deadline, still being handled", r.due, r)

	// Due within a day at the end (将到期).
	dl = g.to.Add(between(g.r, 2*time.Hour, 20*time.Hour))
	t = g.town()
	r = g.hotline(call{at: dl.Add(-7 * day), town: t, vil: g.anyVillage(t), caller: g.newPerson(false), cat: catalogByPath("市场监管/消费维权/退换货"), appeal: "投诉", urgency: "一般", life: lifeOpen, deadline: 7 * day})
	g.incident(Overdue, "due_soon", risk.LevelBlue, t.code, "a complaint due within a day when the scenario ends", r.due.Add(-day), r).Reminder = true
}

func (g *gen) plantCollective() {
	lo, hi := g.incFrom(), g.incTo()
	yes, no := true, false
	people := func(listed int) []person {
		ps := make([]person, listed)
		for i := range ps {
			ps[i] = g.newPerson(i == 0 || g.r.IntN(2) == 0)
			if i > 0 && g.r.IntN(3) == 0 {
				ps[i].phone = ""
			}
		}
		return ps
	}
	t := g.townOr("330681109")
	r := g.petition(visit{at: g.when(lo, hi, true), town: t, vil: g.anyVillage(t), people: people(3), count: 8, involved: 23, group: &yes, cls: classByName("劳动和社会保障_拖欠工资")})
	g.incident(Collective, "petition_group", risk.LevelOrange, t.code, "8 workers petition together about unpaid wages (集体访)", r.at, r)

	t = g.town()
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, vil: g.anyVillage(t), people: people(6), count: 6, group: &no, cls: classByName("城乡建设_征地拆迁")})
	g.incident(Collective, "petition_unflagged", risk.LevelOrange, t.code, "6 villagers sign a letter about land compensation; upstream did not set groupFlag", r.at, r)

	t = g.town()
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, vil: g.anyVillage(t), people: people(3), count: 26, involved: 80, group: &yes, cls: classByName("房产物业_物业管理")})
	g.incident(Collective, "petition_large", risk.LevelRed, t.code, "26 home owners petition together about their estate", r.at, r)

	t = g.town()
	r = g.grid(report{at: g.when(lo, hi, true), town: t, kind: gridKinds[3], involved: 14, money: 280000, urgency: "高", parties: []person{g.newPerson(false), g.newPerson(false)},
		content: g.fill("{公司}十四名工人到厂部讨要拖欠的两个月工资，情绪激动，网格员已到场劝导并报镇劳动保障所。", t, nil)})
	g.incident(Collective, "grid_gathering", risk.LevelOrange, t.code, "14 workers come to the factory office for their wages (grid report)", r.at, r)

	t = g.town()
	v := g.anyVillage(t)
	r = g.grid(report{at: g.when(lo, hi, true), town: t, vil: v, kind: &gridKind{big: "矛盾纠纷", sub: "征地拆迁纠纷", dispute: true}, involved: 22, urgency: "高",
		content: g.fill("二十余名村民聚集在{村}村委会门口，要求公开征地补偿明细，网格员正在现场疏导。", t, v)})
	g.incident(Collective, "grid_gathering_large", risk.LevelRed, t.code, "22 villagers gather at the village committee over land compensation", r.at, r)
	g.incident(ExtremeIntent, "gathering", risk.LevelOrange, t.code, "the same report says the villagers gather (聚集)", r.at, r)

	// Many different callers about one employer within days: the subject,
	// not the person, links them.
	t = g.townOr("330681004")
	firm := g.smallFirm(t)
	start := g.when(lo, hi.Add(-3*24*time.Hour), true)
	var recs []*rec
	for i := range 7 {
		at := start.Add(time.Duration(i) * 10 * time.Hour).Add(between(g.r, 0, 3*time.Hour))
		v := g.anyVillage(t)
		text := g.filler(t, v, firm, "").Replace(pick(g.r, []string{
			"来电人在{公司}上班，厂里已经{月}个月没发工资了，老板说资金周转不开。",
			"反映{公司}拖欠工人工资，车间里几十个人都没拿到钱。",
			"{公司}的工人，工资拖了好久，厂里让我们再等等，我们家里都等着用钱。",
			"我老公在{公司}做挡车工，工资已经欠了{月}个月。",
		}))
		recs = append(recs, g.hotline(call{at: at, town: t, vil: v, caller: g.newPerson(false), cat: catalogByPath("劳动和社会保障/劳动关系/拖欠工资"), appeal: "投诉", content: text}))
	}
	g.incident(Collective, "same_employer_calls", risk.LevelOrange, t.code, "7 different workers of "+firm+" call about unpaid wages within 3 days", nth(recs, 5), recs...)

	// A collective petition at the province: collective and skip-level.
	t = g.town()
	r = g.petition(visit{at: g.when(lo, hi, true), town: t, region: t.code, people: people(4), count: 12, involved: 40, group: &yes, org: provinceBureau, overLevel: true,
		cls: classByName("城乡建设_征地拆迁")})
	g.incident(Collective, "collective_skip", risk.LevelRed, t.code, "12 people of a township petition together at the province", r.at, r)
	g.incident(SkipLevel, "collective_province", risk.LevelOrange, t.code, "the same collective petition skips the county and the city", r.at, r)
}

func (g *gen) plantConvergence() {
	lo, hi := g.incFrom(), g.incTo()
	// A land matter: the hotline first, a petition days later.
	t := g.town()
	v := g.anyVillage(t)
	p := g.newPerson(true)
	at := g.when(lo, hi, true)
	first := g.hotline(call{at: at.Add(-between(g.r, 3*24*time.Hour, 10*24*time.Hour)), town: t, vil: v, caller: p, cat: catalogByPath("农业农村/土地承包/土地流转")})
	r := g.petition(visit{at: at, town: t, vil: v, people: []person{p}, cls: classByName("农村农业_土地承包")})
	g.incident(Convergence, "hotline_then_petition", risk.LevelYellow, t.code, "a villager calls the hotline, then petitions about the same land", r.at, first, r)

	// A party to a grid report calls the hotline days later.
	t = g.town()
	v = g.anyVillage(t)
	p = g.newPerson(false)
	at = g.when(lo, hi, true)
	first = g.grid(report{at: at.Add(-between(g.r, 2*24*time.Hour, 6*24*time.Hour)), town: t, vil: v, kind: gridKinds[0], parties: []person{p, g.newPerson(false)}})
	r = g.hotline(call{at: at, town: t, vil: v, caller: p, cat: catalogByPath("政法综治/矛盾纠纷/邻里纠纷")})
	g.incident(Convergence, "grid_then_hotline", risk.LevelYellow, t.code, "a party to a neighbours' dispute reported by the grid worker calls the hotline", r.at, first, r)

	// All three feeds within two weeks: also three matters, a repeat.
	t = g.town()
	v = g.anyVillage(t)
	p = g.newPerson(true)
	at = g.when(lo, hi.Add(-5*24*time.Hour), true)
	a := g.hotline(call{at: at.Add(-between(g.r, 2*24*time.Hour, 5*24*time.Hour)), town: t, vil: v, caller: p, cat: catalogByPath("城乡建设/征地拆迁/补偿安置"), appeal: "投诉"})
	b := g.grid(report{at: at, town: t, vil: v, kind: &gridKind{big: "矛盾纠纷", sub: "征地拆迁纠纷", dispute: true, texts: []string{"{村}村民对征地补偿有意见，网格员上门了解情况并做好解释。"}}, parties: []person{p}})
	c := g.petition(visit{at: g.when(at.Add(24*time.Hour), at.Add(5*24*time.Hour), true), town: t, vil: v, people: []person{p}, cls: classByName("城乡建设_征地拆迁")})
	g.incident(Convergence, "three_feeds", risk.LevelOrange, t.code, "a villager reaches the hotline, the grid worker and the petition office about compensation", b.at, a, b, c)
	g.incident(Repeat, "three_feeds", risk.LevelYellow, t.code, "the same villager's three matters in two weeks", c.at, a, b, c)

	// The same estate's matter from two different people in two feeds:
	// only the subject links them.
	t = g.town()
	estate := g.estate(t)
	at = g.when(lo, hi, true)
	first = g.hotline(call{at: at.Add(-between(g.r, 2*24*time.Hour, 8*24*time.Hour)), town: t, caller: g.newPerson(false), cat: catalogByPath("房产物业/物业管理/物业服务"), appeal: "投诉",
		content: estate + "开发商承诺的地下车位至今没有交付，物业也不给说法。"})
	r = g.petition(visit{at: at, town: t, people: []person{g.newPerson(true)}, cls: classByName("房产物业_物业管理"),
		facts: estate + "业主反映开发商未按合同交付地下车位，多次协商无果。"})
	g.incident(Convergence, "same_subject", risk.LevelYellow, t.code, "two owners of "+estate+" raise the same parking matter by hotline and by petition", r.at, first, r)
}

// plantTrend draws from a stream of its own: how many calls a rise takes
// depends on the background, and must not move what is planted after it.
func (g *gen) plantTrend() {
	r := g.r
	defer func() { g.r = r }()
	g.r = rand.New(rand.NewPCG(g.cfg.Seed, 6))
	t := g.townOr("330681104")
	g.rise(t, expressPoints, "商贸旅游", risk.LevelOrange, "express_points", "the express delivery points of "+t.name+" close one after another: complaints rise week by week", []string{
		"{镇}又有一家快递网点关门了，快递都堆在驿站，取件要跑到城里。",
		"{村}附近的快递点停止营业，网购的东西一直送不到。",
		"{镇}快递网点越来越少，寄件要排很久的队。",
	})
	t = g.townOr("330681102")
	g.rise(t, catalogByPath("民政/社会救助/低保养老"), "民政", risk.LevelYellow, "elderly_meals", "the village canteens of "+t.name+" stop serving the elderly one by one: calls rise on top of the usual", []string{
		"{村}老年食堂停止供餐了，独居老人吃饭成了问题，请民政部门关心一下。",
		"{镇}居家养老服务中心的助餐服务停了，家里老人没人做饭。",
	})
}

func (g *gen) plantTraps() {
	// Words of extreme intent that are prices, streets and food.
	prices := &catalog{path: "市场监管/价格监管/价格欺诈", appeals: []string{"举报"}, unit: "诸暨市市场监管局"}
	for _, tr := range []struct{ kind, text string }{
		{"跳楼价", "反映{路}一家服装店挂出跳楼价清仓的牌子，实际价格比原价还高，涉嫌价格欺诈。"},
		{"跳楼大甩卖", "{镇}一家超市门口喊着跳楼大甩卖，买回去的牛奶已经过期了，要求退货。"},
		{"北京路", "暨阳街道北京路上新开的店铺占道经营，行人只能走机动车道。"},
		{"北京烤鸭", "{路}一家北京烤鸭店油烟直排，影响楼上住户。"},
		{"到北京路反映", "上周已经到北京路那家店反映过，店家不理睬，请市场监管部门处理。"},
		{"自杀式降价", "{镇}两家加油站搞自杀式降价，来电人担心油品质量有问题。"},
	} {
		t := g.town()
		r := g.hotline(call{at: g.when(g.from, g.to.Add(-time.Hour), true), town: t, vil: g.anyVillage(t), caller: g.newPerson(false), cat: prices, content: g.fill(tr.text, t, g.anyVillage(t))})
		g.trap(ExtremeIntent, tr.kind, "everyday use of "+tr.kind+": no intent", r)
	}

	// A grid report entered twice: the second copy, with a head count that
	// would make a gathering, is deleted (06) minutes later.
	t := g.town()
	v := g.anyVillage(t)
	at := g.when(g.from, g.to.Add(-3*time.Hour), true)
	kind := gridKinds[2] // 土地纠纷
	text := g.fill("{村}部分村民因承包地边界问题与邻村发生争执，网格员已联系村调委会调处。", t, v)
	orig := g.grid(report{at: at, town: t, vil: v, kind: kind, involved: 9, content: text})
	dup := g.grid(report{at: at.Add(between(g.r, 3*time.Minute, 20*time.Minute)), town: t, vil: v, kind: kind, involved: 12, content: text, deleted: true})
	g.trap(Collective, "deleted_grid_event", "a report entered twice; the copy with 12 people was deleted (06): it must not count", orig, dup)

	// A work order whose second version is delivered five times, and the
	// same caller's other call: two matters, not five.
	t = g.town()
	v = g.anyVillage(t)
	p := g.newPerson(false)
	at = g.when(g.from.AddDate(0, 0, 10), g.to.AddDate(0, 0, -2), true)
	other := g.hotline(call{at: at.AddDate(0, 0, -5-g.r.IntN(10)), town: t, vil: v, caller: p, cat: catalogByPath("教育/学校管理/招生入学")})
	five := g.hotline(call{at: at, town: t, vil: v, caller: p, cat: catalogByPath("市场监管/消费维权/退换货")})
	if len(five.snaps) < 2 { // answered on the line: deliver its first version five times
		five.extra = map[int]int{0: 4}
	} else {
		five.extra = map[int]int{1: 4}
	}
	g.trap(Repeat, "delivered_five_times", "one version delivered five times, and one more call: two matters", other, five)
}
