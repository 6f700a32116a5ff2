// Package subject finds what a complaint is about — an employer, an estate,
// a building project, a village's land — and names it by a normalised key,
// so that differently worded records about one subject meet: "诸暨市兴达针织
// 有限公司拖欠工资" and "我老公在兴达针织厂做挡车工" both give "firm:兴达".
//
// Chinese has no spaces: a name is found by its suffix (有限公司, 小区, 项目
// …) and runs back to the nearest boundary — punctuation, a place word (市,
// 镇, 村), or a word that ends a clause (反映, 在, 的). Enterprise names are
// region + trade name + industry + legal form (行政区划+字号+行业+组织形式):
// the key keeps the trade name only, which is what people say. Estate
// suffixes are common words (城, 园, 府), so they count only where the text
// goes on about owners, property management or buildings.
//
// It is a pure function of the text, cheap enough for the ingestion path.
package subject

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key prefixes, stored in ClickHouse: never rename them.
const (
	Firm    = "firm:"    // an employer or company, by its trade name
	Estate  = "estate:"  // a residential estate (小区)
	Project = "project:" // a construction project or site
	Land    = "land:"    // the land of a village, by its 12-digit code
)

// MaxKeys bounds the keys of one record.
const MaxKeys = 8

// Extract returns the sorted, distinct subject keys of a record: the names in
// its texts, and the village's land when the record is about land. township
// and village are the record's 9- and 12-digit region codes, "" when unknown:
// an unnamed project (安置房工地) is known by its township.
func Extract(township, village string, texts ...string) []string {
	var keys []string
	land := false
	for _, t := range texts {
		var l bool
		keys, l = scan(keys, township, t)
		land = land || l
	}
	if land && village != "" {
		keys = append(keys, Land+village)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) > MaxKeys {
		keys = keys[:MaxKeys]
	}
	return keys
}

// landWords make a record about its village's land.
var landWords = []string{"征地", "土地", "山林", "宅基地", "承包地", "拆迁", "征收"}

type kind struct {
	prefix   string
	suffixes []string // longest first where one ends another
	keep     bool     // the suffix is part of the name (金色家园), not a legal form
	context  bool     // needs estate context after the name
}

var (
	firm = &kind{prefix: Firm, suffixes: []string{
		"股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "合作社", "工厂", "厂"}}
	// Estates named 小区, 新村 or 公寓 need no context; the rest do.
	estateSure = &kind{prefix: Estate, keep: true, suffixes: []string{"小区", "新村", "公寓"}}
	estate     = &kind{prefix: Estate, keep: true, context: true, suffixes: []string{
		"花园", "家园", "嘉园", "豪园", "御园", "新苑", "花苑", "名苑", "名府", "华府", "华庭", "名都",
		"水岸", "香堤", "国际", "山庄", "庄园", "公馆", "雅居", "广场", "大厦", "苑", "府", "城", "园", "庭", "湾", "郡"}}
	project = &kind{prefix: Project, suffixes: []string{"项目", "工程", "工地", "楼盘"}}
)

// words indexes every suffix and land word by its first rune, longest
// first; starts has a bit for each of those runes, so that the scan passes
// over the others without a map lookup.
var (
	words  = map[rune][]word{}
	starts [1 << 16 / 64]uint64
)

type word struct {
	s string
	k *kind // nil for a land word
}

func init() {
	add := func(s string, k *kind) {
		r, _ := utf8.DecodeRuneInString(s)
		words[r] = append(words[r], word{s, k})
		starts[r>>6] |= 1 << (r & 63)
	}
	for _, k := range []*kind{firm, estateSure, estate, project} {
		for _, s := range k.suffixes {
			add(s, k)
		}
	}
	for _, s := range landWords {
		add(s, nil)
	}
	for r := range words {
		slices.SortStableFunc(words[r], func(a, b word) int { return len(b.s) - len(a.s) })
	}
}

// scan appends the keys of the names in t and says whether t is about land.
func scan(keys []string, township, t string) ([]string, bool) {
	land := false
	for i := 0; i < len(t); {
		// Han characters are three bytes: decode them inline, the hot path
		// of ingestion. A bad sequence only misses a name.
		var r rune
		n := 1
		switch b := t[i]; {
		case b < utf8.RuneSelf:
			i++
			continue
		case b&0xF0 == 0xE0 && i+2 < len(t):
			r, n = rune(b&0x0F)<<12|rune(t[i+1]&0x3F)<<6|rune(t[i+2]&0x3F), 3
		default:
			r, n = utf8.DecodeRuneInString(t[i:])
		}
		if r >= 1<<16 || starts[r>>6]&(1<<(r&63)) == 0 {
			i += n
			continue
		}
		for _, sf := range words[r] {
			if !strings.HasPrefix(t[i:], sf.s) {
				continue
			}
			if sf.k == nil {
				land = true
				continue
			}
			end := i + len(sf.s)
			if sf.k.context && !estateContext(t[:i], t[end:]) {
				continue
			}
			if sf.s == "新村" && boundaryBefore(t[:i], "镇", "乡", "街道") && !estateContext(t[:i], t[end:]) {
				continue // 枫桥镇杜黄新村 is an administrative village, not an estate
			}
			if sf.k == project && startsWithAny(t[end:], notProject) {
				continue // 宏昌建设工程有限公司 is a firm, 工程款 money
			}
			if sf.k == firm && strings.HasPrefix(t[i:], "厂房") {
				continue // a building, not a firm
			}
			if key := name(sf.k, township, t[:i], sf.s); key != "" {
				keys = append(keys, key)
				n = len(sf.s)
				for sf.k == firm { // 集团有限公司 is one legal form
					more := longestPrefix(t[i+n:], firm.suffixes)
					if more == "" {
						break
					}
					n += len(more)
				}
				break
			}
		}
		i += n
	}
	return keys, land
}

// Names are at most this many runes before their suffix.
const maxName = 10

// name finds the name that ends at the end of before and makes its key; ""
// when there is none (a bare 公司, 这个小区).
func name(k *kind, township, before, suffix string) string {
	if k == project {
		// An unnamed site is known by what it is, whatever comes before
		// (栎桥村旧村改造工程, 大唐街道道路拓宽工程).
		if site := siteOf(before); site != "" {
			if township == "" {
				return ""
			}
			return Project + township + ":" + site
		}
	}
	start := len(before)
	for runes := 0; start > 0 && runes < maxName; runes++ {
		if boundary(before[:start]) {
			break
		}
		r, n := utf8.DecodeLastRuneInString(before[:start])
		if !unicode.Is(unicode.Han, r) {
			break
		}
		start -= n
	}
	core := before[start:]
	switch k {
	case firm:
		// What people call a firm is its trade name (字号): 浙江海亮集团 and
		// 诸暨宏昌建设 lose their region and their industry. Past four runes
		// the rest is an industry not listed: the trade name comes first.
		core = trimPlace(trimIndustry(core))
		if utf8.RuneCountInString(core) > 4 {
			core = firstRunes(core, 2)
		}
	case project:
		core = trimSuffixes(core, project.suffixes)
	case estateSure:
		// 枫溪家园安置小区 is the estate 枫溪家园.
		core = trimSuffixes(core, []string{"安置", "拆迁安置"})
		for _, sf := range estate.suffixes {
			if strings.HasSuffix(core, sf) && utf8.RuneCountInString(core) > utf8.RuneCountInString(sf) {
				return Estate + core
			}
		}
	}
	if utf8.RuneCountInString(core) < 2 || generic[core] || k == firm && slices.Contains(industries, core) {
		return ""
	}
	if k.keep && suffix != "小区" {
		core += suffix
	}
	return k.prefix + core
}

// sites are what unnamed projects are called: the township tells them apart
// (枫桥镇XX村安置房项目工地, 枫桥那个安置房工地 → project:330681109:安置房).
var sites = []string{"安置房", "安置小区", "回迁房", "保障房", "厂房", "旧村改造", "旧改", "管网", "学校", "道路"}

// works are what is done to a site: stripped before looking for the site
// (道路拓宽工程 → 道路).
var works = []string{"拓宽", "改造", "提升", "整治", "维修", "新建", "扩建", "施工", "建设"}

// siteOf returns the site that before ends with, after project suffixes
// and works; "" when there is none.
func siteOf(before string) string {
	// Only the end matters: a site, a work and a suffix are a dozen runes.
	if len(before) > 48 {
		cut := len(before) - 48
		for cut < len(before) && !utf8.RuneStart(before[cut]) {
			cut++
		}
		before = before[cut:]
	}
	core := trimSuffixes(trimSuffixes(before, project.suffixes), works)
	for _, w := range sites {
		if strings.HasSuffix(core, w) || strings.HasSuffix(before, w) {
			return w
		}
	}
	return ""
}

// notProject follows a project suffix that is something else.
var notProject = []string{"款", "师", "队", "车", "量", "股份有限公司", "有限责任公司", "有限公司", "集团", "公司"}

// places are regions that prefix enterprise names without 省 or 市 (浙江海亮
// 集团): the province, its cities and the county. The county's own townships
// end with 镇, 乡 or 街道 and are boundaries.
var places = []string{"浙江", "杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水", "诸暨", "上海", "江苏"}

// trimPlace cuts s after the last place in it that leaves two runes:
// 巡查发现浙江天一诺 → 天一诺, 浙江金华丰 → 金华丰.
func trimPlace(s string) string {
	best := -1
	for _, p := range places {
		for i := 0; ; {
			j := strings.Index(s[i:], p)
			if j < 0 {
				break
			}
			end := i + j + len(p)
			if end > best && utf8.RuneCountInString(s[end:]) >= 2 {
				best = end
			}
			i = end
		}
	}
	if best < 0 {
		return s
	}
	return s[best:]
}

func firstRunes(s string, n int) string {
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// trimSuffixes strips words in ws from the end of s (安置房项目 → 安置房).
func trimSuffixes(s string, ws []string) string {
	for again := true; again; {
		again = false
		for _, w := range ws {
			if rest, ok := strings.CutSuffix(s, w); ok && rest != "" {
				s, again = rest, true
			}
		}
	}
	return s
}

// boundaries end the text before a name: place words (the name follows its
// region), words that end the clause before it, and determiners (这个小区
// names nothing).
var boundaries = []string{
	"一处", "一家", "一个", "这个", "那个", "这家", "那家", "整个", "这", "那", "该", "此", "某", "各",
	"省", "市", "县", "区", "镇", "乡", "村", "街道", "社区", "园区", "公司", "内",
	"反映", "投诉", "举报", "来电", "信访人", "关于", "位于", "住在", "称", "说", "发现", "单位", "总包", "分包",
	"在", "的", "到", "于", "向", "对", "被", "给", "其", "是", "为", "了", "去", "从", "找", "由", "把", "将",
	"我", "你", "他", "她", "们", "老公", "老婆", "期间", "进", "出", "附近", "旁边", "对面", "周边", "门口",
	"不", "没", "也", "还", "有", "就", "又", "再", "要", "想", "会", "让",
}

// boundaryEnds indexes the boundary words by their last rune.
var boundaryEnds = map[rune][]string{}

func init() {
	for _, b := range boundaries {
		r, _ := utf8.DecodeLastRuneInString(b)
		boundaryEnds[r] = append(boundaryEnds[r], b)
	}
}

// boundary reports whether s ends with a boundary word.
func boundary(s string) bool {
	if strings.HasSuffix(s, "小区") {
		return false // a site's name: 安置小区工地
	}
	// A conjunction ends a name only where it joins two: 兴达厂和恒丰公司
	// names 恒丰, but 万和公司 names 万和.
	for _, c := range []string{"和", "与", "及"} {
		if rest, ok := strings.CutSuffix(s, c); ok {
			return endsWithSuffix(rest)
		}
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	for _, b := range boundaryEnds[r] {
		if strings.HasSuffix(s, b) {
			return true
		}
	}
	return false
}

// industries are the 行业 part of enterprise names, stripped from the end
// of the trade name (兴达针织 → 兴达) while two runes remain.
var industries = []string{
	"房地产开发", "物业管理", "物业服务", "房地产", "针织", "袜业", "五金", "铜业", "建材", "纺织", "汽配", "印染",
	"服装", "服饰", "制衣", "机械", "电子", "电器", "科技", "实业", "贸易", "商贸", "工贸", "置业", "物业",
	"建设", "建筑", "建工", "工程", "劳务", "化工", "食品", "餐饮", "塑料", "塑业", "包装", "材料", "家具",
	"集团", "投资", "发展", "控股", "人力资源", "纺织品", "纸业", "铜管", "阀门", "管件", "电机", "泵业", "模具",
	"机电", "汽车", "配件", "袜", "环保", "能源", "制造", "制品", "珍珠", "轴承", "管业", "线业", "织造",
}

func trimIndustry(s string) string {
	for again := true; again; {
		again = false
		for _, w := range industries {
			if rest, ok := strings.CutSuffix(s, w); ok && utf8.RuneCountInString(rest) >= 2 {
				s, again = rest, true
			}
		}
	}
	return s
}

// generic names are words, not names.
var generic = map[string]bool{
	"物业": true, "开发": true, "施工": true, "建筑": true, "工程": true, "劳务": true, "装修": true,
	"快递": true, "保险": true, "物流": true, "中介": true, "网络": true, "外卖": true, "电力": true,
	"供电": true, "自来水": true, "燃气": true, "建设": true, "安置": true, "改造": true, "拆迁": true,
	"贷款": true, "移动": true, "电信": true, "联通": true, "水务": true, "银行": true, "培训": true, "家政": true,
}

// estateWords after a name say that it is an estate: its owners, its
// management, its buildings.
var estateWords = []string{
	"物业", "业主", "开发商", "小区", "地下", "车库", "车位", "楼", "顶楼", "高层", "住户", "居民", "幢", "栋", "单元",
	"门口", "周边", "附近", "电梯", "停车", "消防", "垃圾", "业委会", "交房", "配套", "围墙", "部分", "多户", "全体", "安置",
	"一期", "二期", "三期", "的业主", "的住户", "的居民", "的物业",
}

// estateContext reports whether the text around a name with an estate
// suffix says it is one: 住在金色家园, 金色家园12幢, 翡翠城高层住户.
func estateContext(before, after string) bool {
	if boundaryBefore(before, "住在", "家住", "居住在", "买在") {
		return true
	}
	after = strings.TrimLeftFunc(after, func(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' })
	return startsWithAny(after, estateWords)
}

// boundaryBefore reports whether the name that ends before starts right
// after one of words.
func boundaryBefore(before string, words ...string) bool {
	start := len(before)
	for runes := 0; start > 0 && runes < maxName && !boundary(before[:start]); runes++ {
		_, n := utf8.DecodeLastRuneInString(before[:start])
		start -= n
	}
	for _, w := range words {
		if strings.HasSuffix(before[:start], w) {
			return true
		}
	}
	return false
}

// endsWithSuffix reports whether s ends with the suffix of a name.
func endsWithSuffix(s string) bool {
	for _, k := range []*kind{firm, estateSure, estate, project} {
		for _, sf := range k.suffixes {
			if strings.HasSuffix(s, sf) {
				return true
			}
		}
	}
	return false
}

func longestPrefix(s string, words []string) string {
	best := ""
	for _, w := range words {
		if len(w) > len(best) && strings.HasPrefix(s, w) {
			best = w
		}
	}
	return best
}

func startsWithAny(s string, words []string) bool {
	for _, w := range words {
		if strings.HasPrefix(s, w) {
			return true
		}
	}
	return false
}
