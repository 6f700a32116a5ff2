package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// county is 诸暨市: its code and the townships that carry traffic, the four
// the contracts name first. Codes beyond those four, and every village and
// community, are plausible but invented (GB/T 2260 style: villages 2xx,
// communities 0xx under their township).
const (
	countyCode = "330681"
	countyName = "诸暨市"
	cityCode   = "330600"
)

type township struct {
	code, name string
	weight     float64 // share of the county's traffic, by population
	street     bool    // 街道 (urban) rather than 镇
	villages   []village
}

type village struct {
	code, name string
	grids      int // 网格 of the village, numbered 01…
}

var townships = []township{
	{"330681109", "枫桥镇", 8, false, []village{{"201", "枫源村", 4}, {"202", "骆家尖村", 3}, {"203", "栎桥村", 3}, {"204", "杜黄新村", 4}, {"205", "新枫村", 3}}},
	{"330681001", "暨阳街道", 16, true, []village{{"001", "东二社区", 6}, {"002", "西施社区", 5}, {"003", "大桥社区", 5}, {"004", "城西社区", 4}, {"201", "金鸡山村", 3}}},
	{"330681003", "陶朱街道", 14, true, []village{{"001", "三都社区", 5}, {"002", "五一社区", 5}, {"003", "祥生社区", 4}, {"201", "千秋村", 3}}},
	{"330681104", "店口镇", 10, false, []village{{"001", "解放路社区", 4}, {"201", "湄池村", 3}, {"202", "店口村", 4}, {"203", "阮家埠村", 3}, {"204", "侠父村", 3}}},
	{"330681002", "浣东街道", 12, true, []village{{"001", "浣纱社区", 5}, {"002", "苎萝社区", 4}, {"003", "东旺社区", 4}, {"201", "新桥村", 3}}},
	{"330681004", "大唐街道", 9, true, []village{{"001", "永福社区", 4}, {"201", "大唐村", 4}, {"202", "草塔村", 3}, {"203", "柱峰村", 3}}},
	{"330681102", "牌头镇", 7, false, []village{{"201", "牌头村", 4}, {"202", "同山村", 3}, {"203", "新华村", 3}}},
	{"330681106", "次坞镇", 6, false, []village{{"201", "次坞村", 3}, {"202", "大院里村", 3}, {"203", "溪埭村", 3}}},
	{"330681110", "璜山镇", 5, false, []village{{"201", "璜山村", 3}, {"202", "桥头村", 3}, {"203", "建新村", 3}}},
	{"330681112", "五泄镇", 4, false, []village{{"201", "五泄村", 3}, {"202", "十四都村", 3}, {"203", "青口村", 3}}},
}

func (t *township) villageCode(v *village) string { return t.code + v.code }

// Each township has its own estates and firms: 诸暨 has hundreds of
// estates and thousands of firms, and a handful shared county-wide would
// make every name a crowd. Names are made from two lists, so that no two
// townships share one.
const estatesPerTown, firmsPerTown = 20, 60

func (t *township) index() int {
	for i := range townships {
		if townships[i].code == t.code {
			return i
		}
	}
	panic("scenario: unknown township " + t.code)
}

// estate is one of the township's estates, by name.
func (g *gen) estate(t *township) string {
	i := t.index()*estatesPerTown + g.r.IntN(estatesPerTown)
	return estateNames[i%len(estateNames)] + estateKinds[(i/len(estateNames)+i)%len(estateKinds)]
}

// firm is the full name of one of the township's firms, drawn by size:
// firms' sizes follow a heavy tail (Zipf), so the few big employers of a
// township, with thousands of workers, are named in most of its calls
// about firms, week after week, and the workshops seldom. The firm of rank
// r is drawn with weight 1/(r+1): the biggest of 60 is a fifth of them.
func (g *gen) firm(t *township) string {
	return g.firmNamed(t, weighted(g.r, firmSizes[:]))
}

// smallFirm is one of the township's smaller half of firms, drawn evenly: a
// firm seldom named, whose workers' calls stand out.
func (g *gen) smallFirm(t *township) string {
	return g.firmNamed(t, firmsPerTown/2+g.r.IntN(firmsPerTown/2))
}

// firmNamed is the firm of rank r of the township: region + trade name +
// industry + legal form, the same name every time it is drawn.
func (g *gen) firmNamed(t *township, r int) string {
	i := t.index()*firmsPerTown + r
	a, b := []rune(firmNames[i%len(firmNames)]), []rune(firmNames[(i/len(firmNames)*7+i/3)%len(firmNames)])
	return countyName + string(a[0]) + string(b[1]) + trades[(i*5+i/len(trades))%len(trades)] + "有限公司"
}

// firmSizes are the firms' weights by rank.
var firmSizes = func() (ws [firmsPerTown]float64) {
	for r := range ws {
		ws[r] = 1 / float64(r+1)
	}
	return ws
}()

// office is the township's own handling unit.
func (t *township) office() string {
	if t.street {
		return t.name + "办事处"
	}
	return t.name + "人民政府"
}

// Names, roads, estates and companies the texts are made of.
var (
	surnames = []rune("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文骆楼宣斯")
	given    = []rune("建国军华平明强伟芳娟敏静丽英梅兰红霞秀云海涛波斌刚勇杰峰磊鹏飞燕萍玲琴洁婷雪慧淑珍宝根林水土金荣发福春夏秋冬宏志新民立德信忠")
	roads    = []string{"望云路", "艮塔路", "浣东路", "暨东路", "苎萝路", "西施大街", "东二路", "江东路", "城东路", "滨江路", "大桥路", "永昌路"}
	// A county has hundreds of estates and firms, each in its township: a
	// handful shared county-wide would make every name a crowd.
	estateNames = []string{"金色", "东方", "浣纱", "江南", "翡翠", "暨阳", "城东", "阳光", "耀江", "新城", "九里", "锦绣",
		"紫荆", "香樟", "绿城", "滨江", "望云", "天鹅", "凤凰", "御景", "枫林", "桃源", "清风", "明月", "龙湖", "世纪",
		"春江", "碧水", "金桥", "白塔", "苎萝", "丹桂", "海棠", "玉兰", "翠湖", "银湖", "星河", "富春", "湖畔", "书香",
		"嘉禾", "红枫", "青松", "瑞丰", "华府", "盛世", "永安", "康乐", "和美", "怡景", "天元", "宝石", "景湖", "锦江",
		"东湖", "西湖", "南苑", "北辰", "朝阳", "晨曦"}
	estateKinds = []string{"家园", "花园", "名府", "新苑", "水岸", "国际", "御园", "香堤", "小区", "华庭", "公寓", "城"}
	firmNames   = []string{"兴达", "华越", "恒丰", "鑫源", "海亮", "盾安", "永利", "天马", "利丰", "宏昌", "金诚", "博远",
		"振华", "东升", "万和", "新力", "裕隆", "德盛", "长虹", "金鹰", "龙腾", "凯达", "顺发", "荣昌", "宏达", "鸿运",
		"中天", "精工", "力源", "群星", "美达", "春晖", "大洋", "环宇", "瑞达", "永兴", "汇丰", "明珠", "嘉利", "华鑫",
		"伟业", "正泰", "盛达", "利民", "新亚", "开元", "泰安", "恒通", "金马", "长城", "红星", "银河", "百川", "福达",
		"天成", "富源", "协和", "光明", "国泰", "大丰", "安达", "宝丰", "信达", "远大", "立新", "通达", "华丰", "昌盛",
		"金鼎", "华美", "永盛", "祥和", "合力", "海天", "中兴", "天宇", "新星", "鼎盛", "金龙", "友谊"}
	trades = []string{"针织", "袜业", "五金", "铜业", "建材", "纺织", "汽配", "印染"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn with the given weights.
func weighted(r *rand.Rand, ws []float64) int {
	sum := 0.0
	for _, w := range ws {
		sum += w
	}
	x := r.Float64() * sum
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return len(ws) - 1
}

// poisson draws a count with mean lambda (Knuth; the hourly means here are
// small).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 50 { // normal approximation; never reached at county volumes
		return max(0, int(lambda+r.NormFloat64()*math.Sqrt(lambda)+0.5))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// between returns a duration in [lo, hi), whole seconds.
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return (lo + time.Duration(r.Int64N(int64(hi-lo)))).Truncate(time.Second)
}

// person is someone who calls, petitions or is a party to a grid report,
// with personal data in clear as upstream sends it.
type person struct {
	name  string
	phone string // digits: an 11-digit mobile or a 0575 landline; "" none
	idNo  string // 18-character resident ID; "" unknown
}

// newPerson makes someone no one else in the scenario is: background
// callers never link by accident, so every link the detectors find was
// planted (or is a false one).
func (g *gen) newPerson(withID bool) person {
	p := person{name: g.name()}
	// A number already taken is drawn again from a stream of its own: how
	// many the background took must not move what is planted after it.
	r := g.r
	for p.phone == "" || g.used[p.phone] {
		if p.phone != "" {
			r = g.aside
		}
		if r.IntN(10) == 0 {
			p.phone = fmt.Sprintf("057587%06d", r.IntN(1_000_000))
		} else {
			p.phone = pick(r, []string{"130", "133", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "177", "180", "181", "187", "188", "189", "199"}) + fmt.Sprintf("%08d", r.IntN(100_000_000))
		}
	}
	g.used[p.phone] = true
	if withID {
		r = g.r
		for p.idNo == "" || g.used[p.idNo] {
			if p.idNo != "" {
				r = g.aside
			}
			birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(52*365))
			body := countyCode + birth.Format("20060102") + fmt.Sprintf("%03d", r.IntN(1000))
			p.idNo = body + string(idCheck(body))
		}
		g.used[p.idNo] = true
	}
	return p
}

func (g *gen) name() string {
	n := string(pick(g.r, surnames)) + string(pick(g.r, given))
	if g.r.IntN(3) > 0 {
		n += string(pick(g.r, given))
	}
	return n
}

// idCheck is the GB 11643 check character of 17 digits: without a valid
// one, normalize cannot key the ID and the person would not link.
func idCheck(d string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(d[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// phone writes a number as one of the formats upstream sends
// (contracts/README.md), so that linking must normalise.
func (g *gen) phone(p person) string {
	d := p.phone
	if d == "" {
		return ""
	}
	if d[0] == '0' { // landline
		switch g.r.IntN(3) {
		case 0:
			return d[:4] + "-" + d[4:]
		case 1:
			return "(" + d[:4] + ")" + d[4:]
		}
		return d
	}
	switch x := g.r.IntN(20); {
	case x < 3:
		return d[:3] + " " + d[3:7] + " " + d[7:]
	case x < 5:
		return "+86-" + d[:3] + "-" + d[3:7] + "-" + d[7:]
	case x < 6:
		return fullWidth(d)
	}
	return d
}

func fullWidth(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			c += '０' - '0'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fill replaces the {slots} of a template with things of the place.
func (g *gen) fill(tmpl string, t *township, v *village) string {
	return g.filler(t, v, g.firm(t), g.estate(t)).Replace(tmpl)
}

func (g *gen) filler(t *township, v *village, firm, estate string) *strings.Replacer {
	if v == nil {
		v = g.anyVillage(t)
	}
	return strings.NewReplacer(
		"{镇}", t.name, "{村}", v.name, "{公司}", firm, "{小区}", estate,
		"{路}", pick(g.r, roads), "{行业}", pick(g.r, trades),
		"{n}", fmt.Sprint(2+g.r.IntN(5)), "{月}", fmt.Sprint(2+g.r.IntN(6)),
		"{钱}", fmt.Sprintf("%d万元", 1+g.r.IntN(30)),
	)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
