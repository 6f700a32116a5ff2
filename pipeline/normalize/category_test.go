package normalize

import (
	"slices"
	"testing"
)

func TestCategory(t *testing.T) {
	tests := []struct {
		path string
		sep  byte
		want string
	}{
		{"劳动和社会保障/劳动关系/拖欠工资", '/', "劳资纠纷"},
		{"劳动和社会保障_拖欠工资", '_', "劳资纠纷"},
		{"人力社保/欠薪", '/', "劳资纠纷"},
		{"劳动和社会保障/社会保险/养老金", '/', "劳动和社会保障"},
		{"城乡建设_征地拆迁", '_', "征地拆迁纠纷"},
		{"住建/房屋征收/补偿", '/', "征地拆迁纠纷"},
		{"房产物业/物业管理/物业服务", '/', "物业纠纷"},
		{"房产物业_物业管理", '_', "物业纠纷"},
		{"房产物业/房地产开发/延期交房", '/', "城乡建设"},
		{"卫生健康/疫情防控/健康码", '/', "卫生健康"},
		{"卫生计生/医疗服务", '/', "卫生健康"},
		{"卫生健康/医患纠纷", '/', "医疗纠纷"},
		{"市场监管/价格/哄抬物价", '/', "经济管理"},
		{"市场监管/消费者权益/退换货", '/', "消费纠纷"},
		{"生态环境/大气污染", '/', "生态环境"},
		{"环境保护/噪声", '/', "生态环境"},
		{"矛盾纠纷/邻里纠纷", '/', "邻里纠纷"},
		{"矛盾纠纷/婚姻家庭纠纷", '/', "婚姻家庭纠纷"},
		{"矛盾纠纷/其他", '/', "其他纠纷"},
		{"农业农村/土地承包", '/', "山林土地纠纷"},
		{"公安/交通事故", '/', "交通事故纠纷"},
		{"交通/道路维修", '/', "交通运输"},
		{"教育/学校收费", '/', "教育文体"},
		{"民政/低保", '/', "民政"},
		{"劳资纠纷", '/', "劳资纠纷"},
		{"城市供水/停水", '/', "其他"},
		{"某中心自定义/诈骗", '/', "政法"},
		{"其他", '/', "其他"},
		{"", '/', "其他"},
	}
	for _, tt := range tests {
		if got := category([]byte(tt.path), tt.sep); got != tt.want {
			t.Errorf("category(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestGridCategory(t *testing.T) {
	tests := []struct{ big, sub, want string }{
		{"矛盾纠纷", "劳资纠纷", "劳资纠纷"},
		{"矛盾纠纷", "邻里纠纷", "邻里纠纷"},
		{"矛盾纠纷", "土地纠纷", "山林土地纠纷"},
		{"矛盾纠纷", "征地拆迁纠纷", "征地拆迁纠纷"},
		{"矛盾纠纷", "物业纠纷", "物业纠纷"},
		{"矛盾纠纷", "", "其他纠纷"},
		{"其他", "邻里纠纷", "邻里纠纷"},
		{"安全隐患", "消防隐患", "城乡建设"},
		{"安全隐患", "道路交通隐患", "交通运输"},
		{"治安问题", "聚众赌博", "政法"},
		{"环境卫生", "垃圾乱堆", "生态环境"},
		{"民生服务", "低保申请", "民政"},
		{"疫情防控", "返乡人员排查", "卫生健康"},
		{"其他", "", "其他"},
		{"", "", "其他"},
	}
	for _, tt := range tests {
		if got := gridCategory([]byte(tt.big), []byte(tt.sub)); got != tt.want {
			t.Errorf("gridCategory(%q, %q) = %q, want %q", tt.big, tt.sub, got, tt.want)
		}
	}
}

// TestCategoriesAreStandard keeps every rule's result within the two
// standard lists.
func TestCategoriesAreStandard(t *testing.T) {
	disputeTypes := []string{"婚姻家庭纠纷", "邻里纠纷", "房屋宅基地纠纷", "合同纠纷", "生产经营纠纷", "损害赔偿纠纷", "山林土地纠纷",
		"征地拆迁纠纷", "环境污染纠纷", "劳资纠纷", "医疗纠纷", "物业纠纷", "交通事故纠纷", "消费纠纷", "其他纠纷"}
	for _, r := range disputeRules {
		if !slices.Contains(disputeTypes, r.result) {
			t.Errorf("dispute rule gives %q, not a 人民调解 type", r.result)
		}
	}
	for _, c := range classRules {
		if !slices.Contains(petitionClasses, c.result) {
			t.Errorf("class rule gives %q, not a 信访 class", c.result)
		}
	}
	for k, c := range classAliases {
		if !slices.Contains(petitionClasses, c) {
			t.Errorf("alias %q gives %q, not a 信访 class", k, c)
		}
	}
	for k, c := range gridClasses {
		if !slices.Contains(petitionClasses, c) {
			t.Errorf("grid bigType %q gives %q, not a 信访 class", k, c)
		}
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		parts []string
		want  []string
	}{
		{[]string{"卫生健康/疫情防控/健康码", "", "本人从湖北返回诸暨已满14天，健康码仍为黄码，无法返岗复工"},
			[]string{"健康码", "复工复产", "疫情防控", "返乡人员"}},
		{[]string{"市场监管/价格/哄抬物价", "某药店口罩一只卖到15元"}, []string{"物资价格"}},
		{[]string{"", "商户要求疫情期间减免房租"}, []string{"疫情防控", "租金"}},
		{[]string{"劳动和社会保障/劳动关系/拖欠工资", "包工头拖欠工资"}, nil},
		{[]string{"", "疫情疫情疫情"}, []string{"疫情防控"}},
		{[]string{}, nil},
	}
	for _, tt := range tests {
		var parts [][]byte
		for _, p := range tt.parts {
			parts = append(parts, []byte(p))
		}
		if got := tags(parts...); !slices.Equal(got, tt.want) {
			t.Errorf("tags(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func TestRegionFromAddress(t *testing.T) {
	tests := []struct{ address, want string }{
		{"诸暨市枫桥镇XX村安置房工地", "330681109000"},
		{"枫桥镇", "330681109000"},
		{"浙江省绍兴市诸暨市陶朱街道某小区", "330681003000"},
		{"杭州市下城区某药店", "330103000000"},
		{"杭州市上城区笕桥街道", "330102016000"},
		{"绍兴市柯桥区王坛镇", "330603107000"},
		{"诸暨市", "330681000000"},
		{"绍兴市某路", "330600000000"},
		{"浙江省", "330000000000"},
		{"某地", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := regionFromAddress([]byte(tt.address))
		if got.Code != tt.want || ok != (tt.want != "") {
			t.Errorf("regionFromAddress(%q) = %q, %v; want %q", tt.address, got.Code, ok, tt.want)
		}
	}
}
