package scenario

import (
	"fmt"
	"time"

	risk "riskwatch"
)

// grid is a grid-governance report as contracts/grid.md specifies it.
type grid struct {
	EventID        string   `json:"eventId"`
	UpdateTime     any      `json:"updateTime"`
	GridCode       string   `json:"gridCode"`
	GridName       string   `json:"gridName,omitempty"`
	ReporterID     string   `json:"reporterId"`
	ReporterName   string   `json:"reporterName,omitempty"`
	ReportTime     any      `json:"reportTime"`
	HappenTime     any      `json:"happenTime,omitempty"`
	BigType        string   `json:"bigType"`
	SubType        string   `json:"subType"`
	Source         string   `json:"source,omitempty"`
	Content        string   `json:"content"`
	Address        string   `json:"address,omitempty"`
	Lng            *float64 `json:"lng,omitempty"`
	Lat            *float64 `json:"lat,omitempty"`
	InvolvedNum    any      `json:"involvedNum,omitempty"`
	InvolvedMoney  any      `json:"involvedMoney,omitempty"`
	Urgency        string   `json:"urgency,omitempty"`
	Parties        []party  `json:"parties,omitempty"`
	Status         string   `json:"status"`
	HandleDeadline any      `json:"handleDeadline,omitempty"`
	FinishTime     any      `json:"finishTime,omitempty"`
	Result         string   `json:"result,omitempty"`
	SelfResolved   *bool    `json:"selfResolved,omitempty"`
}

func (e grid) withID(id string) any { e.EventID = id; return e }

type party struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	IDNo  string `json:"idNo,omitempty"`
}

// gridKind is a bigType/subType pair with what grid workers write under it.
type gridKind struct {
	big, sub string
	weight   float64
	dispute  bool // parties are named and a head count is given
	texts    []string
}

var gridKinds = []*gridKind{
	{"矛盾纠纷", "邻里纠纷", 10, true, []string{
		"{村}两户村民因排水沟堵塞互相指责发生口角，网格员现场调解，双方达成谅解。",
		"{小区}楼上漏水殃及楼下，双方就维修费用协商未果，已报社区调委会。"}},
	{"矛盾纠纷", "婚姻家庭纠纷", 5, true, []string{
		"{村}一对夫妻因家庭琐事争吵，网格员上门劝解，情绪已平复。",
		"{村}兄弟二人因老人赡养费分担问题产生矛盾，已约村调委会调解。"}},
	{"矛盾纠纷", "土地纠纷", 4, true, []string{
		"{村}两户村民因承包地边界发生争执，网格员已联系村调委会调处。"}},
	{"矛盾纠纷", "劳资纠纷", 4, true, []string{
		"{公司}{n}名工人反映工资发放延迟，网格员已告知镇劳动保障所。"}},
	{"矛盾纠纷", "物业纠纷", 3, true, []string{
		"{小区}业主与物业因停车收费问题发生争执，网格员已协调社区处理。"}},
	{"安全隐患", "消防隐患", 8, false, []string{
		"{村}一处出租房内电瓶车在楼道充电，存在火灾隐患，已督促整改。",
		"{小区}消防通道被私家车占用，已联系物业劝离。"}},
	{"安全隐患", "道路隐患", 3, false, []string{
		"{路}一处窨井盖缺失，已设置警示标志并上报。"}},
	{"环境卫生", "垃圾堆放", 8, false, []string{
		"{村}河道边有人倾倒建筑垃圾，已通知保洁员清理。",
		"{小区}垃圾分类投放点满溢，已联系清运。"}},
	{"民生服务", "困难帮扶", 5, false, []string{
		"走访{村}独居老人，老人反映行动不便需要送餐服务，已上报。",
		"{村}一户低保家庭房屋漏雨，已联系村里安排修缮。"}},
	{"治安问题", "可疑人员", 2, false, []string{
		"{小区}附近有陌生人挨家推销保健品，已提醒居民防骗。"}},
	// A police phrase, not a gathering of disputants: the lexicon's
	// 聚众 reads it as one, so it measures that false alarm (≈ 2 a week).
	{"治安问题", "涉赌线索", 0.3, false, []string{
		"群众反映{村}一处出租屋内有人深夜聚众赌博，已报派出所核查。"}},
	{"其他", "其他", 3, false, []string{
		"{村}文化礼堂开展反诈宣传活动，网格员协助组织。"}},
}

// report is a grid event to generate.
type report struct {
	at       time.Time
	town     *township
	vil      *village
	kind     *gridKind
	content  string
	parties  []person
	involved any // involvedNum as sent; nil: drawn for disputes
	money    int
	urgency  string
	life     lifeKind // lifeOpen: dispatched, never closed
	deadline time.Time
	deleted  bool // entered by mistake: published, then deleted (06)
}

var gridWords = map[string]string{"00": "受理", "01": "上报未分流", "02": "上报已分流", "03": "结案待评", "04": "结束", "05": "挂起", "06": "已删除", "07": "反馈"}

// grid generates a grid event: settled on the spot (04), or 01 → 02 → 07 →
// 03 → 04 through the township's centre. There is no version: updateTime
// orders the versions.
func (g *gen) grid(rp report) *rec {
	clk := []clock{clockMillis, clockDash, clockDash, clockOffset}[g.r.IntN(4)]
	rp.at = clk.trunc(rp.at)
	vil := rp.vil
	if vil == nil {
		vil = pick(g.r, ptrs(rp.town.villages))
	}
	n := 1 + g.r.IntN(vil.grids)
	code := rp.town.villageCode(vil) + fmt.Sprintf("%02d", n)
	worker := g.reporter(code)
	e := grid{
		GridCode:     code,
		GridName:     fmt.Sprintf("%s%s第%d网格", rp.town.name, vil.name, n),
		ReporterID:   worker.id,
		ReporterName: worker.name,
		ReportTime:   clk.format(rp.at),
		BigType:      rp.kind.big,
		SubType:      rp.kind.sub,
		Source:       []string{"巡查发现", "群众反映", "热线转入", "视频感知"}[weighted(g.r, []float64{60, 30, 5, 5})],
		Content:      rp.content,
		Address:      rp.town.name + vil.name,
		InvolvedNum:  rp.involved,
		Urgency:      rp.urgency,
	}
	if e.Content == "" {
		e.Content = g.fill(pick(g.r, rp.kind.texts), rp.town, vil)
	}
	if g.r.IntN(3) == 0 {
		e.HappenTime = clk.format(rp.at.Add(-between(g.r, 10*time.Minute, 6*time.Hour)))
	}
	if g.r.IntN(30) > 0 {
		lng, lat := 120.10+g.r.Float64()*0.40, 29.55+g.r.Float64()*0.35
		if g.r.IntN(30) == 0 {
			lng, lat = 0, 0 // a bad fix
		}
		e.Lng, e.Lat = &lng, &lat
	}
	if rp.kind.dispute && e.InvolvedNum == nil {
		e.InvolvedNum = 2 + g.r.IntN(4)
		if g.r.IntN(30) == 0 {
			e.InvolvedNum = 7 + g.r.IntN(3) // a bigger quarrel, still no gathering
		}
	}
	if rp.money > 0 {
		e.InvolvedMoney = rp.money
	}
	words := g.r.IntN(10) < 3 // this township's system sends status words
	if e.Urgency == "" {
		e.Urgency = []string{"低", "中", "高"}[weighted(g.r, []float64{60, 30, 10})]
		if !words && g.r.IntN(3) == 0 {
			e.Urgency = map[string]string{"高": "01", "中": "02", "低": "03"}[e.Urgency]
		}
	}
	for _, p := range rp.parties {
		e.Parties = append(e.Parties, party{Name: p.name, Phone: g.phone(p), IDNo: p.idNo})
	}

	r := &rec{src: risk.SourceGrid, at: rp.at, prefix: "GE" + rp.town.code + "-" + rp.at.In(risk.CST).Format("20060102") + "-", width: 4}
	for _, s := range g.gridStages(rp) {
		s.at = clk.trunc(s.at)
		e.Status, e.UpdateTime = s.status, clk.format(s.at)
		if words {
			e.Status = gridWords[s.status]
		}
		e.HandleDeadline = clk.format(s.deadline)
		switch s.status {
		case "03", "04":
			if e.FinishTime == nil {
				e.FinishTime = clk.format(s.at)
				e.Result = pick(g.r, []string{"已调解，双方达成谅解", "已整改到位", "已处置完毕", "已转相关部门处理并反馈"})
			}
			if s.resolved != "" {
				t := true
				e.SelfResolved = &t
			}
		}
		r.snaps = append(r.snaps, snap{upd: s.at, val: e})
		r.due = clk.trunc(s.deadline)
	}
	g.add(r)
	return r
}

func ptrs[T any](xs []T) []*T {
	out := make([]*T, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}

type worker struct{ id, name string }

// reporter is the grid worker of a grid: the same one every time.
func (g *gen) reporter(code string) worker {
	if w, ok := g.workers[code]; ok {
		return w
	}
	// Named from a stream of its own: whether the background met this
	// grid first must not move what is planted after it.
	r := g.r
	g.r = g.aside
	w := worker{id: fmt.Sprintf("WG%04d", 1+len(g.workers)), name: g.name()}
	g.r = r
	g.workers[code] = w
	return w
}

func (g *gen) gridStages(rp report) []stage {
	r := g.r
	t := rp.at.Add(between(r, time.Minute, 10*time.Minute))
	if rp.deleted {
		return g.cut([]stage{{status: "01", at: t}, {status: "06", at: t.Add(between(r, 10*time.Minute, 2*time.Hour))}})
	}
	if rp.life == lifeNormal && r.IntN(100) < 45 {
		done := t.Add(between(r, 10*time.Minute, 2*time.Hour))
		if r.IntN(2) == 0 {
			return g.cut([]stage{{status: "04", at: done, resolved: "self"}})
		}
		return g.cut([]stage{{status: "00", at: t}, {status: "04", at: done, resolved: "self"}})
	}
	t02 := t.Add(between(r, 20*time.Minute, 20*time.Hour))
	deadline := rp.deadline
	if rp.life != lifeOpen {
		deadline = t02.Add(between(r, 3*24*time.Hour, 7*24*time.Hour))
	}
	st := []stage{{status: "01", at: t}, {status: "02", at: t02, deadline: deadline}}
	if rp.life == lifeOpen {
		return g.cut(st)
	}
	// Closed (03) a day and an hour before the deadline at the latest, as
	// background work orders are (see hotlineStages).
	closed := t02.Add(between(r, time.Hour, deadline.Add(-25*time.Hour).Sub(t02)))
	if r.IntN(2) == 0 {
		st = append(st, stage{status: "07", at: g.spread(t02.Add(time.Minute), closed, 1)[0], deadline: deadline})
	}
	st = append(st, stage{status: "03", at: later(closed, st[len(st)-1].at.Add(time.Minute)), deadline: deadline})
	st = append(st, stage{status: "04", at: st[len(st)-1].at.Add(between(r, 2*time.Hour, 48*time.Hour)), deadline: deadline})
	return g.cut(st)
}
