package normalize

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// Benchmark messages: realistic work orders, petitions and grid events of
// 300–700 bytes of Chinese text with one or two persons, as on the topics.
var (
	benchHotline  = []byte(`{"caseNo":"ZJSX12345-20200221-00123","version":2,"updateTime":"2020-02-21 10:05:40","callTime":"2020-02-21 09:30:15","channel":"电话","contactUser":"王建国","contactTel":"138 0571 2345","appealType":"投诉","catalog":"劳动和社会保障/劳动关系/拖欠工资","title":"反映枫桥镇某建筑工地拖欠工资","content":"来电人反映其在诸暨市枫桥镇XX村安置房项目工地务工，包工头拖欠8名工人2019年下半年工资共计约16万元，春节前承诺发放至今未兑现，工人们表示若再不解决将到镇政府讨说法。","address":"诸暨市枫桥镇XX村安置房工地","regionCode":"330681109","urgency":"一般","handleUnit":"诸暨市人力社保局","deadline":"2020-02-26 17:30:00","status":"派单","involvedCount":8,"involvedAmount":160000}`)
	benchPetition = []byte(`{"petitionNo":"330681-2020-02-000457","version":2,"updateTime":"2020-02-24 15:02:00","registerTime":"2020-02-24 10:12:00","form":"来访","registerOrg":"诸暨市信访局","registerLevel":"县","petitioners":[{"name":"李海军","idNo":"33068119830412543X","phone":"13905751234"},{"name":"赵小平","phone":"13735298765"}],"petitionerCount":8,"involvedCount":23,"groupFlag":true,"repeatFlag":false,"overLevelFlag":false,"contentClass":"劳动和社会保障_拖欠工资","issueRegionCode":"330681109000","mainFacts":"枫桥镇XX村安置房项目工地包工头拖欠23名工人工资约46万元，多次向镇里反映未果。","mainRequest":"要求开发商和施工单位立即支付拖欠工资。","status":"受理","acceptTime":"2020-02-24 15:00:00","deadline":"2020-04-24 15:00:00"}`)
	benchGrid     = []byte(`{"eventId":"GE330681109-20200222-0031","updateTime":"2020-02-22 18:00:00","gridCode":"33068110920103","gridName":"枫桥镇XX村第三网格","reporterId":"WG0331","reporterName":"陈立","reportTime":"2020-02-22 16:35:00","bigType":"矛盾纠纷","subType":"劳资纠纷","source":"巡查发现","content":"安置房工地十余名工人聚集在工地门口讨要工资，情绪激动，扬言要去堵镇政府大门。已现场劝导并报镇综治中心。","address":"枫桥镇XX村安置房工地门口","lng":120.4312,"lat":29.6021,"involvedNum":12,"involvedMoney":240000,"urgency":"01","status":"上报已分流","handleDeadline":"2020-02-25 18:00:00","parties":[{"name":"王建国","phone":"13805712345"}],"selfResolved":false}`)
)

func benchDecode(b *testing.B, dec func(*Normalizer) Decoder, value []byte) {
	n := New(testProtector(b))
	d := dec(n)
	m := kafka.Message{Value: value}
	if _, err := d(m); err != nil {
		b.Fatalf("decode: %v", err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkHotline(b *testing.B) {
	benchDecode(b, func(n *Normalizer) Decoder { return n.Hotline }, benchHotline)
}

func BenchmarkPetition(b *testing.B) {
	benchDecode(b, func(n *Normalizer) Decoder { return n.Petition }, benchPetition)
}

func BenchmarkGrid(b *testing.B) {
	benchDecode(b, func(n *Normalizer) Decoder { return n.Grid }, benchGrid)
}
