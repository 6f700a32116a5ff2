package normalize

import (
	"encoding/binary"
	"testing"
)

func TestMaskNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"联系电话13805712345", "联系电话138****2345"},
		{"电话：138 0571 2345。", "电话：138 **** 2345。"},
		{"138-0571-2345", "138-****-2345"},
		{"+86-138-0571-2345", "+86-138-****-2345"},
		{"+8613805712345", "+86138****2345"},
		{"手机１３８０５７１２３４５", "手机１３８****２３４５"},
		{"座机0575-87021234", "座机0575-****1234"},
		{"座机（0575）87021234", "座机（0575）****1234"},
		{"(0575) 8702 1234", "(0575) **** 1234"},
		{"057587021234", "0575****1234"},
		{"010-62345678", "010-****5678"},
		{"身份证330681198304125431", "身份证330681********5431"},
		{"身份证33068119830412543X号", "身份证330681********543X号"},
		{"身份证33068119830412543ｘ", "身份证330681********543ｘ"},
		{"旧身份证330681830412543", "旧身份证330681******543"},
		{"330681 19830412 543X", "330681 ******** 543X"},
		{"13805712345、13905751234", "138****2345、139****1234"},
		{"13805712345 13905751234", "138****2345 139****1234"},
		{"138 0571 2345 和 0575-87021234", "138 **** 2345 和 0575-****1234"},

		// Not personal numbers: left alone.
		{"", ""},
		{"拖欠8名工人2019年下半年工资共计约16万元", "拖欠8名工人2019年下半年工资共计约16万元"},
		{"工单ZJSX12345-20200221-00123", "工单ZJSX12345-20200221-00123"},
		{"信访件330681-2020-02-000457", "信访件330681-2020-02-000457"},
		{"区划330681109000", "区划330681109000"},
		{"2020-02-21 09:30:15", "2020-02-21 09:30:15"},
		{"金额1380571234元", "金额1380571234元"},
		{"12805712345", "12805712345"},
		{"87021234", "87021234"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"１２３", "１２３"},
		{"，。！", "，。！"},
		{"0)", "0)"},
		{"13805712345-", "138****2345-"},
	}
	for _, tt := range tests {
		got, changed := maskNumbers(nil, []byte(tt.in))
		if !changed {
			got = []byte(tt.in)
		}
		if string(got) != tt.want || changed != (tt.in != tt.want) {
			t.Errorf("maskNumbers(%q) = %q, %v; want %q, %v", tt.in, got, changed, tt.want, tt.in != tt.want)
		}
	}
}

// TestMayStartNumber checks the eight-byte filter against the byte-wise test
// for every byte value in every position.
func TestMayStartNumber(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[pos] = byte(c)
			want := c >= '0' && c <= '9' || c == 0xEF
			if got := mayStartNumber(binary.LittleEndian.Uint64(b[:])); got != want {
				t.Errorf("mayStartNumber(byte %#x at %d) = %v, want %v", c, pos, got, want)
			}
		}
	}
	if mayStartNumber(binary.LittleEndian.Uint64([]byte("来电人反"))) {
		t.Error("mayStartNumber(Chinese text) = true, want false")
	}
}
