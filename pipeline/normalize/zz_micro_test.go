package normalize

import (
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func BenchmarkZKey(b *testing.B) {
	p := testProtector(b)
	d := []byte("13805712345")
	for b.Loop() {
		p.appendKey(nil, domainPhone, d)
	}
}
func BenchmarkZSeal(b *testing.B) {
	p := testProtector(b)
	b.ReportAllocs()
	for b.Loop() {
		var tmp []byte
		p.appendSeal(nil, &tmp, []byte("王建国"), []byte("138 0571 2345"), nil)
	}
}
func BenchmarkZValid(b *testing.B) {
	for b.Loop() {
		utf8.Valid(benchPetition)
	}
}
func BenchmarkZParse(b *testing.B) {
	var p fastjson.Parser
	for b.Loop() {
		p.ParseBytes(benchPetition)
	}
}
func BenchmarkZMask(b *testing.B) {
	s := []byte("枫桥镇XX村安置房项目工地包工头拖欠23名工人工资约46万元，多次向镇里反映未果。来电人反映其在诸暨市枫桥镇XX村安置房项目工地务工，包工头拖欠8名工人2019年下半年工资共计约16万元，春节前承诺发放至今未兑现，工人们表示若再不解决将到镇政府讨说法。")
	for b.Loop() {
		maskNumbers(nil, s)
	}
}
func BenchmarkZTags(b *testing.B) {
	s := []byte("枫桥镇XX村安置房项目工地包工头拖欠23名工人工资约46万元，多次向镇里反映未果。来电人反映其在诸暨市枫桥镇XX村安置房项目工地务工，包工头拖欠8名工人2019年下半年工资共计约16万元，春节前承诺发放至今未兑现，工人们表示若再不解决将到镇政府讨说法。")
	for b.Loop() {
		tags([]byte("劳动和社会保障/劳动关系/拖欠工资"), s)
	}
}
func BenchmarkZCategory(b *testing.B) {
	for b.Loop() {
		category([]byte("劳动和社会保障/劳动关系/拖欠工资"), '/')
	}
}
func BenchmarkZTime(b *testing.B) {
	for b.Loop() {
		parseTime([]byte("2020-02-24 15:02:00"))
	}
}
