package normalize

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"
	"golang.org/x/text/encoding/simplifiedchinese"

	risk "riskwatch"
)

// Minimal valid records of each feed, to change one field at a time.
const (
	minHotline  = `{"caseNo":"H-1","updateTime":"2020-02-21 09:31:02","callTime":"2020-02-21 09:30:15","appealType":"投诉","catalog":"其他","content":"内容","regionCode":"330681109","status":"受理"%s}`
	minPetition = `{"petitionNo":"P-1","updateTime":"2020-02-24 10:15:00","registerTime":"2020-02-24 10:12:00","form":"来访","registerOrg":"诸暨市信访局","registerLevel":"县","petitioners":[],"petitionerCount":1,"contentClass":"其他","issueRegionCode":"330681","mainFacts":"事实","status":"登记"%s}`
	minGrid     = `{"eventId":"G-1","updateTime":"2020-02-22 16:40:00","gridCode":"33068110920103","reporterId":"WG1","reportTime":"2020-02-22 16:35:00","bigType":"矛盾纠纷","subType":"邻里纠纷","content":"内容","status":"00"%s}`
)

var minimal = map[string]string{"hotline": minHotline, "petition": minPetition, "grid": minGrid}

// with returns the minimal record of feed with extra fields appended (a
// later duplicate key replaces the earlier one).
func with(feed, extra string) []byte {
	if extra != "" {
		extra = "," + extra
	}
	return []byte(fmt.Sprintf(minimal[feed], extra))
}

// TestBadMessages covers the kinds of bad message in contracts/README.md
// and the essential fields: each is rejected with ErrInvalid and a reason.
func TestBadMessages(t *testing.T) {
	decs := decoders(New(testProtector(t)))
	tests := []struct {
		feed, name string
		value      []byte
		want       string
	}{
		{"hotline", "truncated JSON", with("hotline", "")[:60], "hotline: value is not valid JSON"},
		{"petition", "truncated JSON", with("petition", "")[:100], "petition: value is not valid JSON"},
		{"grid", "truncated JSON", with("grid", "")[:80], "grid: value is not valid JSON"},
		{"hotline", "array", []byte(`["not","an","object"]`), "hotline: value is not a JSON object (array)"},
		{"petition", "string", []byte(`"x"`), "petition: value is not a JSON object (string)"},
		{"grid", "number", []byte(`42`), "grid: value is not a JSON object (number)"},
		{"grid", "null", []byte(`null`), "grid: value is not a JSON object (null)"},
		{"hotline", "empty value", nil, "hotline: value is empty"},
		{"hotline", "only spaces", []byte(" \n "), "hotline: value is empty"},
		{"hotline", "trailing garbage", append(with("hotline", ""), " x"...), "hotline: value is not valid JSON"},
		{"hotline", "not UTF-8 nor GB18030", []byte("{\"caseNo\":\"\xff\xff\"}"), "hotline: value is not valid UTF-8"},
		{"hotline", "empty caseNo", with("hotline", `"caseNo":""`), "hotline: caseNo is empty"},
		{"hotline", "blank caseNo", with("hotline", `"caseNo":"  "`), "hotline: caseNo is empty"},
		{"hotline", "null caseNo", with("hotline", `"caseNo":null`), "hotline: caseNo missing"},
		{"hotline", "caseNo object", with("hotline", `"caseNo":{}`), "hotline: caseNo is a JSON object"},
		{"petition", "empty petitionNo", with("petition", `"petitionNo":""`), "petition: petitionNo is empty"},
		{"grid", "empty eventId", with("grid", `"eventId":""`), "grid: eventId is empty"},
		{"hotline", "bad updateTime", with("hotline", `"updateTime":"not a time"`), `hotline: updateTime "not a time": unparseable time`},
		{"hotline", "bad callTime", with("hotline", `"callTime":"2020-13-01 00:00:00"`), `hotline: callTime "2020-13-01 00:00:00"`},
		{"hotline", "callTime a boolean", with("hotline", `"callTime":true`), "hotline: callTime true"},
		{"hotline", "implausible year", with("hotline", `"updateTime":"1970-01-01 00:00:00"`), "hotline: updateTime"},
		{"hotline", "epoch seconds as milliseconds", with("hotline", `"updateTime":1582248615`+"000000"), "hotline: updateTime"},
		{"petition", "no registerTime", with("petition", `"registerTime":null`), "petition: registerTime missing"},
		{"petition", "bad updateTime", with("petition", `"updateTime":"2020-02-30 10:00"`), "petition: updateTime"},
		{"grid", "no reportTime", with("grid", `"reportTime":""`), "grid: reportTime"},
		{"grid", "no gridCode", with("grid", `"gridCode":null`), "grid: gridCode missing"},
		{"grid", "short gridCode", with("grid", `"gridCode":"330681109201"`), `grid: gridCode "330681109201"`},
		{"grid", "gridCode with letters", with("grid", `"gridCode":"3306811092010A"`), "grid: gridCode"},
		{"grid", "gridCode of no province", with("grid", `"gridCode":"99068110920103"`), `grid: gridCode "99068110920103": no such province`},
	}
	for _, tt := range tests {
		t.Run(tt.feed+"/"+tt.name, func(t *testing.T) {
			_, err := decs[tt.feed](msg(tt.value))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !errors.Is(err, risk.ErrInvalid) {
				t.Errorf("got error %v, want it to wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestPartialRecords covers bad fields that are not essential: the record
// is kept, the field left empty, and a warning says so.
func TestPartialRecords(t *testing.T) {
	decs := decoders(New(testProtector(t)))
	tests := []struct {
		feed, name, extra string
		warning           string // part of each warning expected, one a line; "" for none
		check             func(t *testing.T, ev risk.Event)
	}{
		{"hotline", "number where a string belongs", `"title":123`, "title is a JSON number", func(t *testing.T, ev risk.Event) {
			if ev.Title != "" {
				t.Errorf("Title = %q, want empty", ev.Title)
			}
		}},
		{"hotline", "count 8人", `"involvedCount":"8人"`, `involvedCount "8人": read as 8`, headCount(8)},
		{"hotline", "count 约12名", `"involvedCount":"约12名"`, "read as 12", headCount(12)},
		{"hotline", "count 十余人", `"involvedCount":"十余人"`, "read as 10", headCount(10)},
		{"hotline", "count 二十三", `"involvedCount":"二十三"`, "read as 23", headCount(23)},
		{"hotline", "count full-width", `"involvedCount":"８人"`, "read as 8", headCount(8)},
		{"hotline", "count numeric string", `"involvedCount":"12"`, "", headCount(12)},
		{"hotline", "count integral float", `"involvedCount":12.0`, "", headCount(12)},
		{"hotline", "count fraction", `"involvedCount":2.5`, "not a whole number", headCount(-1)},
		{"hotline", "count negative", `"involvedCount":-3`, "negative", headCount(-1)},
		{"hotline", "count negative string", `"involvedCount":"-3"`, "negative", headCount(-1)},
		{"hotline", "count words", `"involvedCount":"很多人"`, "not a count", headCount(-1)},
		{"hotline", "count a phone number", `"involvedCount":"13805712345"`, "too large", headCount(-1)},
		{"hotline", "count an array", `"involvedCount":[1]`, "want a number", headCount(-1)},
		{"hotline", "count null", `"involvedCount":null`, "", headCount(-1)},
		{"hotline", "amount 16万元", `"involvedAmount":"约16万元"`, "read as 160000", amount(160000)},
		{"hotline", "amount string", `"involvedAmount":"1234.5"`, "", amount(1234.5)},
		{"hotline", "amount negative", `"involvedAmount":-1`, "negative", amount(-1)},
		{"hotline", "unknown status", `"status":"待定"`, `status "待定": unknown`, func(t *testing.T, ev risk.Event) {
			if ev.Status != "" || ev.RawStatus != "待定" {
				t.Errorf("Status, RawStatus = %q, %q; want empty, 待定", ev.Status, ev.RawStatus)
			}
		}},
		{"hotline", "reopened", `"status":"重办"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Status != risk.StatusReopened || !ev.AnswerRejected {
				t.Errorf("Status, AnswerRejected = %q, %v; want reopened, true", ev.Status, ev.AnswerRejected)
			}
		}},
		{"hotline", "not satisfied", `"status":"回访","satisfaction":"不满意"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Status != risk.StatusFinished || ev.Satisfaction != 4 || !ev.AnswerRejected {
				t.Errorf("Status, Satisfaction, AnswerRejected = %q, %d, %v; want finished, 4, true", ev.Status, ev.Satisfaction, ev.AnswerRejected)
			}
		}},
		{"hotline", "basically satisfied", `"satisfaction":"基本满意","resolved":"已解决"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Satisfaction != 3 || ev.AnswerRejected {
				t.Errorf("Satisfaction, AnswerRejected = %d, %v; want 3, false", ev.Satisfaction, ev.AnswerRejected)
			}
		}},
		{"hotline", "not solved", `"satisfaction":"满意","resolved":"未解决"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Satisfaction != 2 || !ev.AnswerRejected {
				t.Errorf("Satisfaction, AnswerRejected = %d, %v; want 2, true", ev.Satisfaction, ev.AnswerRejected)
			}
		}},
		{"hotline", "unknown urgency", `"urgency":"火急"`, `urgency "火急": unknown`, nil},
		{"hotline", "urgency 特急", `"urgency":"特急"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Urgency != 3 {
				t.Errorf("Urgency = %d, want 3", ev.Urgency)
			}
		}},
		{"hotline", "unknown appealType kept", `"appealType":"求证"`, `appealType "求证": unknown`, func(t *testing.T, ev risk.Event) {
			if ev.Kind != "求证" {
				t.Errorf("Kind = %q, want 求证", ev.Kind)
			}
		}},
		{"hotline", "bad optional time", `"deadline":"下周"`, `deadline "下周": not a time`, func(t *testing.T, ev risk.Event) {
			if !ev.Deadline.IsZero() {
				t.Errorf("Deadline = %v, want zero", ev.Deadline)
			}
		}},
		{"hotline", "region inferred", `"regionCode":"","address":"诸暨市枫桥镇某村"`, "region inferred from address", region("330681109000")},
		{"hotline", "bad region code inferred", `"regionCode":"3306","address":"杭州市西湖区文三路"`, "regionCode \"3306\": not a 6, 9 or 12-digit region code\nregion inferred from address", region("330106000000")},
		{"hotline", "region as a number", `"regionCode":330681109`, "", region("330681109000")},
		{"hotline", "region unknown", `"regionCode":null,"address":"某地"`, "regionCode missing and no known place", region("")},
		{"hotline", "version as string", `"version":"7"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Version != 7 {
				t.Errorf("Version = %d, want 7", ev.Version)
			}
		}},
		{"hotline", "bad version", `"version":-1`, `version -1: not a whole number`, nil},
		{"hotline", "masked phone", `"contactUser":"王**","contactTel":"138****2345"`, "contactTel: masked upstream; no key", func(t *testing.T, ev risk.Event) {
			if p := ev.Persons[0]; !p.Anonymous || p.PhoneKey != "" || p.Phone != "" || p.Name != "王**" {
				t.Errorf("caller = %+v, want anonymous 王** without phone", p)
			}
		}},
		{"hotline", "bad phone", `"contactUser":"王建国","contactTel":"1380571"`, "contactTel: not a usable phone number; no key", nil},
		{"hotline", "bad id", `"callerIdNo":"33068119830412"`, "callerIdNo: not a resident ID number", nil},
		{"hotline", "id with lower x", `"callerIdNo":"33068119830412543x"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Persons[0].IDKey == "" || ev.Persons[0].Anonymous {
				t.Errorf("caller = %+v, want an IDKey", ev.Persons[0])
			}
		}},
		{"hotline", "phone as a number", `"contactTel":13805712345`, "", func(t *testing.T, ev risk.Event) {
			if ev.Persons[0].Phone != "138****2345" {
				t.Errorf("Phone = %q, want 138****2345", ev.Persons[0].Phone)
			}
		}},
		{"hotline", "numbers and name in text masked", `"contactUser":"王建国","content":"王建国反映，电话13805712345，身份证330681198304125431。"`, "", func(t *testing.T, ev risk.Event) {
			if want := "王*国反映，电话138****2345，身份证330681********5431。"; ev.Text != want {
				t.Errorf("Text = %q, want %q", ev.Text, want)
			}
		}},
		{"petition", "form code", `"form":"3"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Kind != "电话" || ev.Channel != "电话" {
				t.Errorf("Kind, Channel = %q, %q; want 电话, 电话", ev.Kind, ev.Channel)
			}
		}},
		{"petition", "unknown form", `"form":9`, `form "9": unknown`, nil},
		{"petition", "unknown register level", `"registerLevel":"村"`, `registerLevel "村": unknown`, nil},
		{"petition", "register level 省级", `"registerLevel":"省级"`, "", func(t *testing.T, ev risk.Event) {
			if ev.RegisterLevel != "省" {
				t.Errorf("RegisterLevel = %q, want 省", ev.RegisterLevel)
			}
		}},
		{"petition", "review rejects the answer", `"status":"复核"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Status != risk.StatusReopened || !ev.AnswerRejected {
				t.Errorf("Status, AnswerRejected = %q, %v; want reopened, true", ev.Status, ev.AnswerRejected)
			}
		}},
		{"petition", "dissatisfied", `"status":"办结","satisfaction":5`, "", func(t *testing.T, ev risk.Event) {
			if ev.Satisfaction != 5 || !ev.AnswerRejected || ev.Status != risk.StatusFinished {
				t.Errorf("Satisfaction, AnswerRejected, Status = %d, %v, %q; want 5, true, finished", ev.Satisfaction, ev.AnswerRejected, ev.Status)
			}
		}},
		{"petition", "satisfaction out of range", `"satisfaction":9`, "satisfaction 9: want a whole number from 1 to 5", nil},
		{"petition", "groupFlag as a string", `"groupFlag":"是"`, "groupFlag is a string; read as true", collective(true)},
		{"petition", "five listed petitioners", `"petitioners":[{},{},{},{},{}]`, "", collective(true)},
		{"petition", "petitioner not an object", `"petitioners":["王建国"]`, "petitioners[0] is a JSON string, want an object", func(t *testing.T, ev risk.Event) {
			if len(ev.Persons) != 0 {
				t.Errorf("Persons = %+v, want none", ev.Persons)
			}
		}},
		{"petition", "petitioners not an array", `"petitioners":{"name":"王建国"}`, "petitioners is a JSON object, want an array", nil},
		{"petition", "repeatNum", `"repeatFlag":true,"repeatNum":"4"`, "", func(t *testing.T, ev risk.Event) {
			if !ev.Repeat || ev.RepeatNum != 4 {
				t.Errorf("Repeat, RepeatNum = %v, %d; want true, 4", ev.Repeat, ev.RepeatNum)
			}
		}},
		{"grid", "status word", `"status":"已删除"`, "", func(t *testing.T, ev risk.Event) {
			if !ev.Deleted() || ev.RawStatus != "已删除" {
				t.Errorf("Status, RawStatus = %q, %q; want deleted, 已删除", ev.Status, ev.RawStatus)
			}
		}},
		{"grid", "unknown status code", `"status":"09"`, `status "09": unknown`, nil},
		{"grid", "count 8人", `"involvedNum":"8人"`, `involvedNum "8人": read as 8`, headCount(8)},
		{"grid", "outside China", `"lng":2.35,"lat":48.85`, "lng/lat: outside China; dropped", func(t *testing.T, ev risk.Event) {
			if ev.Lng != 0 || ev.Lat != 0 {
				t.Errorf("Lng, Lat = %v, %v; want 0, 0", ev.Lng, ev.Lat)
			}
		}},
		{"grid", "only lng", `"lng":120.1`, "not a pair of numbers", nil},
		{"grid", "coordinates as strings", `"lng":"120.4312","lat":"29.6021"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Lng != 120.4312 || ev.Lat != 29.6021 {
				t.Errorf("Lng, Lat = %v, %v; want 120.4312, 29.6021", ev.Lng, ev.Lat)
			}
		}},
		{"grid", "urgency code", `"urgency":"02"`, "", func(t *testing.T, ev risk.Event) {
			if ev.Urgency != 2 {
				t.Errorf("Urgency = %d, want 2", ev.Urgency)
			}
		}},
		{"grid", "party with an ID", `"parties":[{"name":"欧阳小明","idNo":"330681830412543"}]`, "", func(t *testing.T, ev risk.Event) {
			p := ev.Persons[0]
			key, _ := testProtector(t).IDKey("33068119830412543X")
			if p.Role != "party" || p.Name != "欧**明" || p.IDKey != key {
				t.Errorf("party = %+v, want 欧**明 keyed as 33068119830412543X", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.feed+"/"+tt.name, func(t *testing.T) {
			ev, err := decs[tt.feed](msg(with(tt.feed, tt.extra)))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			var want []string
			if tt.warning != "" {
				want = strings.Split(tt.warning, "\n")
			}
			if len(ev.Warnings) != len(want) {
				t.Errorf("Warnings = %q, want %d containing %q", ev.Warnings, len(want), want)
			} else {
				for i, w := range want {
					if !strings.Contains(ev.Warnings[i], w) {
						t.Errorf("Warnings[%d] = %q, want it to contain %q", i, ev.Warnings[i], w)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func headCount(n int32) func(*testing.T, risk.Event) {
	return func(t *testing.T, ev risk.Event) {
		if ev.HeadCount != n {
			t.Errorf("HeadCount = %d, want %d", ev.HeadCount, n)
		}
	}
}

func amount(f float64) func(*testing.T, risk.Event) {
	return func(t *testing.T, ev risk.Event) {
		if ev.Amount != f {
			t.Errorf("Amount = %v, want %v", ev.Amount, f)
		}
	}
}

func region(code string) func(*testing.T, risk.Event) {
	return func(t *testing.T, ev risk.Event) {
		if ev.Region.Code != code {
			t.Errorf("Region = %q, want %q", ev.Region.Code, code)
		}
	}
}

func collective(b bool) func(*testing.T, risk.Event) {
	return func(t *testing.T, ev risk.Event) {
		if ev.Collective != b {
			t.Errorf("Collective = %v, want %v", ev.Collective, b)
		}
	}
}

// TestKafkaKey warns when the key names another record and keeps the body's id.
func TestKafkaKey(t *testing.T) {
	n := New(testProtector(t))
	for _, tt := range []struct {
		key, warning string
	}{
		{"", ""},
		{"H-1", ""},
		{" H-1 ", ""},
		{"H-2", `kafka key "H-2" differs from caseNo; kept caseNo`},
	} {
		ev, err := n.Hotline(kafka.Message{Key: []byte(tt.key), Value: with("hotline", "")})
		if err != nil {
			t.Fatalf("key %q: got error %v", tt.key, err)
		}
		if ev.ID != "H-1" {
			t.Errorf("key %q: ID = %q, want H-1", tt.key, ev.ID)
		}
		if got := strings.Join(ev.Warnings, "\n"); got != tt.warning {
			t.Errorf("key %q: Warnings = %q, want %q", tt.key, got, tt.warning)
		}
	}
}

// TestGBK decodes example lines sent GBK-encoded by the legacy gateway: with
// the charset header in any case, the same event as the UTF-8 original.
func TestGBK(t *testing.T) {
	p := testProtector(t)
	n := New(p)
	for _, line := range []int{1, 5, 6} {
		utf := exampleLines(t, "hotline")[line]
		gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes(utf)
		if err != nil {
			t.Fatalf("encode line %d: %v", line, err)
		}
		want, err := n.Hotline(msg(utf))
		if err != nil {
			t.Fatalf("line %d as UTF-8: %v", line, err)
		}
		for _, h := range []kafka.Header{
			{Key: "charset", Value: []byte("gbk")},
			{Key: "Charset", Value: []byte("GBK")},
			{Key: "CHARSET", Value: []byte(" GB18030 ")},
			{Key: "charset", Value: []byte("gb2312")},
		} {
			t.Run(fmt.Sprintf("line %d/%s: %s", line, h.Key, h.Value), func(t *testing.T) {
				got, err := n.Hotline(kafka.Message{Value: gbk, Headers: []kafka.Header{{Key: "trace", Value: []byte("x")}, h}})
				if err != nil {
					t.Fatalf("got error %v", err)
				}
				if !reflect.DeepEqual(withoutSeals(got), withoutSeals(want)) {
					t.Errorf("got  %+v\nwant %+v", withoutSeals(got), withoutSeals(want))
				}
				for i := range got.Persons {
					gn, gp, gi, err1 := p.Open(got.Persons[i].Sealed)
					wn, wp, wi, err2 := p.Open(want.Persons[i].Sealed)
					if err1 != nil || err2 != nil || gn != wn || gp != wp || gi != wi {
						t.Errorf("sealed person %d: got %q %q %q (%v), want %q %q %q (%v)", i, gn, gp, gi, err1, wn, wp, wi, err2)
					}
				}
			})
		}
		t.Run(fmt.Sprintf("line %d/no header", line), func(t *testing.T) {
			got, err := n.Hotline(msg(gbk))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got.Text != want.Text || !slices.ContainsFunc(got.Warnings, func(w string) bool { return strings.Contains(w, "decoded as GB18030") }) {
				t.Errorf("Text = %q, Warnings = %q; want %q and a warning", got.Text, got.Warnings, want.Text)
			}
		})
	}
	t.Run("stale header on UTF-8", func(t *testing.T) {
		got, err := n.Hotline(kafka.Message{Value: exampleLines(t, "hotline")[1], Headers: []kafka.Header{{Key: "charset", Value: []byte("GBK")}}})
		if err != nil || got.Title != "反映枫桥镇某建筑工地拖欠工资" || len(got.Warnings) != 1 {
			t.Errorf("Title, Warnings, err = %q, %q, %v; want the UTF-8 title and one warning", got.Title, got.Warnings, err)
		}
	})
	t.Run("unsupported charset", func(t *testing.T) {
		_, err := n.Hotline(kafka.Message{Value: []byte("{\"caseNo\":\"\xa4\xa4\"}"), Headers: []kafka.Header{{Key: "charset", Value: []byte("Big5")}}})
		if !errors.Is(err, risk.ErrInvalid) || !strings.Contains(err.Error(), `unsupported charset "Big5"`) {
			t.Errorf("got error %v, want unsupported charset", err)
		}
	})
}

// clearPersonal is every clear personal value in the contract examples, in
// the forms they were sent in and normalised.
var clearPersonal = []string{
	"王建国", "孙美英", "李海军", "赵小平", "周丽",
	"13805712345", "138 0571 2345", "0571 2345", "13905758876", "139-0575-8876", "0575-8876",
	"13735298765", "１３７３５２９８７６５", "0575-87021234", "057587021234", "87021234",
	"13905751234", "15967512345", "330681198304125431", "19830412",
}

// TestNoClearPersonalData scans every string an event shows (all fields,
// tags, warnings, persons, but not the sealed boxes) for clear personal data,
// also when it arrives where it does not belong.
func TestNoClearPersonalData(t *testing.T) {
	decs := decoders(New(testProtector(t)))
	var values [][2]string
	for feed := range decs {
		for n, line := range exampleLines(t, feed) {
			values = append(values, [2]string{fmt.Sprintf("%s/%d", feed, n), string(line)})
		}
	}
	// Personal data in the wrong places.
	// A value in the wrong field is masked as a number, or, when it is the
	// name of one of the record's persons, as that name; a name of someone
	// the record does not list cannot be recognised in a field of the wrong kind.
	misplaced := `"title":"王建国 13805712345","involvedCount":"13805712345","status":"138 0571 2345","urgency":"330681198304125431","regionCode":"13905751234","deadline":"13735298765","version":"13905758876","contactUser":"王建国","contactTel":"孙美英","callerIdNo":"0575-87021234","satisfaction":"王建国15967512345","resolved":"１３７３５２９８７６５","handleUnit":"13905751234","address":"13905751234","catalog":"13905751234/王建国"`
	values = append(values, [2]string{"hotline/misplaced", string(with("hotline", misplaced))})
	values = append(values, [2]string{"hotline/misplaced key", string(with("hotline", ""))})
	values = append(values, [2]string{"hotline/misplaced number", string(with("hotline", `"contactUser":13805712345,"callerIdNo":330681198304125431,"regionCode":{"a":"13805712345"}`))})
	values = append(values, [2]string{"grid/misplaced", string(with("grid", `"involvedNum":"电话13805712345","lng":"13805712345","subType":"13905751234","urgency":"李海军","parties":[{"name":"李海军","phone":"李海军","idNo":"13905751234"}]`))})
	values = append(values, [2]string{"petition/misplaced", string(with("petition", `"form":"13805712345","registerLevel":"15967512345","petitionerCount":"赵小平13805712345","contentClass":"13805712345_x","issueRegionCode":13805712345,"petitioners":[{"name":"赵小平","phone":["13735298765"],"idNo":330681198304125431}]`))})
	for _, v := range values {
		t.Run(v[0], func(t *testing.T) {
			feed, _, _ := strings.Cut(v[0], "/")
			m := msg([]byte(v[1]))
			if strings.HasSuffix(v[0], "key") {
				m.Key = []byte("13805712345")
			}
			ev, err := decs[feed](m)
			if err != nil {
				for _, c := range clearPersonal {
					if strings.Contains(err.Error(), c) {
						t.Errorf("error %q shows %q", err, c)
					}
				}
				return
			}
			for field, s := range eventStrings(ev) {
				for _, c := range clearPersonal {
					if strings.Contains(s, c) {
						t.Errorf("%s = %q shows %q", field, s, c)
					}
				}
			}
		})
	}
}

// TestCrossFeedLinks checks that the same person gets the same key in any
// format, in any feed.
func TestCrossFeedLinks(t *testing.T) {
	decs := decoders(New(testProtector(t)))
	person := func(feed string, line, i int) risk.Person {
		t.Helper()
		ev, err := decs[feed](msg(exampleLines(t, feed)[line]))
		if err != nil {
			t.Fatalf("%s line %d: %v", feed, line, err)
		}
		return ev.Persons[i]
	}
	tests := []struct {
		name string
		a, b string
	}{
		{"138 0571 2345 (hotline) = 13805712345 (grid party)", person("hotline", 1, 0).PhoneKey, person("grid", 1, 0).PhoneKey},
		{"full-width (hotline) = 13735298765 (petition)", person("hotline", 5, 0).PhoneKey, person("petition", 1, 1).PhoneKey},
		{"ID at the county = ID at the province", person("petition", 1, 0).IDKey, person("petition", 3, 0).IDKey},
	}
	for _, tt := range tests {
		if tt.a == "" || tt.a != tt.b {
			t.Errorf("%s: got keys %q and %q, want equal and set", tt.name, tt.a, tt.b)
		}
	}
	if a, b := person("hotline", 1, 0).PhoneKey, person("hotline", 6, 0).PhoneKey; a == b {
		t.Errorf("different phones got the same key %q", a)
	}
}

// TestConcurrentDecodes decodes the examples from many goroutines at once
// (run with -race): pooled parsers and buffers must not leak between decodes
// nor into returned events.
func TestConcurrentDecodes(t *testing.T) {
	decs := decoders(New(testProtector(t)))
	type input struct {
		feed string
		line []byte
	}
	var inputs []input
	want := map[int]risk.Event{}
	for feed := range decs {
		for _, line := range exampleLines(t, feed) {
			ev, err := decs[feed](msg(line))
			if err == nil {
				want[len(inputs)] = withoutSeals(ev)
			}
			inputs = append(inputs, input{feed, line})
		}
	}
	var wg sync.WaitGroup
	results := make([][]risk.Event, 8)
	for g := range results {
		wg.Go(func() {
			for range 20 {
				for _, in := range inputs {
					if ev, err := decs[in.feed](msg(in.line)); err == nil {
						results[g] = append(results[g], ev)
					}
				}
			}
		})
	}
	wg.Wait()
	for g, evs := range results {
		k := 0
		for range 20 {
			for i := range inputs {
				w, ok := want[i]
				if !ok {
					continue
				}
				if got := withoutSeals(evs[k]); !reflect.DeepEqual(got, w) {
					t.Fatalf("goroutine %d, input %d: got %+v, want %+v", g, i, got, w)
				}
				k++
			}
		}
	}
}
