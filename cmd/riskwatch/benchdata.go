package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// benchMessages makes n messages shaped like the contract examples: half
// hotline work orders, a third grid events, the rest petitions; each record
// republished in 2–5 versions; Chinese text of 60–400 characters; callers
// with phone numbers in the formats upstream sends. The mix and sizes follow
// contracts/README.md's volumes. Every message is distinct.
func benchMessages(n int, seed uint64) map[risk.Source][]kafka.Message {
	r := rand.New(rand.NewPCG(seed, 1))
	out := map[risk.Source][]kafka.Message{}
	base := time.Date(2020, 2, 1, 0, 0, 0, 0, risk.CST)
	for rec := 0; n > 0; rec++ {
		versions := min(2+r.IntN(4), n)
		n -= versions
		at := base.Add(time.Duration(r.IntN(60*24*3600)) * time.Second)
		src := risk.SourceHotline
		switch x := r.IntN(100); {
		case x >= 85:
			src = risk.SourcePetition
		case x >= 50:
			src = risk.SourceGrid
		}
		for v := 1; v <= versions; v++ {
			updated := at.Add(time.Duration(v) * 37 * time.Minute)
			var m map[string]any
			switch src {
			case risk.SourceHotline:
				m = benchHotline(r, rec, v, at, updated)
			case risk.SourcePetition:
				m = benchPetition(r, rec, v, at, updated)
			default:
				m = benchGrid(r, rec, v, at, updated)
			}
			b, _ := json.Marshal(m)
			out[src] = append(out[src], kafka.Message{Key: []byte(m[idField[src]].(string)), Value: b})
		}
	}
	return out
}

var idField = map[risk.Source]string{risk.SourceHotline: "caseNo", risk.SourcePetition: "petitionNo", risk.SourceGrid: "eventId"}

var (
	benchTownships = []string{"330681109", "330681001", "330681003", "330681104", "330681002", "330681105"}
	benchTexts     = []string{
		"来电人反映其在诸暨市枫桥镇某村安置房项目工地务工，包工头拖欠工人工资共计约十余万元，春节前承诺发放至今未兑现，工人们多次讨要未果，希望相关部门尽快协调处理。",
		"小区物业疫情期间不让外卖进小区，老人买菜困难，多次与物业沟通无果，物业费照收服务缩水，业主意见很大，请求街道督促物业整改。",
		"村里征地补偿款分配不公，部分村民认为测量面积有误，多次向村委会反映没有答复，村民情绪较大，要求公开补偿明细并重新核算。",
		"楼上住户长期在夜间装修，噪音扰民，双方发生口角，已经影响老人和孩子休息，希望社区出面调解。",
		"工厂复工后夜间排放刺鼻气体，周边居民晚上不敢开窗，担心影响身体健康，请环保部门夜间来检查。",
		"本人从外地返回已满十四天，健康码仍为黄码，无法返岗复工，单位要求提供绿码，请问如何申诉转码，希望尽快答复。",
	}
	benchCatalogs = []string{"劳动和社会保障/劳动关系/拖欠工资", "房产物业/物业管理/物业服务", "城乡建设/征地拆迁/补偿安置", "生态环境/大气污染", "卫生健康/疫情防控/健康码"}
	benchClasses  = []string{"劳动和社会保障_拖欠工资", "城乡建设_征地拆迁", "房产物业_物业管理", "农村农业_土地承包"}
	benchSubTypes = []string{"劳资纠纷", "邻里纠纷", "土地纠纷", "物业纠纷", "婚姻家庭纠纷"}
	benchNames    = []string{"王建国", "李海军", "赵小平", "孙美英", "周丽", "陈立", "钱伟", "郑红梅"}
)

func benchPhone(r *rand.Rand) string {
	d := fmt.Sprintf("13%d%08d", 5+r.IntN(5), r.IntN(100000000))
	switch r.IntN(4) {
	case 0:
		return d[:3] + " " + d[3:7] + " " + d[7:]
	case 1:
		return "+86-" + d[:3] + "-" + d[3:7] + "-" + d[7:]
	}
	return d
}

func benchText(r *rand.Rand) string {
	t := benchTexts[r.IntN(len(benchTexts))]
	for r.IntN(3) == 0 {
		t += benchTexts[r.IntN(len(benchTexts))]
	}
	return t
}

func benchHotline(r *rand.Rand, rec, v int, at, updated time.Time) map[string]any {
	statuses := []string{"受理", "派单", "签收", "办理中", "办结"}
	return map[string]any{
		"caseNo": fmt.Sprintf("ZJSX12345-%s-%07d", at.Format("20060102"), rec), "version": v,
		"updateTime": updated.Format("2006-01-02 15:04:05"), "callTime": at.Format("2006-01-02 15:04:05"),
		"channel": "电话", "contactUser": benchNames[r.IntN(len(benchNames))], "contactTel": benchPhone(r),
		"appealType": "投诉", "catalog": benchCatalogs[r.IntN(len(benchCatalogs))],
		"title": "反映问题", "content": benchText(r), "address": "诸暨市枫桥镇某村",
		"regionCode": benchTownships[r.IntN(len(benchTownships))], "urgency": "一般",
		"handleUnit": "诸暨市人力社保局", "deadline": at.Add(5 * 24 * time.Hour).Format("2006-01-02 15:04:05"),
		"status": statuses[min(v-1, len(statuses)-1)], "involvedCount": 1 + r.IntN(20), "involvedAmount": r.IntN(500000),
	}
}

func benchPetition(r *rand.Rand, rec, v int, at, updated time.Time) map[string]any {
	statuses := []string{"登记", "受理", "交办", "办理中", "答复"}
	people := []map[string]any{{"name": benchNames[r.IntN(len(benchNames))], "idNo": "330681198304125431", "phone": benchPhone(r)}}
	for range r.IntN(3) {
		people = append(people, map[string]any{"name": benchNames[r.IntN(len(benchNames))], "phone": benchPhone(r)})
	}
	return map[string]any{
		"petitionNo": fmt.Sprintf("330681-%s-%06d", at.Format("2006-01"), rec), "version": v,
		"updateTime": updated.Format(time.RFC3339), "registerTime": at.Format(time.RFC3339),
		"form": "来访", "registerOrg": "诸暨市信访局", "registerLevel": "县", "petitioners": people,
		"petitionerCount": len(people), "involvedCount": len(people) * 3, "contentClass": benchClasses[r.IntN(len(benchClasses))],
		"issueRegionCode": benchTownships[r.IntN(len(benchTownships))] + "000", "mainFacts": benchText(r),
		"mainRequest": "要求尽快解决。", "status": statuses[min(v-1, len(statuses)-1)],
	}
}

func benchGrid(r *rand.Rand, rec, v int, at, updated time.Time) map[string]any {
	statuses := []string{"00", "01", "02", "03", "04"}
	return map[string]any{
		"eventId":    fmt.Sprintf("GE%s-%s-%06d", benchTownships[rec%len(benchTownships)], at.Format("20060102"), rec),
		"updateTime": updated.UnixMilli(), "gridCode": benchTownships[rec%len(benchTownships)] + "20103",
		"gridName": "第三网格", "reporterId": "WG0331", "reporterName": "陈立", "reportTime": at.UnixMilli(),
		"bigType": "矛盾纠纷", "subType": benchSubTypes[r.IntN(len(benchSubTypes))], "source": "巡查发现",
		"content": benchText(r), "address": "枫桥镇某村", "lng": 120.43, "lat": 29.60,
		"involvedNum": 1 + r.IntN(12), "urgency": "中", "status": statuses[min(v-1, len(statuses)-1)],
		"parties": []map[string]any{{"name": benchNames[r.IntN(len(benchNames))], "phone": benchPhone(r)}},
	}
}
