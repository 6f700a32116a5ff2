package normalize

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
)

// wantPerson is a person as the decoders must produce it. The clear phone
// and ID are the values the keys must be the keyed hashes of, and what
// Open must give back.
type wantPerson struct {
	role, name, phone string
	anonymous         bool
	clearName         string // sealed name; "" when none is sealed
	clearPhone        string // as sent; keyed when normal
	phoneDigits       string // normalised digits the PhoneKey hashes; "" when no key
	clearID           string
	idDigits          string
}

// exampleCase is what one line of the contract examples must decode to.
type exampleCase struct {
	feed string
	line int
	err  string // part of the error text; "" when the line is valid

	id                     string
	version                uint32
	updated, occurred      string // RFC 3339, UTC
	region, county, town   string
	category, rawCategory  string
	status                 risk.Status
	rawStatus, kind, chanl string
	urgency                uint8
	head, petitioners      int32
	amount                 float64
	collective, repeat     bool
	skip, selfResolved     bool
	rejected               bool
	tags                   []string
	warnings               []string // one part of each warning, in order; nil: none
	persons                []wantPerson
	check                  func(t *testing.T, ev risk.Event)
}

var (
	wangJianguo  = wantPerson{role: "caller", name: "王*国", phone: "138****2345", clearName: "王建国", clearPhone: "138 0571 2345", phoneDigits: "13805712345"}
	liHaijun     = wantPerson{role: "petitioner", name: "李*军", phone: "139****1234", clearName: "李海军", clearPhone: "13905751234", phoneDigits: "13905751234", clearID: "330681198304125431", idDigits: "330681198304125431"}
	zhaoXiaoping = wantPerson{role: "petitioner", name: "赵*平", phone: "137****8765", clearName: "赵小平", clearPhone: "13735298765", phoneDigits: "13735298765"}
)

var exampleCases = []exampleCase{
	{
		feed: "hotline", line: 1, id: "ZJSX12345-20200221-00123", version: 1,
		updated: "2020-02-21T01:31:02Z", occurred: "2020-02-21T01:30:15Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障/劳动关系/拖欠工资",
		status: risk.StatusOpen, rawStatus: "受理", kind: "投诉", chanl: "电话", urgency: 1,
		head: 8, petitioners: -1, amount: 160000,
		persons: []wantPerson{wangJianguo},
		check: func(t *testing.T, ev risk.Event) {
			if want := "反映枫桥镇某建筑工地拖欠工资"; ev.Title != want {
				t.Errorf("Title = %q, want %q", ev.Title, want)
			}
			if want := "诸暨市枫桥镇XX村安置房工地"; ev.Address != want {
				t.Errorf("Address = %q, want %q", ev.Address, want)
			}
			if !strings.HasPrefix(ev.Text, "来电人反映其在诸暨市枫桥镇XX村") {
				t.Errorf("Text = %q, want the content", ev.Text)
			}
		},
	},
	{
		feed: "hotline", line: 2, id: "ZJSX12345-20200221-00123", version: 2,
		updated: "2020-02-21T02:05:40Z", occurred: "2020-02-21T01:30:15Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障/劳动关系/拖欠工资",
		status: risk.StatusInProgress, rawStatus: "派单", kind: "投诉", chanl: "电话", urgency: 1,
		head: 8, petitioners: -1, amount: 160000,
		persons: []wantPerson{wangJianguo},
		check: func(t *testing.T, ev risk.Event) {
			if want := utc(t, "2020-02-26T09:30:00Z"); !ev.Deadline.Equal(want) {
				t.Errorf("Deadline = %v, want %v", ev.Deadline, want)
			}
			if want := "诸暨市人力社保局"; ev.HandleUnit != want {
				t.Errorf("HandleUnit = %q, want %q", ev.HandleUnit, want)
			}
		},
	},
	{
		// The same version delivered twice: the same event.
		feed: "hotline", line: 3, id: "ZJSX12345-20200221-00123", version: 2,
		updated: "2020-02-21T02:05:40Z", occurred: "2020-02-21T01:30:15Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障/劳动关系/拖欠工资",
		status: risk.StatusInProgress, rawStatus: "派单", kind: "投诉", chanl: "电话", urgency: 1,
		head: 8, petitioners: -1, amount: 160000,
		persons: []wantPerson{wangJianguo},
	},
	{
		// No version; updateTime in UTC; callTime as epoch milliseconds; an
		// empty name with a phone in the +86 form.
		feed: "hotline", line: 4, id: "ZJSX12345-20200221-00388", version: 0,
		updated: "2020-02-21T06:12:09Z", occurred: "2020-02-21T06:10:00Z",
		region: "330681001000", county: "330681", town: "330681001",
		category: "卫生健康", rawCategory: "卫生健康/疫情防控/健康码",
		status: risk.StatusOpen, rawStatus: "受理", kind: "咨询", chanl: "微信",
		head: -1, petitioners: -1, amount: -1,
		tags:    []string{"健康码", "复工复产", "疫情防控", "返乡人员"},
		persons: []wantPerson{{role: "caller", phone: "139****8876", clearPhone: "+86-139-0575-8876", phoneDigits: "13905758876"}},
	},
	{
		// Slashed times without seconds, a masked name, full-width digits,
		// and "8人" where a number belongs.
		feed: "hotline", line: 5, id: "ZJSX12345-20200222-00071", version: 1,
		updated: "2020-02-22T00:40:00Z", occurred: "2020-02-22T00:37:00Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障/劳动关系/拖欠工资",
		status: risk.StatusOpen, rawStatus: "受理", kind: "投诉", chanl: "电话", urgency: 2,
		head: 8, petitioners: -1, amount: -1,
		warnings: []string{`involvedCount "8人": read as 8`},
		persons:  []wantPerson{{role: "caller", name: "赵**", phone: "137****8765", anonymous: true, clearName: "赵**", clearPhone: "１３７３５２９８７６５", phoneDigits: "13735298765"}},
	},
	{
		feed: "hotline", line: 6, id: "ZJSX12345-20200222-00102", version: 3,
		updated: "2020-02-23T08:20:00Z", occurred: "2020-02-22T06:02:11Z",
		region: "330681003000", county: "330681", town: "330681003",
		category: "物业纠纷", rawCategory: "房产物业/物业管理/物业服务",
		status: risk.StatusFinished, rawStatus: "办结", kind: "求助", chanl: "电话",
		head: -1, petitioners: -1, amount: -1,
		tags:    []string{"疫情防控"},
		persons: []wantPerson{{role: "caller", name: "孙*英", phone: "0575****1234", clearName: "孙美英", clearPhone: "0575-87021234", phoneDigits: "057587021234"}},
		check: func(t *testing.T, ev risk.Event) {
			if want := utc(t, "2020-02-23T08:10:00Z"); !ev.FinishedAt.Equal(want) {
				t.Errorf("FinishedAt = %v, want %v", ev.FinishedAt, want)
			}
			if want := "已协调物业设置外卖存放点。"; ev.Reply != want {
				t.Errorf("Reply = %q, want %q", ev.Reply, want)
			}
		},
	},
	{
		// An older version arriving after a newer one: still valid, ordered
		// downstream by Version.
		feed: "hotline", line: 7, id: "ZJSX12345-20200222-00102", version: 2,
		updated: "2020-02-22T07:00:00Z", occurred: "2020-02-22T06:02:11Z",
		region: "330681003000", county: "330681", town: "330681003",
		category: "物业纠纷", rawCategory: "房产物业/物业管理/物业服务",
		status: risk.StatusInProgress, rawStatus: "派单", kind: "求助", chanl: "电话",
		head: -1, petitioners: -1, amount: -1,
		tags:    []string{"疫情防控"},
		persons: []wantPerson{{role: "caller", name: "孙*英", phone: "0575****1234", clearName: "孙美英", clearPhone: "0575-87021234", phoneDigits: "057587021234"}},
	},
	{
		// An anonymous caller; 330103 下城区 was abolished in 2021.
		feed: "hotline", line: 8, id: "HZ12345-20200225-10021", version: 1,
		updated: "2020-02-25T03:00:00Z", occurred: "2020-02-25T02:58:00Z",
		region: "330103000000", county: "330105",
		category: "经济管理", rawCategory: "市场监管/价格/哄抬物价",
		status: risk.StatusOpen, rawStatus: "受理", kind: "举报", chanl: "网站",
		head: -1, petitioners: -1, amount: -1,
		tags:    []string{"物资价格"},
		persons: []wantPerson{{role: "caller", anonymous: true}},
		check: func(t *testing.T, ev risk.Event) {
			if !ev.Region.Abolished() || ev.Region.City() != "330100" {
				t.Errorf("Region %+v: Abolished = %v, City = %q; want true, 330100", ev.Region, ev.Region.Abolished(), ev.Region.City())
			}
		},
	},
	{feed: "hotline", line: 9, err: "hotline: caseNo is empty"},
	{feed: "hotline", line: 10, err: `hotline: updateTime "not a time"`},
	{feed: "hotline", line: 11, err: "hotline: value is not valid JSON"},
	{feed: "hotline", line: 12, err: "hotline: value is not a JSON object (array)"},

	{
		feed: "petition", line: 1, id: "330681-2020-02-000457", version: 1,
		updated: "2020-02-24T02:15:00Z", occurred: "2020-02-24T02:12:00Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障_拖欠工资",
		status: risk.StatusOpen, rawStatus: "登记", kind: "来访", chanl: "来访",
		head: 23, petitioners: 8, amount: -1, collective: true,
		// The example ID's check digit is wrong (X is right): keyed as written.
		warnings: []string{"petitioners[0].idNo: check digit wrong; keyed as written"},
		persons:  []wantPerson{liHaijun, zhaoXiaoping},
		check: func(t *testing.T, ev risk.Event) {
			if ev.RegisterOrg != "诸暨市信访局" || ev.RegisterLevel != "县" {
				t.Errorf("RegisterOrg, RegisterLevel = %q, %q; want 诸暨市信访局, 县", ev.RegisterOrg, ev.RegisterLevel)
			}
			want := "枫桥镇XX村安置房项目工地包工头拖欠23名工人工资约46万元，多次向镇里反映未果。\n要求开发商和施工单位立即支付拖欠工资。"
			if ev.Text != want {
				t.Errorf("Text = %q, want %q", ev.Text, want)
			}
		},
	},
	{
		feed: "petition", line: 2, id: "330681-2020-02-000457", version: 2,
		updated: "2020-02-24T07:02:00Z", occurred: "2020-02-24T02:12:00Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障_拖欠工资",
		status: risk.StatusOpen, rawStatus: "受理", kind: "来访", chanl: "来访",
		head: 23, petitioners: 8, amount: -1, collective: true,
		warnings: []string{"petitioners[0].idNo: check digit wrong"},
		persons:  []wantPerson{liHaijun, zhaoXiaoping},
		check: func(t *testing.T, ev risk.Event) {
			if want := utc(t, "2020-02-24T07:00:00Z"); !ev.AcceptedAt.Equal(want) {
				t.Errorf("AcceptedAt = %v, want %v", ev.AcceptedAt, want)
			}
			if want := utc(t, "2020-04-24T07:00:00Z"); !ev.Deadline.Equal(want) {
				t.Errorf("Deadline = %v, want %v", ev.Deadline, want)
			}
		},
	},
	{
		// At the province, about a matter of a town: skip-level and repeat.
		feed: "petition", line: 3, id: "33-2020-03-010220", version: 1,
		updated: "2020-03-02T01:00:00Z", occurred: "2020-03-02T00:55:00Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障_拖欠工资",
		status: risk.StatusInProgress, rawStatus: "交办", kind: "来访", chanl: "来访",
		head: -1, petitioners: 3, amount: -1, repeat: true, skip: true,
		warnings: []string{"petitioners[0].idNo: check digit wrong"},
		persons:  []wantPerson{{role: "petitioner", name: "李*军", clearName: "李海军", clearID: "330681198304125431", idDigits: "330681198304125431"}},
		check: func(t *testing.T, ev risk.Event) {
			if ev.RepeatNum != 1 || ev.RegisterLevel != "省" || ev.RegisterOrg != "浙江省信访局" {
				t.Errorf("RepeatNum, RegisterLevel, RegisterOrg = %d, %q, %q; want 1, 省, 浙江省信访局", ev.RepeatNum, ev.RegisterLevel, ev.RegisterOrg)
			}
		},
	},
	{
		feed: "petition", line: 4, id: "330681-2020-02-000502", version: 1,
		updated: "2020-02-27T03:00:00Z", occurred: "2020-02-27T02:40:00Z",
		region: "330681003000", county: "330681", town: "330681003",
		category: "物业纠纷", rawCategory: "房产物业_物业管理",
		status: risk.StatusOpen, rawStatus: "登记", kind: "网上", chanl: "网上",
		head: -1, petitioners: 1, amount: -1,
		tags:    []string{"疫情防控"},
		persons: []wantPerson{{role: "petitioner", name: "周*", phone: "159****2345", clearName: "周丽", clearPhone: "15967512345", phoneDigits: "15967512345"}},
	},
	{
		// Six pseudonymous co-signers and no groupFlag: collective all the same.
		feed: "petition", line: 5, id: "330681-2020-02-000503", version: 1,
		updated: "2020-02-27T03:30:00Z", occurred: "2020-02-27T03:20:00Z",
		region: "330681104201", county: "330681", town: "330681104",
		category: "征地拆迁纠纷", rawCategory: "城乡建设_征地拆迁",
		status: risk.StatusOpen, rawStatus: "登记", kind: "来信", chanl: "来信",
		head: -1, petitioners: 6, amount: -1, collective: true,
		persons: []wantPerson{
			{role: "petitioner", name: "钱*", anonymous: true, clearName: "钱某"},
			{role: "petitioner", name: "孙*", anonymous: true, clearName: "孙某"},
			{role: "petitioner", name: "吴*", anonymous: true, clearName: "吴某"},
			{role: "petitioner", name: "郑*", anonymous: true, clearName: "郑某"},
			{role: "petitioner", name: "冯*", anonymous: true, clearName: "冯某"},
			{role: "petitioner", name: "陈*", anonymous: true, clearName: "陈某"},
		},
		check: func(t *testing.T, ev risk.Event) {
			if got := ev.Region.Village(); got != "330681104201" {
				t.Errorf("Region.Village() = %q, want 330681104201", got)
			}
		},
	},
	{
		feed: "petition", line: 6, id: "330681-2020-03-000011", version: 1,
		updated: "2020-03-01T01:00:00Z", occurred: "2020-03-01T00:50:00Z",
		region: "330681109000", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "劳动和社会保障_拖欠工资",
		status: risk.StatusOpen, rawStatus: "登记", kind: "来访", chanl: "来访",
		head: -1, petitioners: 5, amount: -1, collective: true,
		warnings: []string{`petitionerCount "五": read as 5`},
	},
	{feed: "petition", line: 7, err: "petition: registerTime missing"},

	{
		feed: "grid", line: 1, id: "GE330681109-20200222-0031",
		updated: "2020-02-22T08:40:00Z", occurred: "2020-02-22T08:35:00Z",
		region: "330681109201", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "矛盾纠纷/劳资纠纷",
		status: risk.StatusInProgress, rawStatus: "01", kind: "网格上报", chanl: "巡查发现", urgency: 3,
		head: 12, petitioners: -1, amount: 240000,
		persons: []wantPerson{{role: "party", name: "王*国", phone: "138****2345", clearName: "王建国", clearPhone: "13805712345", phoneDigits: "13805712345"}},
		check: func(t *testing.T, ev risk.Event) {
			if ev.GridCode != "33068110920103" || ev.Lng != 120.4312 || ev.Lat != 29.6021 {
				t.Errorf("GridCode, Lng, Lat = %q, %v, %v; want 33068110920103, 120.4312, 29.6021", ev.GridCode, ev.Lng, ev.Lat)
			}
		},
	},
	{
		feed: "grid", line: 2, id: "GE330681109-20200222-0031",
		updated: "2020-02-22T10:00:00Z", occurred: "2020-02-22T08:35:00Z",
		region: "330681109201", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "矛盾纠纷/劳资纠纷",
		status: risk.StatusInProgress, rawStatus: "上报已分流", kind: "网格上报", chanl: "巡查发现", urgency: 3,
		head: 12, petitioners: -1, amount: 240000,
		persons: []wantPerson{{role: "party", name: "王*国", phone: "138****2345", clearName: "王建国", clearPhone: "13805712345", phoneDigits: "13805712345"}},
		check: func(t *testing.T, ev risk.Event) {
			if want := utc(t, "2020-02-25T10:00:00Z"); !ev.Deadline.Equal(want) {
				t.Errorf("Deadline = %v, want %v", ev.Deadline, want)
			}
		},
	},
	{
		// A 15-digit grid code (3-digit grid number); settled on the spot.
		feed: "grid", line: 3, id: "GE330681001-20200223-0007",
		updated: "2020-02-23T02:00:00Z", occurred: "2020-02-23T01:50:00Z",
		region: "330681001003", county: "330681", town: "330681001",
		category: "邻里纠纷", rawCategory: "矛盾纠纷/邻里纠纷",
		status: risk.StatusFinished, rawStatus: "04", kind: "网格上报", chanl: "群众反映", urgency: 1,
		head: 2, petitioners: -1, amount: -1, selfResolved: true,
		check: func(t *testing.T, ev risk.Event) {
			if ev.GridCode != "330681001003021" || ev.Reply != "双方达成谅解" {
				t.Errorf("GridCode, Reply = %q, %q; want 330681001003021, 双方达成谅解", ev.GridCode, ev.Reply)
			}
			if want := utc(t, "2020-02-23T02:00:00Z"); !ev.FinishedAt.Equal(want) {
				t.Errorf("FinishedAt = %v, want %v", ev.FinishedAt, want)
			}
		},
	},
	{
		feed: "grid", line: 4, id: "GE330681104-20200224-0012",
		updated: "2020-02-24T00:30:00Z", occurred: "2020-02-24T00:20:00Z",
		region: "330681104201", county: "330681", town: "330681104",
		category: "卫生健康", rawCategory: "疫情防控/返乡人员排查",
		status: risk.StatusFinished, rawStatus: "04", kind: "网格上报", urgency: 2,
		head: -1, petitioners: -1, amount: -1, selfResolved: true,
		tags:     []string{"健康码", "疫情防控", "返乡人员"},
		warnings: []string{"lng/lat: 0,0 is no fix; dropped"},
		check: func(t *testing.T, ev risk.Event) {
			if ev.Lng != 0 || ev.Lat != 0 {
				t.Errorf("Lng, Lat = %v, %v; want 0, 0", ev.Lng, ev.Lat)
			}
		},
	},
	{
		feed: "grid", line: 5, id: "GE330681109-20200222-0031X",
		updated: "2020-02-22T08:41:00Z", occurred: "2020-02-22T08:36:00Z",
		region: "330681109201", county: "330681", town: "330681109",
		category: "劳资纠纷", rawCategory: "矛盾纠纷/劳资纠纷",
		status: risk.StatusDeleted, rawStatus: "06", kind: "网格上报",
		head: -1, petitioners: -1, amount: -1,
		check: func(t *testing.T, ev risk.Event) {
			if !ev.Deleted() {
				t.Error("Deleted() = false, want true")
			}
		},
	},
	{feed: "grid", line: 6, err: "grid: gridCode is empty"},
}

// TestExamples decodes every line of the contract examples.
func TestExamples(t *testing.T) {
	p := testProtector(t)
	decs := decoders(New(p))
	covered := map[string]map[int]bool{}
	for _, tc := range exampleCases {
		if covered[tc.feed] == nil {
			covered[tc.feed] = map[int]bool{}
		}
		covered[tc.feed][tc.line] = true
		t.Run(fmt.Sprintf("%s/%d", tc.feed, tc.line), func(t *testing.T) {
			line, ok := exampleLines(t, tc.feed)[tc.line]
			if !ok {
				t.Fatalf("examples/%s.jsonl has no line %d", tc.feed, tc.line)
			}
			ev, err := decs[tc.feed](msg(line))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("got no error, want one containing %q", tc.err)
				}
				if !errors.Is(err, risk.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %q, want one wrapping ErrInvalid and containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkExample(t, p, tc, ev)
		})
	}
	// Every line of every file has a case.
	for feed := range decs {
		for n := range exampleLines(t, feed) {
			if !covered[feed][n] {
				t.Errorf("examples/%s.jsonl line %d has no test case", feed, n)
			}
		}
	}
}

func checkExample(t *testing.T, p *Protector, tc exampleCase, ev risk.Event) {
	t.Helper()
	if ev.Source != risk.Source(tc.feed) || ev.ID != tc.id || ev.Version != tc.version {
		t.Errorf("Source, ID, Version = %s, %q, %d; want %s, %q, %d", ev.Source, ev.ID, ev.Version, tc.feed, tc.id, tc.version)
	}
	if want := utc(t, tc.updated); !ev.UpdatedAt.Equal(want) || ev.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v, want %v in UTC", ev.UpdatedAt, want)
	}
	if want := utc(t, tc.occurred); !ev.OccurredAt.Equal(want) || ev.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v in UTC", ev.OccurredAt, want)
	}
	if ev.Region.Code != tc.region || ev.Region.County() != tc.county || ev.Region.Township() != tc.town || ev.Region.Province() != "330000" {
		t.Errorf("Region %q (county %q, township %q, province %q), want %q (%q, %q, 330000)",
			ev.Region.Code, ev.Region.County(), ev.Region.Township(), ev.Region.Province(), tc.region, tc.county, tc.town)
	}
	if ev.Category != tc.category || ev.RawCategory != tc.rawCategory {
		t.Errorf("Category, RawCategory = %q, %q; want %q, %q", ev.Category, ev.RawCategory, tc.category, tc.rawCategory)
	}
	if ev.Status != tc.status || ev.RawStatus != tc.rawStatus {
		t.Errorf("Status, RawStatus = %q, %q; want %q, %q", ev.Status, ev.RawStatus, tc.status, tc.rawStatus)
	}
	if ev.Kind != tc.kind || ev.Channel != tc.chanl || ev.Urgency != tc.urgency {
		t.Errorf("Kind, Channel, Urgency = %q, %q, %d; want %q, %q, %d", ev.Kind, ev.Channel, ev.Urgency, tc.kind, tc.chanl, tc.urgency)
	}
	if ev.HeadCount != tc.head || ev.PetitionerCount != tc.petitioners || ev.Amount != tc.amount {
		t.Errorf("HeadCount, PetitionerCount, Amount = %d, %d, %v; want %d, %d, %v", ev.HeadCount, ev.PetitionerCount, ev.Amount, tc.head, tc.petitioners, tc.amount)
	}
	if ev.Collective != tc.collective || ev.Repeat != tc.repeat || ev.SkipLevel != tc.skip || ev.SelfResolved != tc.selfResolved || ev.AnswerRejected != tc.rejected {
		t.Errorf("Collective, Repeat, SkipLevel, SelfResolved, AnswerRejected = %v, %v, %v, %v, %v; want %v, %v, %v, %v, %v",
			ev.Collective, ev.Repeat, ev.SkipLevel, ev.SelfResolved, ev.AnswerRejected, tc.collective, tc.repeat, tc.skip, tc.selfResolved, tc.rejected)
	}
	if !slices.Equal(ev.Tags, tc.tags) {
		t.Errorf("Tags = %q, want %q", ev.Tags, tc.tags)
	}
	if len(ev.Warnings) != len(tc.warnings) {
		t.Errorf("Warnings = %q, want %d containing %q", ev.Warnings, len(tc.warnings), tc.warnings)
	} else {
		for i, w := range tc.warnings {
			if !strings.Contains(ev.Warnings[i], w) {
				t.Errorf("Warnings[%d] = %q, want it to contain %q", i, ev.Warnings[i], w)
			}
		}
	}
	if len(ev.Persons) != len(tc.persons) {
		t.Fatalf("got %d persons %+v, want %d", len(ev.Persons), ev.Persons, len(tc.persons))
	}
	for i, w := range tc.persons {
		checkPerson(t, p, i, ev.Persons[i], w)
	}
	if tc.check != nil {
		tc.check(t, ev)
	}
}

func checkPerson(t *testing.T, p *Protector, i int, got risk.Person, w wantPerson) {
	t.Helper()
	if got.Role != w.role || got.Name != w.name || got.Phone != w.phone || got.Anonymous != w.anonymous {
		t.Errorf("Persons[%d] Role, Name, Phone, Anonymous = %q, %q, %q, %v; want %q, %q, %q, %v",
			i, got.Role, got.Name, got.Phone, got.Anonymous, w.role, w.name, w.phone, w.anonymous)
	}
	wantPhoneKey, wantIDKey := "", ""
	if w.phoneDigits != "" {
		wantPhoneKey, _ = p.PhoneKey(w.phoneDigits)
	}
	if w.idDigits != "" {
		wantIDKey, _ = p.IDKey(w.idDigits)
	}
	if got.PhoneKey != wantPhoneKey || got.IDKey != wantIDKey {
		t.Errorf("Persons[%d] PhoneKey, IDKey = %q, %q; want %q, %q", i, got.PhoneKey, got.IDKey, wantPhoneKey, wantIDKey)
	}
	if w.clearName == "" && w.clearPhone == "" && w.clearID == "" {
		if got.Sealed != "" {
			t.Errorf("Persons[%d].Sealed = %q, want none", i, got.Sealed)
		}
		return
	}
	name, phone, id, err := p.Open(got.Sealed)
	if err != nil || name != w.clearName || phone != w.clearPhone || id != w.clearID {
		t.Errorf("Open(Persons[%d].Sealed) = %q, %q, %q, %v; want %q, %q, %q, nil", i, name, phone, id, err, w.clearName, w.clearPhone, w.clearID)
	}
}
