package scenario

import (
	"fmt"
	"slices"
	"time"

	risk "riskwatch"
)

// hotline is a work order as contracts/hotline.md specifies it.
type hotline struct {
	CaseNo         string `json:"caseNo"`
	Version        any    `json:"version,omitempty"`
	UpdateTime     any    `json:"updateTime"`
	CallTime       any    `json:"callTime"`
	Channel        string `json:"channel,omitempty"`
	ContactUser    string `json:"contactUser"`
	ContactTel     string `json:"contactTel,omitempty"`
	CallerIDNo     string `json:"callerIdNo,omitempty"`
	AppealType     string `json:"appealType"`
	Catalog        string `json:"catalog"`
	Title          string `json:"title,omitempty"`
	Content        string `json:"content"`
	Address        string `json:"address,omitempty"`
	RegionCode     string `json:"regionCode,omitempty"`
	Urgency        string `json:"urgency,omitempty"`
	HandleUnit     string `json:"handleUnit,omitempty"`
	Deadline       any    `json:"deadline,omitempty"`
	Status         string `json:"status"`
	FinishTime     any    `json:"finishTime,omitempty"`
	Reply          string `json:"reply,omitempty"`
	Satisfaction   string `json:"satisfaction,omitempty"`
	Resolved       string `json:"resolved,omitempty"`
	InvolvedCount  any    `json:"involvedCount,omitempty"`
	InvolvedAmount any    `json:"involvedAmount,omitempty"`
}

func (h hotline) withID(id string) any { h.CaseNo = id; return h }

// catalog is a category of the centre's tree with the texts callers bring
// under it. Templates hold {slots} (see fill) and no words of extreme intent.
type catalog struct {
	path    string
	appeals []string // 诉求类型, the first most often
	unit    string   // 承办单位; "" for the township's own office
	weight  float64  // share of the background
	titles  []string
	texts   []string
}

var catalogs = []*catalog{
	{"劳动和社会保障/劳动关系/拖欠工资", []string{"投诉", "求助"}, "诸暨市人力社保局", 7,
		[]string{"反映拖欠工资", "要求追讨工资"},
		[]string{
			"来电人反映其在{镇}{公司}务工，公司拖欠其{月}个月工资约{钱}，多次讨要未果，希望劳动监察部门介入。",
			"来电人称在{镇}{村}一处建筑工地做木工，包工头以工程款未结清为由拖欠工资，要求帮助追讨。",
			"反映{公司}停产后老板联系不上，工人工资和社保都没着落，请求相关部门核实处理。",
		}},
	{"劳动和社会保障/社会保险/养老保险", []string{"咨询", "求助"}, "诸暨市人力社保局", 5,
		[]string{"养老保险咨询", "社保转移"},
		[]string{
			"来电咨询灵活就业人员养老保险如何续缴，断缴{月}个月后能否补缴。",
			"咨询退休人员养老金调整什么时候到账，本月金额与上月不一致。",
			"来电人反映其社保转移手续办理了{n}周仍未完成，影响看病报销。",
		}},
	{"人力社保/就业创业/政策咨询", []string{"咨询"}, "诸暨市人力社保局", 4,
		[]string{"就业政策咨询"},
		[]string{
			"咨询高校毕业生在诸暨就业的生活补贴如何申请，需要哪些材料。",
			"来电咨询失业金申领条件和办理渠道。",
			"咨询{镇}有没有面向中老年人的技能培训班。",
		}},
	{"房产物业/物业管理/物业服务", []string{"投诉", "求助"}, "诸暨市住建局", 8,
		[]string{"物业服务差", "反映物业问题"},
		[]string{
			"反映{镇}{小区}物业服务差，楼道灯坏了{n}个月没人修，物业费却年年涨。",
			"{小区}地下车库漏水严重，多次找物业无果，要求督促物业维修。",
			"来电人反映{小区}物业擅自将公共绿地改成收费停车位，业主意见很大。",
		}},
	{"城乡建设/市政设施/道路破损", []string{"投诉", "建议"}, "诸暨市综合行政执法局", 5,
		[]string{"道路破损", "路灯不亮"},
		[]string{
			"{路}靠近{小区}路段路面塌陷，已有电瓶车摔倒，请尽快修复。",
			"反映{镇}{村}村道路灯损坏多日，夜间出行不安全。",
			"{路}人行道地砖松动，下雨天一踩一脚泥水。",
		}},
	{"城乡建设/违章建筑/违法建设", []string{"举报"}, "", 3,
		[]string{"举报违建"},
		[]string{
			"举报{镇}{村}有村民在承包地上违规建房，已建到第{n}层。",
			"{小区}顶楼住户在楼顶搭建阳光房，影响楼顶防水。",
		}},
	{"城乡建设/供水/水压水质", []string{"求助", "投诉"}, "诸暨市水务集团", 3,
		[]string{"水压不足", "自来水问题"},
		[]string{
			"{小区}高层住户水压不足，早晚用水高峰基本没水。",
			"反映{镇}{村}自来水发黄，请水务部门检测。",
		}},
	{"城乡建设/供电/停电", []string{"求助", "咨询"}, "国网诸暨市供电公司", 1.5,
		[]string{"停电咨询"},
		[]string{
			"{小区}{n}幢今天下午停电，请问什么时候恢复供电。",
			"{镇}{村}电压不稳，家里电器经常自动关机。",
		}},
	{"生态环境/噪声污染/施工噪音", []string{"投诉"}, "绍兴市生态环境局诸暨分局", 5,
		[]string{"夜间施工噪音", "噪音扰民"},
		[]string{
			"{路}附近工地夜间施工到凌晨，噪音扰民，严重影响休息。",
			"{小区}楼下烧烤店营业到深夜，噪音和油烟扰民。",
			"{镇}{村}一家加工厂机器通宵运转，噪声很大。",
		}},
	{"生态环境/大气污染/异味", []string{"投诉", "举报"}, "绍兴市生态环境局诸暨分局", 2,
		[]string{"异味扰民"},
		[]string{
			"{镇}{村}附近一家{行业}厂排放刺鼻气味，村民担心影响健康。",
			"{小区}周边傍晚经常有焚烧垃圾的味道，窗户都不敢开。",
		}},
	{"交通运输/公交客运/线路班次", []string{"建议", "投诉"}, "诸暨市交通运输局", 4,
		[]string{"公交班次", "交通问题"},
		[]string{
			"建议增开{镇}至城区的公交班次，早高峰车太挤。",
			"{路}公交站台被占用，乘客只能站在马路上候车。",
			"反映{路}早晚高峰拥堵严重，建议优化红绿灯配时。",
		}},
	{"市场监管/消费维权/退换货", []string{"投诉"}, "诸暨市市场监管局", 6,
		[]string{"消费维权", "商家拒绝退换"},
		[]string{
			"来电人在{路}一家手机店购买的手机{n}天就坏了，商家拒绝退换。",
			"反映{镇}一家健身房收了年卡费用后关门，要求退还预付款。",
			"在网上购买的电动车电池质量有问题，商家不给退货。",
		}},
	{"市场监管/食品安全/餐饮服务", []string{"举报", "投诉"}, "诸暨市市场监管局", 3,
		[]string{"食品安全"},
		[]string{
			"举报{路}一家早餐店卫生条件差，后厨有老鼠。",
			"反映{镇}菜市场有商贩销售过期食品。",
			"反映{路}一家炸鸡店油烟直排，楼上住户窗户都是油。",
		}},
	{"教育/学校管理/招生入学", []string{"咨询", "投诉"}, "诸暨市教育体育局", 4,
		[]string{"入学咨询", "学校收费"},
		[]string{
			"咨询{镇}小学今年秋季入学的划片范围。",
			"反映{镇}一所幼儿园收费项目不透明，兴趣班费用另收。",
		}},
	{"卫生健康/医疗服务/就医", []string{"投诉", "咨询"}, "诸暨市卫生健康局", 5,
		[]string{"就医问题"},
		[]string{
			"反映在市人民医院排队挂号时间太长，建议增加自助机。",
			"咨询医保异地就医备案如何办理。",
			"反映{镇}卫生院夜间没有值班医生，孩子发烧只能去城里。",
		}},
	{"民政/社会救助/低保养老", []string{"求助", "咨询"}, "诸暨市民政局", 3,
		[]string{"困难救助", "养老服务"},
		[]string{
			"来电人家中老人独居、行动不便，咨询如何申请居家养老服务。",
			"来电人丈夫重病，家庭困难，咨询低保申请条件。",
		}},
	{"公安/治安管理/电信诈骗", []string{"求助", "举报"}, "诸暨市公安局", 3,
		[]string{"被骗求助", "治安问题"},
		[]string{
			"来电人称接到冒充客服的电话被骗{钱}，已报警，询问案件进展。",
			"反映{小区}电动车经常被偷电瓶，希望加强巡逻。",
		}},
	{"农业农村/土地承包/土地流转", []string{"投诉"}, "诸暨市农业农村局", 2,
		[]string{"土地流转租金"},
		[]string{
			"反映{村}土地流转租金已拖欠一年，承包大户联系不上。",
			"{镇}{村}承包地被邻村农户占用耕种，协商无果。",
		}},
	{"城乡建设/征地拆迁/补偿安置", []string{"投诉", "咨询"}, "", 2,
		[]string{"征迁补偿"},
		[]string{
			"反映{村}征地补偿标准与邻村不一致，要求公开补偿明细。",
			"咨询{镇}旧村改造安置房什么时候交付。",
		}},
	{"政法综治/矛盾纠纷/邻里纠纷", []string{"求助"}, "", 2,
		[]string{"邻里纠纷调解"},
		[]string{
			"楼上邻居空调外机对着来电人家窗户，协商多次无果，请社区调解。",
			"{村}两户村民因宅基地边界发生争执，请村里出面调解。",
		}},
	{"其他/其他/其他", []string{"咨询", "表扬"}, "", 4,
		[]string{"政策咨询", "办事咨询"},
		[]string{
			"咨询诸暨市民卡丢失后如何补办。",
			"咨询{镇}便民服务中心周末是否上班。",
			"来电咨询电动自行车上牌需要带哪些材料。",
			"表扬{镇}便民服务中心工作人员服务热情、办事高效。",
		}},
}

// catalogByPath finds a catalog the incidents use.
func catalogByPath(path string) *catalog {
	for _, c := range catalogs {
		if c.path == path {
			return c
		}
	}
	panic("scenario: no catalog " + path)
}

var replies = []string{
	"经核实，已协调相关单位处理完毕，并电话告知来电人。",
	"已联系来电人解释相关政策，来电人表示理解。",
	"已督促责任单位整改，预计近日完成。",
	"相关诉求已纳入计划，待条件成熟后解决，已向来电人说明。",
	"已现场核实并处理，来电人反映的问题已解决。",
}

// lifeKind is how a record's handling goes.
type lifeKind uint8

const (
	lifeNormal   lifeKind = iota // handled in time: answered a day before its deadline
	lifeRejected                 // answered, and the caller says 不满意 / 未解决 at the follow-up call
	lifeOpen                     // dispatched and never finished: overdue in the end
)

// call is a hotline work order to generate.
type call struct {
	at       time.Time
	town     *township
	vil      *village // nil: only the township is known
	region   string   // regionCode as sent; "" to draw one
	address  string
	caller   person
	anon     bool // the caller stays anonymous: no name, maybe no number
	cat      *catalog
	appeal   string
	title    string
	content  string
	urgency  string
	involved any // involvedCount as sent
	amount   int
	life     lifeKind
	deadline time.Duration // after the call; 0: by appeal type and urgency
	extend   time.Duration // lifeOpen: 延期 by this, once
}

// hotline generates a work order and the versions of its life.
func (g *gen) hotline(c call) *rec {
	versioned := g.r.IntN(10) > 0
	clk := g.gateway(versioned)
	c.at = clk.trunc(c.at)
	if c.appeal == "" {
		c.appeal = c.cat.appeals[0]
		if len(c.cat.appeals) > 1 && g.r.IntN(3) == 0 {
			c.appeal = pick(g.r, c.cat.appeals[1:])
		}
	}
	if c.content == "" {
		c.content = g.fill(pick(g.r, c.cat.texts), c.town, g.villageOr(c))
	}
	if c.title == "" && len(c.cat.titles) > 0 && g.r.IntN(3) > 0 {
		c.title = pick(g.r, c.cat.titles)
	}
	if c.urgency == "" {
		c.urgency = []string{"一般", "紧急", "特急"}[weighted(g.r, []float64{90, 8, 2})]
	}
	if c.deadline == 0 {
		days := map[string]int{"咨询": 3, "求助": 5, "投诉": 7, "举报": 7, "建议": 10, "表扬": 3}[c.appeal]
		if c.urgency != "一般" {
			days = 3
		}
		c.deadline = time.Duration(max(days, 3)) * 24 * time.Hour
	}
	unit := c.cat.unit
	if unit == "" {
		unit = c.town.office()
	}
	h := hotline{
		CallTime:    clk.format(c.at),
		Channel:     []string{"电话", "微信", "网站", "App", "领导信箱", "转办"}[weighted(g.r, []float64{70, 10, 8, 7, 2, 3})],
		ContactUser: c.caller.name,
		ContactTel:  g.phone(c.caller),
		AppealType:  c.appeal,
		Catalog:     c.cat.path,
		Title:       c.title,
		Content:     c.content,
		Address:     c.address,
		RegionCode:  c.region,
		Urgency:     c.urgency,
	}
	if h.Address == "" {
		h.Address = g.address(c.town, g.villageOr(c))
	}
	if h.RegionCode == "" {
		h.RegionCode = g.regionCode(c.town, c.vil)
	}
	switch x := g.r.IntN(100); {
	case c.anon && x < 50:
		h.ContactUser, h.ContactTel = "", ""
	case c.anon:
		h.ContactUser = "匿名"
	case x < 4:
		h.ContactUser = string([]rune(h.ContactUser)[:1]) + "**" // masked upstream
	}
	if c.caller.idNo != "" && g.r.IntN(3) == 0 { // callers rarely give it
		h.CallerIDNo = c.caller.idNo
	}
	if h.Channel == "微信" && g.r.IntN(5) == 0 {
		h.Content += pick(g.r, []string{"🙏", "谢谢！", "😔"})
	}
	if c.involved != nil {
		h.InvolvedCount = c.involved
	}
	if c.amount > 0 {
		h.InvolvedAmount = c.amount
	}

	st := g.hotlineStages(c)
	r := &rec{src: risk.SourceHotline, at: c.at, prefix: "ZJSX12345-" + c.at.In(risk.CST).Format("20060102") + "-", width: 5}
	for i, s := range st {
		s.at = clk.trunc(s.at)
		h.Status = s.status
		h.UpdateTime = clk.format(s.at)
		if versioned {
			h.Version = i + 1
		}
		h.Deadline = clk.format(s.deadline)
		if s.status == "派单" {
			h.HandleUnit = unit
			if s.rerouted {
				h.HandleUnit = c.town.office()
			}
		}
		switch s.status {
		case "办结":
			h.FinishTime, h.Reply = clk.format(s.at), pick(g.r, replies)
		case "回访":
			h.Satisfaction, h.Resolved = s.satisfaction, s.resolved
		case "重办":
			h.FinishTime = nil
		}
		r.snaps = append(r.snaps, snap{upd: s.at, val: h})
		r.due = clk.trunc(s.deadline)
	}
	g.add(r)
	return r
}

func (g *gen) villageOr(c call) *village {
	if c.vil != nil {
		return c.vil
	}
	return &c.town.villages[0]
}

// regionCode writes the region as hotline agents and petition offices
// fill it in: mostly the village, often only the township, padded or not,
// sometimes only the county, sometimes nothing (then the address tells).
func (g *gen) regionCode(t *township, v *village) string {
	x := g.r.IntN(100)
	switch {
	case v != nil && x < 70:
		return t.villageCode(v)
	case x < 85:
		return t.code
	case x < 90:
		return t.code + "000"
	case x < 95:
		return ""
	}
	return countyCode
}

func (g *gen) address(t *township, v *village) string {
	switch g.r.IntN(3) {
	case 0:
		return countyName + t.name + v.name
	case 1:
		return countyName + t.name + pick(g.r, roads) + fmt.Sprintf("%d号", 1+g.r.IntN(300))
	}
	return t.name + g.estate(t) + fmt.Sprintf("%d幢", 1+g.r.IntN(30))
}

// stage is one state of a record's life: a version.
type stage struct {
	status       string
	at           time.Time
	deadline     time.Time // in force from this version on; zero: none yet
	satisfaction string
	resolved     string
	rerouted     bool
}

// lastDayShare is the percentage of dispatched work orders answered on their
// last day.
const lastDayShare = 15

// hotlineStages draws the life of a work order: 受理 → 派单 → 签收 →
// 办理中 → 办结 → 回访 → 归档, with 退单 and 重办 now and then; the versions
// after the scenario's end are not published yet. Background is answered
// before its deadline, most a day and an hour before it at the latest, but
// lastDayShare percent of the dispatched background ones on their last day, as real
// hotline centres do: each of those raises a 将到期 reminder, never a
// warning for review, so the warnings in the scenario are the planted ones.
func (g *gen) hotlineStages(c call) []stage {
	r := g.r
	accepted := c.at.Add(between(r, 30*time.Second, 3*time.Minute))
	if c.life == lifeNormal && (c.appeal == "咨询" && r.IntN(100) < 35 || r.IntN(100) < 8) {
		return g.directStages(c.at)
	}
	deadline := c.at.Add(c.deadline)
	mid := []string{"派单"}
	if c.life == lifeNormal && r.IntN(100) < 3 {
		mid = append(mid, "退单", "派单")
	}
	mid = append(mid, "签收")
	if c.life == lifeOpen || r.IntN(100) < 60 {
		mid = append(mid, "办理中")
	}
	if c.life == lifeOpen && c.extend > 0 {
		mid = append(mid, "延期")
	}
	finish := accepted.Add(between(r, time.Hour, deadline.Add(-25*time.Hour).Sub(accepted)))
	if c.life == lifeOpen { // handled until before the (first) deadline, never answered
		finish = earlier(deadline, g.to).Add(-time.Hour)
	} else if g.lastDay != nil && g.lastDay.IntN(100) < lastDayShare {
		finish = deadline.Add(-between(g.lastDay, time.Hour, 23*time.Hour))
	}
	st := []stage{{status: "受理", at: accepted}}
	for i, at := range g.spread(accepted.Add(5*time.Minute), finish, len(mid)) {
		if mid[i] == "延期" {
			deadline = deadline.Add(c.extend)
		}
		st = append(st, stage{status: mid[i], at: at, deadline: deadline, rerouted: mid[i] == "派单" && i > 0})
	}
	if c.life == lifeOpen {
		return g.cut(st)
	}
	t := later(finish, st[len(st)-1].at.Add(time.Minute))
	st = append(st, stage{status: "办结", at: t, deadline: deadline})
	next := func(status string, lo, hi time.Duration) {
		t = t.Add(between(r, lo, hi))
		st = append(st, stage{status: status, at: t, deadline: deadline})
	}
	sat, res := pick(r, []string{"满意", "满意", "满意", "基本满意"}), "已解决"
	rejected := c.life == lifeRejected || r.IntN(100) < 5
	if rejected {
		sat, res = "不满意", "未解决"
	}
	if r.IntN(100) < 85 || rejected {
		next("回访", 4*time.Hour, 48*time.Hour)
		st[len(st)-1].satisfaction, st[len(st)-1].resolved = sat, res
	}
	if rejected && c.life == lifeNormal {
		// The centre reopens it (重办) and answers again, in time.
		next("重办", 2*time.Hour, 20*time.Hour)
		deadline = t.Add(5 * 24 * time.Hour)
		st[len(st)-1].deadline = deadline
		next("签收", 30*time.Minute, 12*time.Hour)
		next("办结", 12*time.Hour, 60*time.Hour)
		next("回访", 4*time.Hour, 24*time.Hour)
		st[len(st)-1].satisfaction, st[len(st)-1].resolved = "基本满意", "已解决"
	}
	if r.IntN(100) < 70 {
		next("归档", 24*time.Hour, 72*time.Hour)
	}
	return g.cut(st)
}

// spread draws n times in order in (lo, hi), a minute apart at least: a
// record without version is ordered by its updateTime alone.
func (g *gen) spread(lo, hi time.Time, n int) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = lo.Add(between(g.r, 0, hi.Sub(lo)))
	}
	slices.SortFunc(ts, time.Time.Compare)
	for i := 1; i < n; i++ {
		ts[i] = later(ts[i], ts[i-1].Add(time.Minute))
	}
	return ts
}

// directStages is a call the agent answers on the line (直办).
func (g *gen) directStages(at time.Time) []stage {
	t := at.Add(between(g.r, 30*time.Second, 3*time.Minute))
	st := []stage{{status: "受理", at: t}}
	t = t.Add(between(g.r, 3*time.Minute, 40*time.Minute))
	st = append(st, stage{status: "办结", at: t})
	if g.r.IntN(3) == 0 {
		t = t.Add(between(g.r, 4*time.Hour, 48*time.Hour))
		st = append(st, stage{status: "回访", at: t, satisfaction: "满意", resolved: "已解决"})
	}
	return g.cut(st)
}

// cut drops the versions published after the scenario's end; the first
// always stays.
func (g *gen) cut(st []stage) []stage {
	n := 1
	for n < len(st) && st[n].at.Before(g.to) {
		n++
	}
	return st[:n]
}
