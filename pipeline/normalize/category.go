package normalize

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Unified categories.
//
// Each hotline centre and each petition office has its own category tree,
// so Event.Category is decided by rules over the raw path (hotline catalog
// split on "/", petition contentClass split on "_", grid bigType and
// subType), in this order:
//
//  1. A dispute (矛盾纠纷) gets its 人民调解 standard type: the first of
//     disputeRules with a keyword in the levels below the first (or in the
//     only level). 劳动和社会保障/劳动关系/拖欠工资 → 劳资纠纷,
//     城乡建设_征地拆迁 → 征地拆迁纠纷, 房产物业/物业管理/物业服务 → 物业纠纷.
//     The first level is left out because it names a department, not the
//     matter: everything under 房产物业 is not a 物业 dispute.
//  2. Otherwise the 信访 level-1 class of the first level, through
//     classAliases (市场监管 → 经济管理, 环境保护 → 生态环境, 卫生计生 → 卫生健康 …).
//  3. Otherwise a dispute type from the first level, then the first of
//     classRules with a keyword anywhere in the path, then 其他.
//
// Grid events are disputes when bigType is 矛盾纠纷 or subType names a
// 纠纷 (unmatched: 其他纠纷); the other bigTypes map by gridClasses, except
// 安全隐患 and 其他, which look at subType first (a road hazard is 交通运输).
//
// Rules are keyword lists matched by one hand-written scan (matcher), not
// regular expressions: categorising and tagging run on every message.

// rule gives result when any of words occurs.
type rule struct {
	result string
	words  []string
}

// disputeRules are the 人民调解 dispute types; narrow rules come first
// (征地 before 土地, 劳动合同 before 合同), the catch-all 纠纷 last.
var disputeRules = []rule{
	{"征地拆迁纠纷", []string{"征地", "拆迁", "征迁", "房屋征收", "土地征收", "征收补偿"}},
	{"劳资纠纷", []string{"拖欠工资", "欠薪", "讨薪", "工资", "劳动关系", "劳资", "劳动合同", "劳动报酬", "工伤"}},
	{"物业纠纷", []string{"物业"}},
	{"婚姻家庭纠纷", []string{"婚姻家庭", "家庭纠纷", "家庭矛盾", "离婚", "家暴", "家庭暴力", "赡养", "抚养", "继承"}},
	{"邻里纠纷", []string{"邻里", "相邻"}},
	{"房屋宅基地纠纷", []string{"宅基地", "房屋纠纷", "建房纠纷"}},
	{"山林土地纠纷", []string{"山林", "林地", "土地纠纷", "土地承包", "承包地", "土地流转", "土地权属"}},
	{"交通事故纠纷", []string{"交通事故"}},
	{"医疗纠纷", []string{"医疗纠纷", "医患", "医疗事故"}},
	{"环境污染纠纷", []string{"污染纠纷", "环境纠纷"}},
	{"消费纠纷", []string{"消费纠纷", "消费者权益", "消费维权", "预付卡"}},
	{"合同纠纷", []string{"合同", "借贷", "买卖纠纷", "租赁纠纷"}},
	{"损害赔偿纠纷", []string{"损害赔偿", "人身损害", "财产损害", "赔偿纠纷"}},
	{"生产经营纠纷", []string{"生产经营", "经营纠纷"}},
	{"其他纠纷", []string{"纠纷"}},
}

// petitionClasses are the 信访 level-1 classes.
var petitionClasses = []string{
	"农村农业", "国土资源", "城乡建设", "劳动和社会保障", "卫生健康", "教育文体", "民政", "政法",
	"经济管理", "交通运输", "商贸旅游", "生态环境", "组织人事", "纪检监察", "党务政务", "其他",
}

// classAliases maps a first level, as centres name their departments, to
// its 信访 class.
var classAliases = map[string]string{
	"农业农村": "农村农业", "农业": "农村农业", "农林水利": "农村农业", "水利": "农村农业",
	"自然资源": "国土资源", "国土": "国土资源", "规划和自然资源": "国土资源",
	"住房城乡建设": "城乡建设", "住建": "城乡建设", "房产物业": "城乡建设", "房产": "城乡建设",
	"住房": "城乡建设", "城市管理": "城乡建设", "城管": "城乡建设", "综合执法": "城乡建设",
	"劳动保障": "劳动和社会保障", "人力社保": "劳动和社会保障", "人力资源和社会保障": "劳动和社会保障", "社会保障": "劳动和社会保障",
	"卫生计生": "卫生健康", "卫生": "卫生健康", "医疗卫生": "卫生健康", "疫情防控": "卫生健康",
	"教育": "教育文体", "文化体育": "教育文体", "文体": "教育文体",
	"公安": "政法", "司法": "政法", "法院": "政法", "检察": "政法", "政法综治": "政法", "治安": "政法",
	"市场监管": "经济管理", "工商": "经济管理", "质量技术监督": "经济管理", "财政金融": "经济管理", "金融": "经济管理", "税务": "经济管理",
	"交通": "交通运输",
	"商贸": "商贸旅游", "旅游": "商贸旅游", "文化旅游": "商贸旅游", "商务": "商贸旅游",
	"环境保护": "生态环境", "环保": "生态环境",
	"人事": "组织人事", "组织": "组织人事",
	"纪检": "纪检监察", "监察": "纪检监察",
	"党务": "党务政务", "政务": "党务政务", "政务服务": "党务政务",
}

func init() {
	for _, c := range petitionClasses {
		classAliases[c] = c
	}
}

// classRules find a class by keyword when the first level is not a known
// department; 养老院 (民政) comes before 养老 (社保), 医疗 after 医保.
var classRules = []rule{
	{"民政", []string{"低保", "救助", "养老院", "殡葬", "残疾", "优抚", "婚姻登记", "困难群众"}},
	{"劳动和社会保障", []string{"社保", "社会保险", "养老", "医保", "失业", "就业", "劳动"}},
	{"卫生健康", []string{"疫情", "防疫", "医院", "医疗", "卫生", "健康", "核酸", "隔离"}},
	{"生态环境", []string{"污染", "噪音", "噪声", "排放", "排污", "环保"}},
	{"经济管理", []string{"价格", "物价", "市场", "食品", "药品", "企业", "金融", "税"}},
	{"交通运输", []string{"交通", "道路", "公交", "出租车", "客运", "货运"}},
	{"教育文体", []string{"教育", "学校", "幼儿园", "学生", "文化", "体育"}},
	{"政法", []string{"治安", "公安", "诈骗", "司法", "法院", "犯罪", "黑恶", "赌博", "吸毒"}},
	{"国土资源", []string{"土地", "国土", "矿产", "用地"}},
	{"农村农业", []string{"农村", "农业", "农民", "村务", "种植", "养殖"}},
	{"城乡建设", []string{"住房", "房屋", "建设", "物业", "消防", "燃气", "城管", "违建", "违章"}},
	{"商贸旅游", []string{"旅游", "商贸", "商场"}},
	{"组织人事", []string{"人事", "干部", "编制"}},
	{"纪检监察", []string{"腐败", "纪检", "监察", "贪污", "作风"}},
	{"党务政务", []string{"政务", "党务", "信息公开"}},
}

// gridClasses maps the grid bigTypes that are not disputes.
var gridClasses = map[string]string{
	"安全隐患": "城乡建设", // fire, gas, buildings; subType may say otherwise
	"治安问题": "政法",
	"环境卫生": "生态环境",
	"民生服务": "民政",
	"疫情防控": "卫生健康",
}

// tagRules are topics across categories, looked for in the category path,
// the title and the text.
var tagRules = []rule{
	{"疫情防控", []string{"疫情", "防疫", "新冠", "肺炎", "隔离", "封闭管理", "核酸", "确诊", "防控"}},
	{"健康码", []string{"健康码", "绿码", "黄码", "红码"}},
	{"复工复产", []string{"复工", "复产", "返岗", "开工"}},
	{"租金", []string{"租金", "房租", "减租", "免租", "店租"}},
	{"物资价格", []string{"口罩", "哄抬", "物价", "涨价", "消毒液", "酒精", "防护服", "囤积"}},
	{"返乡人员", []string{"返乡", "返回", "返程", "返杭", "返诸", "外地返"}},
}

var (
	disputes = compileRules(disputeRules)
	classes  = compileRules(classRules)
	tagSet   = compileRules(tagRules)
	// tagOrder lists tagRules' indexes in the sorted order of their tags,
	// so the tags of an event come out sorted without sorting.
	tagOrder = func() []int {
		order := make([]int, len(tagRules))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Compare(tagRules[a].result, tagRules[b].result)
		})
		return order
	}()
)

// category returns the unified category of a hotline or petition path with
// levels separated by sep.
func category(path []byte, sep byte) string {
	path = trimSpace(path)
	level1, rest := path, path
	if i := bytes.IndexByte(path, sep); i >= 0 {
		level1, rest = trimSpace(path[:i]), path[i+1:]
	}
	if c := disputes.first(rest); c != "" {
		return c
	}
	if c, ok := classAliases[string(level1)]; ok {
		return c
	}
	if c := disputes.first(level1); c != "" {
		return c
	}
	if c := classes.first(path); c != "" {
		return c
	}
	return "其他"
}

// gridCategory returns the unified category of a grid event.
func gridCategory(big, sub []byte) string {
	big, sub = trimSpace(big), trimSpace(sub)
	if string(big) == "矛盾纠纷" || bytes.Contains(sub, []byte("纠纷")) {
		if c := disputes.first(sub); c != "" {
			return c
		}
		return "其他纠纷"
	}
	if c, ok := gridClasses[string(big)]; ok && string(big) != "安全隐患" {
		return c
	}
	if c := classes.first(sub); c != "" {
		return c
	}
	if c, ok := gridClasses[string(big)]; ok {
		return c
	}
	return "其他"
}

// tags returns the sorted topics found in any of parts; nil when none.
func tags(parts ...[]byte) []string {
	var found wordSet
	for _, p := range parts {
		tagSet.m.scan(&found, p)
	}
	if found == (wordSet{}) {
		return nil
	}
	var out []string
	for _, i := range tagOrder {
		if found.any(tagSet.rules[i].mask) {
			out = append(out, tagSet.rules[i].result)
		}
	}
	return out
}

// ruleSet is a compiled rule list: one matcher for all its words, and per
// rule the set of its words.
type ruleSet struct {
	m     *matcher
	rules []compiledRule
}

type compiledRule struct {
	result string
	mask   wordSet
}

func compileRules(rules []rule) *ruleSet {
	var words []string
	rs := &ruleSet{}
	for _, r := range rules {
		cr := compiledRule{result: r.result}
		for _, w := range r.words {
			cr.mask.add(len(words))
			words = append(words, w)
		}
		rs.rules = append(rs.rules, cr)
	}
	rs.m = newMatcher(words)
	return rs
}

// first returns the result of the first rule with a word in s; "" when none.
func (rs *ruleSet) first(s []byte) string {
	var found wordSet
	rs.m.scan(&found, s)
	if found == (wordSet{}) {
		return ""
	}
	for _, r := range rs.rules {
		if found.any(r.mask) {
			return r.result
		}
	}
	return ""
}

// wordSet is a set of word indexes of one matcher.
type wordSet [4]uint64

const maxWords = 4 * 64

func (s *wordSet) add(i int)         { s[i>>6] |= 1 << (i & 63) }
func (s wordSet) any(o wordSet) bool { return s[0]&o[0]|s[1]&o[1]|s[2]&o[2]|s[3]&o[3] != 0 }

// matcher finds which of a fixed list of words occur in a text, in one pass:
// a bitmap of the runes that start a word (8 KiB, in cache) rejects almost
// every position with two loads, and only at a hit are the candidate words
// compared.
type matcher struct {
	words   [][]byte
	first   [1 << 16 / 64]uint64
	byFirst map[rune][]int
}

func newMatcher(words []string) *matcher {
	if len(words) > maxWords {
		panic(fmt.Sprintf("normalize: %d keywords, at most %d", len(words), maxWords))
	}
	m := &matcher{byFirst: make(map[rune][]int)}
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		if n == 0 || r >= 1<<16 {
			panic(fmt.Sprintf("normalize: keyword %q must start with a BMP rune", w))
		}
		m.words = append(m.words, []byte(w))
		m.first[r>>6] |= 1 << (r & 63)
		m.byFirst[r] = append(m.byFirst[r], i)
	}
	return m
}

// scan adds to found the index of every word that occurs in s.
func (m *matcher) scan(found *wordSet, s []byte) {
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		w := 1
		switch {
		case c < utf8.RuneSelf:
			r = rune(c)
		case c&0xF0 == 0xE0 && i+2 < len(s): // the 3-byte form of all CJK
			r = rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			w = 3
		default:
			r, w = utf8.DecodeRune(s[i:])
		}
		if r < 1<<16 && m.first[r>>6]&(1<<(r&63)) != 0 {
			for _, k := range m.byFirst[r] {
				if bytes.HasPrefix(s[i:], m.words[k]) {
					found.add(k)
				}
			}
		}
		i += w
	}
}
