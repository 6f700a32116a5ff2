package intent

import (
	"slices"
	"strings"
	"testing"
)

func newDefault(t testing.TB) *Lexicon {
	t.Helper()
	l, err := New(DefaultConfig())
	if err != nil {
		t.Fatalf("New(DefaultConfig()): %v", err)
	}
	return l
}

// summary renders matches as "class:term" for comparison.
func summary(ms []Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Class) + ":" + m.Term
	}
	return out
}

// positives are written as the feeds write them: hotline transcriptions
// (来电人反映/称…), petition facts and grid reports. want lists every match,
// in order, as "class:term".
var positives = []struct {
	name, text string
	want       []string
}{
	// The contract examples.
	{"contract hotline", "又打来了，还是枫桥那个安置房工地的工资问题，上次说派单了到现在没人管，再不给钱我们就去北京上访！",
		[]string{"going_up:去北京上访"}},
	{"contract grid", "安置房工地十余名工人聚集在工地门口讨要工资，情绪激动，扬言要去堵镇政府大门。已现场劝导并报镇综治中心。",
		[]string{"gathering:聚集", "blockade:堵*大门"}},
	{"contract petition", "诸暨枫桥安置房工地欠薪问题在县里反映后仍未解决，到省里上访。",
		[]string{"going_up:到省里上访"}},

	{"roof", "来电人反映其在某厂工作被拖欠工资三个月，多次讨要无果，称再不解决就从厂房楼顶跳下去。", []string{"self_harm:从*楼顶跳"}},
	{"pesticide", "来电人称其丈夫因拆迁补偿问题情绪激动，扬言要喝农药，请求相关部门尽快处理。", []string{"self_harm:喝农药"}},
	{"quoted threat", "来电人反映被公司辞退后一直拿不到赔偿，说要跳楼。", []string{"self_harm:跳楼"}},
	{"perish together", "来电人称：老板再不给钱，我就跟他同归于尽。", []string{"violence:同归于尽"}},
	{"whole family", "来电人反映邻居多次辱骂其家人，扬言要杀了他全家，担心人身安全。", []string{"violence:杀了他全家"}},
	{"highway", "工人们表示如果本月底前还拿不到工资，就去堵高速路口。", []string{"blockade:堵高速"}},
	{"banner", "村民因征地补偿款未到位，在村口拉横幅，要求镇政府给个说法。", []string{"banner:拉横幅"}},
	{"placards and sit-in", "十余名业主举着牌子在售楼处门口静坐，要求开发商按期交房。", []string{"banner:举*牌子", "gathering:静坐"}},
	{"to Beijing", "来电人反映其母亲因土地纠纷长期上访未果，近日称要进京上访。", []string{"going_up:进京上访"}},
	{"skip level", "信访人表示问题在县里得不到解决，准备越级到省里反映。", []string{"going_up:越级", "going_up:到省里"}},
	{"revenge", "来电人称被物业公司殴打，扬言要报复他们。", []string{"violence:扬言*报复"}},
	{"death as pressure", "来电人反映拆迁办强拆其房屋，称走投无路只能以死相逼。", []string{"self_harm:以死相逼"}},
	{"grid: low mood", "网格员走访发现，该户男子因离婚纠纷情绪低落，多次流露出轻生念头。", []string{"self_harm:轻生"}},
	{"on the roof", "来电人称其儿子被欠薪后想不开，站在楼顶要跳楼，现场已报警。", []string{"self_harm:想不开", "self_harm:跳楼"}},
	{"arson", "来电人反映工友讨薪无果，拿着汽油瓶扬言要放火烧了老板的厂房。", []string{"violence:放火"}},
	{"knife", "来电人称拖欠工程款的老板躲着不见，再这样下去他就拿刀去砍人。", []string{"violence:拿刀*砍"}},
	{"collective petition", "征迁户对补偿标准不满，组织二十余名村民到镇政府集体上访。", []string{"gathering:集体上访"}},
	{"collectively demand", "来电人反映小区业主因房屋质量问题准备明天集体去售楼处讨说法。", []string{"gathering:集体*讨"}},
	{"gate", "工人称若周五前拿不到工资将把工地大门堵了。", []string{"blockade:把*大门*堵"}},
	{"obstruct works", "村民为阻止垃圾中转站建设，在施工现场阻工，与施工人员发生推搡。", []string{"blockade:阻工"}},
	{"stop vehicles", "十余名货车司机在国道上拦截过往车辆，抗议治超执法。", []string{"blockade:拦*车辆"}},
	{"blood letter", "来电人称开发商欠款不还，他已经写好血书，准备去市政府门口下跪。", []string{"banner:血书"}},
	{"petition to Beijing", "信访人反映其曾多次赴京上访，要求解决其子死亡赔偿问题。", []string{"going_up:赴京上访"}},
	{"sue upward", "来电人情绪激动，表示这件事要告到中央。", []string{"going_up:告到中央"}},
	{"cue after place", "来电人反映其父亲被村干部打伤，扬言要去北京找国家信访局反映。", []string{"going_up:去北京", "going_up:国家信访局"}},
	{"grid: gathering", "网格员上报：某村部分村民因山林权属纠纷聚集在村委会门口，情绪激动。", []string{"gathering:聚集"}},
	{"cannot live", "来电人称其被公司开除后活不下去了，想一死了之。", []string{"self_harm:活不下去", "self_harm:一死了之"}},
	{"beat to death", "来电人反映丈夫长期家暴，昨晚喝醉后扬言要打死她。", []string{"violence:打死她"}},
	{"set fire", "来电人称物业强行停水停电，再不恢复就到物业公司放火。", []string{"violence:放火"}},
	{"video", "来电人反映，其弟弟因债务问题在微信朋友圈发布自杀视频，家属联系不上。", []string{"self_harm:自杀"}},
	{"streamer", "工友群里有人说明天大家一起去县政府门口拉条幅讨薪。", []string{"banner:拉条幅"}},
	{"Tiananmen", "来电人称如果不给处理，他就去天安门上访。", []string{"going_up:去天安门"}},
	{"surround", "来电人称老板跑路，二十多名工人现在围住了项目部，要求给个说法。", []string{"gathering:围住"}},
	{"river", "来电人反映自己被骗光积蓄，现在站在大桥上准备跳河。", []string{"self_harm:跳河"}},
	{"block the road", "来电人称如果今天还不处理，他们就开车把路堵了。", []string{"blockade:把路堵了"}},
	{"placard and slogans", "网格员巡查发现有人在镇政府门口举牌喊口号，已劝离。", []string{"banner:举牌", "banner:喊口号"}},
	{"fight it out", "来电人称被打伤后对方不赔钱，他要跟他们拼了。", []string{"violence:跟他们拼了"}},
	{"link up", "信访人称如再得不到解决将串联其他被征迁户一起上访。", []string{"gathering:串联"}},
	{"provincial capital", "来电人称走投无路，只能去省城上访。", []string{"going_up:去省城上访"}},
	{"stab", "来电人反映其侄子被人捅伤，对方扬言还要捅死他。", []string{"violence:捅死"}},
	{"ask for justice in Beijing", "来电人称他们准备到北京讨个说法。", []string{"going_up:到北京"}},
	{"dissuasion tells of a threat", "民警赶到现场劝其不要跳楼，目前情绪已稳定。", []string{"self_harm:跳楼"}},
	{"do not want to live", "来电人称其子因学校处理不公，说不想活了。", []string{"self_harm:不想活了"}},
	{"besiege", "来电人称一群人拿着棍棒围攻其家人。", []string{"gathering:围攻"}},
	{"banner for rights", "业主们计划周末在小区门口打横幅维权。", []string{"banner:打横幅"}},
	{"grid: veterans", "网格员获悉，明天上午将有五十余名退役人员到区政府聚集。", []string{"gathering:聚集"}},
	{"petrol", "来电人称开发商不退房款，准备去售楼处泼汽油。", []string{"violence:泼汽油"}},
	{"exact phrase over gap", "来电人反映其父亲被村干部打了，扬言要拿刀捅了他。", []string{"violence:捅了他"}},
	{"sit-in", "来电人反映因补偿问题，全村村民已经在镇政府门口静坐了两天。", []string{"gathering:静坐"}},
	{"jump down", "来电人反映其妻子多次讨要未果，昨天在镇政府三楼窗口要往下跳，被工作人员拉住。", []string{"self_harm:往下跳"}},
	{"kill the other party", "来电人称对方欠钱不还还打人，他咽不下这口气，准备弄死对方。", []string{"violence:弄死对方"}},
	{"stop their cars", "来电人反映驾校拒不退费，学员们准备明天拦住驾校的车不让走。", []string{"blockade:拦住*车"}},
	{"go to Beijing to petition", "信访人称如果这次还不给解决，就到北京去上访。", []string{"going_up:到北京"}},
	{"self-immolation", "来电人称拆迁组再来强拆，他就往身上浇汽油自焚。", []string{"self_harm:身上浇汽油", "self_harm:自焚"}},

	// Text as it arrives: spaces, full-width letters, decoration, emoji.
	{"spaced", "来电人称再不处理就 跳 楼！", []string{"self_harm:跳楼"}},
	{"full-width space", "来电人称再不处理就跳　楼！", []string{"self_harm:跳楼"}},
	{"full-width letters", "来电人称ＸＸ公司拖欠工资，工人准备明天堵门。", []string{"blockade:堵门"}},
	{"quoted", "来电人称他说“我要跳楼”。", []string{"self_harm:跳楼"}},
	{"emoji", "网友留言：再不还钱就去北京😡上访", []string{"going_up:去北京上访"}},
	{"dotted", "来电人称要去堵·路", []string{"blockade:堵路"}},
}

// traps are everyday uses of the same words; none may fire.
var traps = []struct{ name, text string }{
	{"price", "来电人反映某商场门口挂着跳楼价甩卖的牌子，怀疑虚假宣传。"},
	{"clearance", "来电人反映某服装店常年打出跳楼大甩卖的广告，实际价格并不便宜。"},
	{"clearance crowd", "某家电卖场搞跳楼甩卖活动，人员聚集排队，存在疫情防控隐患。"},
	{"clearance price", "来电人反映网店标榜跳楼清仓，实际是先涨价后降价。"},
	{"ride", "来电人反映某游乐场跳楼机存在安全隐患。"},
	{"Beijing road", "来电人到北京路菜场投诉缺斤少两。"},
	{"Beijing duck", "来电人称要去北京烤鸭店投诉其服务态度。"},
	{"Beijing market", "来电人到北京市场反映摊位费上涨问题。"},
	{"Beijing shop", "来电人反映去北京华联超市购物被多收钱，要求投诉该超市。"},
	{"Beijing time", "来电人咨询网上办理按北京时间几点开放，到北京时间九点反映系统仍打不开。"},
	{"business trip", "来电人下周要去北京出差，咨询健康码互认问题。"},
	{"business trip and complaint", "来电人称其丈夫去北京出差回来后向单位反映报销问题被拒。"},
	{"trip then complaint", "来电人反映其子去北京出差期间单位未报销差旅费，要求向人社局反映。"},
	{"hospital", "来电人到省城医院投诉医生态度差。"},
	{"central air conditioning", "来电人反映家里空调维修后仍不制冷，到中央空调售后投诉无果。"},
	{"JD", "来电人反映在京东购物被骗，想去京东投诉。"},
	{"suicidal price cut", "来电人称某电商平台商家进行自杀式降价，扰乱市场秩序。"},
	{"suicidal marketing", "来电人反映某培训机构自杀式营销，预收大量学费后可能跑路。"},
	{"fried chicken", "来电人反映小区门口炸鸡店油烟扰民。"},
	{"noodles", "来电人反映某炸酱面馆卫生条件差。"},
	{"skewers", "来电人反映夜市炸串摊占道经营，堵塞消防通道。"},
	{"explosive news", "来电人称看到一条爆炸性新闻，要求核实。"},
	{"bargaining", "来电人反映商户杀价太狠，在拼多多砍价活动中被骗。"},
	{"school gate traffic", "来电人反映早高峰车辆堵在校门口，影响学生通行。"},
	{"congestion", "来电人反映人民路交通拥堵，上班路上堵车，到县政府晚了。"},
	{"parking at the gate", "来电人反映小区南门经常有车辆堵门，影响出行。"},
	{"banner ad", "来电人反映某广告公司在小区门口挂横幅广告，影响市容。"},
	{"publicity banner", "村委会在路口挂起宣传横幅，提醒村民戴口罩。"},
	{"will not jump", "来电人称其情绪稳定，不会跳楼，只是希望尽快拿到工资。"},
	{"no intent", "来电人表示自己没有要自杀的意思，只是气话。"},
	{"will not go to Beijing", "来电人表示只要问题能解决，不会去北京上访。"},
	{"does not want to", "来电人说不想去北京上访，只想要回血汗钱。"},
	{"not going", "来电人表示不去北京上访了，相信政府能解决。"},
	{"no tendency", "来电人称自己抑郁症已好转，没有自杀倾向，要求撤销社区的重点关注。"},
	{"grid: none found", "网格员核查后确认该户未发现人员聚集。"},
	{"epidemic ban", "来电人称疫情期间小区禁止人员聚集，但物业仍在活动室组织业主打麻将。"},
	{"mahjong", "网格员巡查发现某棋牌室人员聚集打麻将，已劝散。"},
	{"advice", "网格员劝导村民不要聚集，做好个人防护。"},
	{"shoppers", "来电人反映商场举办促销活动，门口聚集了大量顾客。"},
	{"discussion", "经村两委集体讨论，决定将补偿款按人头分配。"},
	{"staff", "社区组织人员对辖区返乡人员进行排查。"},
	{"ceiling", "来电人反映楼上吊顶漏水。"},
	{"drunk", "来电人反映某KTV门口经常有醉酒人员闹事。"},
	{"tree", "来电人反映邻居砍了他家的树，要求调解。"},
	{"straw burning", "来电人反映村里有人放火烧秸秆，烟雾很大。"},
	{"roadworks", "来电人反映施工单位因道路施工封路，未提前公告。"},
	{"epidemic checkpoint", "来电人反映疫情期间村口封路设卡，老人就医不便。"},
	{"checkpoint", "来电人反映卡口工作人员拦截外地车辆，要求出示健康码。"},
	{"shop cannot survive", "来电人称疫情期间小店活不下去了，咨询房租减免政策。"},
	{"swimming", "来电人反映暑假经常有小孩跳水库游泳，存在安全隐患。"},
	{"rescuer", "来电人要求表彰跳河救人的村民。"},
	{"electric", "来电人咨询中央空调和串联电路的维修费用。"},
	{"visitors", "来电人反映小区门口“非访客车辆禁止入内”的规定不合理。"},
	{"price dive", "来电人反映某楼盘广告称价格跳水，实际没有优惠。"},
	{"plumbing", "来电人反映所住小区下水道经常堵，物业不处理。"},
	{"game", "来电人反映某游戏厅有未成年人玩杀人游戏。"},
	{"stop petitioning", "来电人表示问题已解决，不再上访。"},
	{"sees a doctor in Beijing", "来电人反映其父母去北京看病后向医保局反映报销比例低。"},
}

func TestFindPositives(t *testing.T) {
	l := newDefault(t)
	for _, tt := range positives {
		t.Run(tt.name, func(t *testing.T) {
			if got := summary(l.Find(tt.text)); !slices.Equal(got, tt.want) {
				t.Errorf("Find(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestFindTraps(t *testing.T) {
	l := newDefault(t)
	for _, tt := range traps {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Find(tt.text); len(got) != 0 {
				t.Errorf("Find(%q) = %q, want none", tt.text, summary(got))
			}
		})
	}
}

func TestFindMatch(t *testing.T) {
	l := newDefault(t)
	tests := []struct {
		name, text string
		want       []Match
	}{
		{"offsets", "说要跳楼", []Match{{SelfHarm, "跳楼", 6, 12, 3}}},
		{"spaces inside stay inside", "要跳 楼。", []Match{{SelfHarm, "跳楼", 3, 10, 3}}},
		{"gap", "堵了县政府", []Match{{Blockade, "堵*政府", 0, 15, 2}}},
		{"classes overlap", "集体到省里上访", []Match{
			{Gathering, "集体*上访", 0, 21, 1},
			{GoingUp, "到省里上访", 6, 21, 2},
		}},
		{"severities", "拉横幅堵路跳河", []Match{
			{Banner, "拉横幅", 0, 9, 1},
			{Blockade, "堵路", 9, 15, 2},
			{SelfHarm, "跳河", 15, 21, 3},
		}},
		{"empty", "", nil},
		{"invalid UTF-8 is a boundary", "跳\xff楼", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.Find(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Find(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

// Negations deny intent only right before the term; a conditional or a
// dissuasion does not.
func TestFindNegation(t *testing.T) {
	l := newDefault(t)
	tests := []struct {
		text string
		want bool // fires
	}{
		{"不会跳楼", false},
		{"没有要自杀", false},
		{"从没想过要自杀", false},
		{"不会再去北京上访", false},
		{"没跳楼", false},
		{"无自杀倾向", false},
		{"否认有自杀想法", false},
		{"说要跳楼", true},
		{"再不解决就去北京上访", true},
		{"没拿到钱就跳楼", true},
		{"没有人管要跳楼", true},
		{"不会，他要跳楼", true},
		{"劝他不要跳楼", true},
		{"走投无路要跳楼", true},
		{"没有办法只能跳楼", true},
	}
	for _, tt := range tests {
		if got := len(l.Find(tt.text)) > 0; got != tt.want {
			t.Errorf("Find(%q) fires = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestSeverity(t *testing.T) {
	want := map[Class]int{SelfHarm: 3, Violence: 3, Blockade: 2, GoingUp: 2, Banner: 1, Gathering: 1, "riot": 0}
	for c, w := range want {
		if got := c.Severity(); got != w {
			t.Errorf("%s.Severity() = %d, want %d", c, got, w)
		}
	}
}

// TestFindLong checks a text of several thousand characters: matches far
// apart, offsets still right.
func TestFindLong(t *testing.T) {
	l := newDefault(t)
	filler := strings.Repeat("来电人反映小区物业服务差，", 300)
	text := filler + "扬言要跳楼" + filler + "准备去北京上访"
	got := l.Find(text)
	want := []string{"self_harm:跳楼", "going_up:去北京上访"}
	if !slices.Equal(summary(got), want) {
		t.Fatalf("Find = %q, want %q", summary(got), want)
	}
	for _, m := range got {
		if s := text[m.Start:m.End]; s != strings.ReplaceAll(m.Term, "*", "") {
			t.Errorf("text[%d:%d] = %q, want %q", m.Start, m.End, s, m.Term)
		}
	}
}

// benchText is a 500-character hotline work order with one threat, a few
// near misses (北京路, 堵车, 来电人反映) and many lexicon characters.
var benchText = func() string {
	s := "来电人反映其在诸暨市枫桥镇XX村安置房项目工地务工，包工头拖欠8名工人2019年下半年工资共计约16万元，" +
		"春节前承诺发放至今未兑现。来电人称其多次到镇政府和劳动监察大队反映，工作人员表示已派单，但至今没有任何答复。" +
		"工人们住在工地旁的板房里，每天上下班高峰北京路一带堵车严重，去工地要一个多小时。" +
		"来电人称家里老人生病住院需要用钱，孩子下学期的学费也没有着落，工友们情绪激动，" +
		"有人说再不给钱就去北京上访，也有人说要到县政府门口讨说法。来电人要求相关部门尽快督促包工头和开发商支付拖欠工资，" +
		"并表示如果本周内仍不解决，将组织工友集体到县信访局反映。来电人同时反映工地存在安全隐患，脚手架未按规定搭设，" +
		"工人未配备安全帽，夜间施工噪音扰民，周边居民多次投诉。请相关部门核实处理并回复来电人。"
	for len([]rune(s)) < 500 {
		s += "来电人再次强调希望尽快处理，不要让问题扩大。"
	}
	return string([]rune(s)[:500])
}()

func BenchmarkFind(b *testing.B) {
	l := newDefault(b)
	if len(l.Find(benchText)) == 0 {
		b.Fatal("benchmark text has no match")
	}
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		l.Find(benchText)
	}
}

func BenchmarkFindNoMatch(b *testing.B) {
	l := newDefault(b)
	text := strings.Repeat("来电人反映小区物业服务差，多次向物业公司反映无果，要求相关部门督促整改。", 14)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		l.Find(text)
	}
}

// Gambling and fighting rings are police matters, not gatherings of
// petitioners (the demo scenario's grid reports showed it).
func TestPoliceMattersAreNotGatherings(t *testing.T) {
	lex, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"巡查发现某出租屋内有人聚众赌博，已报派出所。", "有人聚众打牌至深夜，噪音扰民。"} {
		if m := lex.Find(text); len(m) != 0 {
			t.Errorf("%s: got %+v, want no match", text, m)
		}
	}
}
