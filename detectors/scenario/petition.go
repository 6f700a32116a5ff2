package scenario

import (
	"time"

	risk "riskwatch"
)

// petition is a 信访件 as contracts/petition.md specifies it.
type petition struct {
	PetitionNo      string       `json:"petitionNo"`
	Version         any          `json:"version,omitempty"`
	UpdateTime      any          `json:"updateTime"`
	RegisterTime    any          `json:"registerTime"`
	Form            any          `json:"form"`
	RegisterOrg     string       `json:"registerOrg"`
	RegisterLevel   string       `json:"registerLevel"`
	Petitioners     []petitioner `json:"petitioners"`
	PetitionerCount int          `json:"petitionerCount"`
	InvolvedCount   int          `json:"involvedCount,omitempty"`
	GroupFlag       *bool        `json:"groupFlag,omitempty"`
	RepeatFlag      *bool        `json:"repeatFlag,omitempty"`
	RepeatNum       int          `json:"repeatNum,omitempty"`
	OverLevelFlag   *bool        `json:"overLevelFlag,omitempty"`
	ContentClass    string       `json:"contentClass"`
	IssueRegionCode string       `json:"issueRegionCode"`
	MainFacts       string       `json:"mainFacts"`
	MainRequest     string       `json:"mainRequest,omitempty"`
	Status          string       `json:"status"`
	AcceptTime      any          `json:"acceptTime,omitempty"`
	Deadline        any          `json:"deadline,omitempty"`
	FinishTime      any          `json:"finishTime,omitempty"`
	Satisfaction    int          `json:"satisfaction,omitempty"`
}

func (p petition) withID(id string) any { p.PetitionNo = id; return p }

type petitioner struct {
	Name  string `json:"name,omitempty"`
	IDNo  string `json:"idNo,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// petitionClass is a 信访内容分类 with the facts petitioners bring under it.
type petitionClass struct {
	class    string
	weight   float64
	facts    []string
	requests []string
}

var petitionClasses = []*petitionClass{
	{"劳动和社会保障_拖欠工资", 3,
		[]string{"{公司}拖欠{n}名工人工资约{钱}，多次向镇里反映未果。", "信访人在{镇}一处工地务工，工程完工后包工头一直未结算工资。"},
		[]string{"要求{公司}支付拖欠工资。", "要求督促施工单位结清工资。"}},
	{"城乡建设_征地拆迁", 3,
		[]string{"{村}征地补偿款分配不公，信访人认为测量面积有误。", "{镇}旧村改造中信访人房屋评估价格偏低，与邻居差距较大。"},
		[]string{"要求公开补偿明细并重新核算。", "要求重新评估。"}},
	{"房产物业_物业管理", 2,
		[]string{"{小区}物业擅自提高物业费，业主委员会成立受阻。", "{小区}开发商承诺的配套幼儿园至今未建。"},
		[]string{"要求住建部门督促依法成立业委会。", "要求开发商兑现承诺。"}},
	{"农村农业_土地承包", 2,
		[]string{"{村}村委会未经村民同意将集体土地对外发包，租金去向不明。", "信访人承包的土地被村里收回另行发包，未给补偿。"},
		[]string{"要求公开村务。", "要求恢复承包经营权。"}},
	{"政法_涉法涉诉", 1.5,
		[]string{"信访人对其交通事故赔偿判决不服，认为对方未足额赔偿。", "信访人认为派出所对其被打一案处理不公。"},
		[]string{"要求重新处理。"}},
	{"城乡建设_住房保障", 1,
		[]string{"信访人申请公租房{n}年未获配租，认为审核不公。"},
		[]string{"要求尽快配租。"}},
	{"民政_社会救助", 1.5,
		[]string{"信访人因病致贫，申请低保被退回，认为不符合实际。"},
		[]string{"要求重新审核低保资格。"}},
	{"生态环境_水污染", 1,
		[]string{"{村}附近{行业}厂长期排放废水，鱼塘死鱼，村民多次反映未解决。"},
		[]string{"要求关停整治并赔偿损失。"}},
}

func classByName(name string) *petitionClass {
	for _, c := range petitionClasses {
		if c.class == name {
			return c
		}
	}
	panic("scenario: no petition class " + name)
}

// Registering organs by level, with the prefix of their petition numbers.
type organ struct{ name, level, prefix string }

var (
	countyBureau   = organ{"诸暨市信访局", "县", countyCode}
	cityBureau     = organ{"绍兴市信访局", "市", "3306"}
	provinceBureau = organ{"浙江省信访局", "省", "33"}
	nationalBureau = organ{"国家信访局", "国家", "GJ"}
)

func townOrgan(t *township) organ { return organ{t.office(), "乡镇", t.code} }

// visit is a petition to generate.
type visit struct {
	at        time.Time
	town      *township
	vil       *village
	region    string // issueRegionCode as sent; "" to draw one
	people    []person
	count     int // petitionerCount; at least len(people)
	involved  int
	group     *bool // groupFlag as sent; nil leaves it out
	repeat    bool
	overLevel bool
	org       organ
	cls       *petitionClass
	facts     string
	request   string
	life      lifeKind
	deadline  time.Time // lifeOpen: the deadline upstream sets on acceptance
}

// petition generates a petition and the versions of its life: 登记 → 受理
// → 交办 → 办理中 → 答复 → 办结 → 归档, answered within the statutory 60
// days, or 不予受理.
func (g *gen) petition(v visit) *rec {
	clk := []clock{clockDash, clockOffset, clockDash, clockMillisText}[g.r.IntN(4)]
	v.at = clk.trunc(v.at)
	vil := v.vil
	if vil == nil {
		vil = &v.town.villages[0]
	}
	// The facts and the request are about one firm, one estate.
	fill := g.filler(v.town, vil, g.firm(v.town), g.estate(v.town))
	if v.facts == "" {
		v.facts = fill.Replace(pick(g.r, v.cls.facts))
	}
	if v.request == "" {
		v.request = fill.Replace(pick(g.r, v.cls.requests))
	}
	if v.region == "" {
		v.region = g.regionCode(v.town, v.vil)
		if v.region == "" {
			v.region = v.town.code // a required field
		}
	}
	if v.org == (organ{}) {
		v.org = countyBureau
	}
	form := []string{"来访", "网上", "来信", "电话", "其他"}[weighted(g.r, []float64{35, 35, 15, 10, 5})]
	p := petition{
		RegisterTime:    clk.format(v.at),
		Form:            form,
		RegisterOrg:     v.org.name,
		RegisterLevel:   v.org.level,
		PetitionerCount: max(v.count, len(v.people)),
		InvolvedCount:   v.involved,
		GroupFlag:       v.group,
		ContentClass:    v.cls.class,
		IssueRegionCode: v.region,
		MainFacts:       v.facts,
		MainRequest:     v.request,
	}
	if g.r.IntN(10) < 3 { // some systems send the form's code
		p.Form = map[string]int{"来信": 1, "来访": 2, "电话": 3, "网上": 4, "其他": 5}[form]
	}
	for i, who := range v.people {
		pp := petitioner{Name: who.name}
		if who.idNo != "" && (i == 0 || g.r.IntN(2) == 0) {
			pp.IDNo = who.idNo
		}
		if who.phone != "" && (i == 0 || g.r.IntN(3) > 0) {
			pp.Phone = g.phone(who)
		}
		p.Petitioners = append(p.Petitioners, pp)
	}
	if p.Petitioners == nil {
		p.Petitioners = []petitioner{}
	}
	f, t := false, true
	p.RepeatFlag, p.OverLevelFlag = &f, &f
	if v.repeat {
		p.RepeatFlag, p.RepeatNum = &t, 1+g.r.IntN(3)
	}
	if v.overLevel {
		p.OverLevelFlag = &t
	}
	if !v.repeat && !v.overLevel && g.r.IntN(4) == 0 { // older systems leave the flags out
		p.RepeatFlag, p.OverLevelFlag = nil, nil
	}
	versioned := g.r.IntN(20) > 0

	r := &rec{src: risk.SourcePetition, at: v.at, prefix: v.org.prefix + "-" + v.at.In(risk.CST).Format("2006-01") + "-", width: 6}
	for i, s := range g.petitionStages(v) {
		s.at = clk.trunc(s.at)
		p.Status, p.UpdateTime = s.status, clk.format(s.at)
		if versioned {
			p.Version = i + 1
		}
		switch s.status {
		case "受理":
			p.AcceptTime = clk.format(s.at)
			p.Deadline = clk.format(s.deadline)
		case "办结":
			p.FinishTime, p.Satisfaction = clk.format(s.at), 1+g.r.IntN(3)
		}
		r.snaps = append(r.snaps, snap{upd: s.at, val: p})
		if !s.deadline.IsZero() {
			r.due = clk.trunc(s.deadline)
		}
	}
	g.add(r)
	return r
}

func (g *gen) petitionStages(v visit) []stage {
	r := g.r
	t := v.at.Add(between(r, 2*time.Minute, 30*time.Minute))
	st := []stage{{status: "登记", at: t}}
	next := func(status string, lo, hi time.Duration) {
		t = t.Add(between(r, lo, hi))
		st = append(st, stage{status: status, at: t})
	}
	if v.life == lifeNormal && r.IntN(100) < 5 {
		next("不予受理", 24*time.Hour, 5*24*time.Hour)
		return g.cut(st)
	}
	next("受理", 4*time.Hour, 4*24*time.Hour)
	accepted := t
	switch {
	case v.life == lifeOpen:
		st[len(st)-1].deadline = v.deadline
	case r.IntN(100) < 85:
		st[len(st)-1].deadline = accepted.AddDate(0, 0, 60)
	}
	next("交办", 4*time.Hour, 3*24*time.Hour)
	next("办理中", 24*time.Hour, 10*24*time.Hour)
	if v.life == lifeOpen {
		return g.cut(st)
	}
	// Answered by day 50 and 办结 by day 59: within the statutory 60 days
	// (信访事项应当自受理之日起60日内办结), before 将到期 would warn.
	latest := accepted.AddDate(0, 0, 50)
	t = t.Add(between(r, min(20*24*time.Hour, latest.Sub(t)/2), latest.Sub(t)))
	st = append(st, stage{status: "答复", at: t})
	next("办结", 24*time.Hour, min(9*24*time.Hour, accepted.AddDate(0, 0, 59).Sub(t)))
	next("归档", 24*time.Hour, 5*24*time.Hour)
	return g.cut(st)
}
