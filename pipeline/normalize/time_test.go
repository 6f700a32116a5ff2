package normalize

import (
	"math"
	"testing"
	"time"

	risk "riskwatch"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in, want string // want in RFC 3339, UTC; "" when not a time
	}{
		{"2020-02-21 09:30:15", "2020-02-21T01:30:15Z"},
		{"2020-02-21 09:30", "2020-02-21T01:30:00Z"},
		{"2020/02/21 09:30", "2020-02-21T01:30:00Z"},
		{"2020/2/1 9:30:15", "2020-02-01T01:30:15Z"},
		{"2020.02.21 09:30:15", "2020-02-21T01:30:15Z"},
		{"2020-02-21", "2020-02-20T16:00:00Z"},
		{"2020/2/1", "2020-01-31T16:00:00Z"},
		{"2020-02-21T09:30:15+08:00", "2020-02-21T01:30:15Z"},
		{"2020-02-21T01:30:15Z", "2020-02-21T01:30:15Z"},
		{"2020-02-21t01:30:15z", "2020-02-21T01:30:15Z"},
		{"2020-02-21T09:30:15.123+08:00", "2020-02-21T01:30:15.123Z"},
		{"2020-02-21T01:30:15.123456789Z", "2020-02-21T01:30:15.123456789Z"},
		{"2020-02-21T01:30:15.1234567891Z", "2020-02-21T01:30:15.123456789Z"},
		{"2020-02-21 09:30:15,5", "2020-02-21T01:30:15.5Z"},
		{"2020-02-21T09:30:15+0800", "2020-02-21T01:30:15Z"},
		{"2020-02-21T09:30:15+08", "2020-02-21T01:30:15Z"},
		{"2020-02-21 09:30:15 +08:00", "2020-02-21T01:30:15Z"},
		{"2020-02-20T20:30:15-05:00", "2020-02-21T01:30:15Z"},
		{"2020-02-21  09:30:15", "2020-02-21T01:30:15Z"},
		{" 2020-02-21 09:30:15\t", "2020-02-21T01:30:15Z"},
		{"2020-02-29 00:00:00", "2020-02-28T16:00:00Z"},
		{"1582248615000", "2020-02-21T01:30:15Z"},
		{"1582248615", "2020-02-21T01:30:15Z"},
		{"20200221", "2020-02-20T16:00:00Z"},
		{"202002210930", "2020-02-21T01:30:00Z"},
		{"20200221093015", "2020-02-21T01:30:15Z"},
		{"2000-01-01 00:00:00", "1999-12-31T16:00:00Z"},
		{"2100-12-31 23:59:59", "2100-12-31T15:59:59Z"},

		{"", ""},
		{"not a time", ""},
		{"2020-02-30 09:30", ""},
		{"2019-02-29", ""},
		{"2020-13-01", ""},
		{"2020-00-10", ""},
		{"2020-02-21 24:00", ""},
		{"2020-02-21 09:60", ""},
		{"2020-02-21 09:30:61", ""},
		{"2020-02-21 09", ""},
		{"2020-02-21 09:30:", ""},
		{"2020-02-21 09:30:15.", ""},
		{"2020-02-21 09:30 tomorrow", ""},
		{"2020-02-21T09:30:15+25:00", ""},
		{"2020-02/21", ""},
		{"20-02-21", ""},
		{"1999-12-31 23:59:59", ""},
		{"2101-01-01 00:00:00", ""},
		{"1582248615000000", ""},
		{"123456", ""},
		{"-1582248615", ""},
		{"２０２０-02-21", ""},
	}
	for _, tt := range tests {
		got, ok := ParseTime(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("ParseTime(%q) = %v, true; want false", tt.in, got)
			}
			continue
		}
		want, err := time.Parse(time.RFC3339Nano, tt.want)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC, true", tt.in, got, ok, want)
		}
	}
}

func TestParseTimeNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1582248615000, "2020-02-21T01:30:15Z"},
		{1582248615123, "2020-02-21T01:30:15.123Z"},
		{1582248615, "2020-02-21T01:30:15Z"},
		{1582248615.5, "2020-02-21T01:30:15.5Z"},
		{0, ""},
		{-1, ""},
		{1e17, ""},
		{math.NaN(), ""},
		{math.Inf(1), ""},
		{4102444800000 + 86400000*366, ""}, // 2101
	}
	for _, tt := range tests {
		got, ok := ParseTimeNumber(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("ParseTimeNumber(%v) = %v, true; want false", tt.in, got)
			}
			continue
		}
		want, _ := time.Parse(time.RFC3339Nano, tt.want)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTimeNumber(%v) = %v, %v; want %v in UTC, true", tt.in, got, ok, want)
		}
	}
}

// TestParseTimeAgrees compares the hand-written parser with time.Parse on
// a sweep of valid local times.
func TestParseTimeAgrees(t *testing.T) {
	cst := risk.CST
	start := time.Date(2019, 12, 25, 0, 0, 0, 0, cst)
	for i := range 2000 {
		want := start.Add(time.Duration(i)*7*time.Hour + time.Duration(i%60)*time.Second)
		for _, layout := range []string{"2006-01-02 15:04:05", "2006/1/2 15:04:05", time.RFC3339} {
			s := want.Format(layout)
			got, ok := ParseTime(s)
			if !ok || !got.Equal(want) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", s, got, ok, want)
			}
		}
	}
}
