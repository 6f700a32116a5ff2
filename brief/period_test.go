package brief

import (
	"testing"
	"time"

	risk "riskwatch"
)

func day(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, risk.CST)
	if err != nil {
		panic(err)
	}
	return t
}

// TestPeriods: each kind of period around the business month's turn, the
// year's end and the Spring Festival of 2020 (25 January, a Saturday; the
// holiday was extended to 2 February).
func TestPeriods(t *testing.T) {
	const f = "2006-01-02"
	for _, tt := range []struct {
		kind, at      string
		from, to      string
		prev, yearAgo string // their starts
		title         string
	}{
		{"business", "2020-01-20 23:59", "2019-12-21", "2020-01-21", "2019-11-21", "2018-12-21", "2020年1月信访业务月（12月21日—1月20日）"},
		{"business", "2020-01-21 00:00", "2020-01-21", "2020-02-21", "2019-12-21", "2019-01-21", "2020年2月信访业务月（1月21日—2月20日）"},
		{"business", "2020-02-29 10:00", "2020-02-21", "2020-03-21", "2020-01-21", "2019-02-21", "2020年3月信访业务月（2月21日—3月20日）"},
		{"business", "2020-12-25 10:00", "2020-12-21", "2021-01-21", "2020-11-21", "2019-12-21", "2021年1月信访业务月（12月21日—1月20日）"},
		// The Spring Festival week: Monday 20 to Sunday 26 January; a year
		// before is 52 weeks back, a Monday too.
		{"week", "2020-01-25 12:00", "2020-01-20", "2020-01-27", "2020-01-13", "2019-01-21", "2020年第4周（1月20日—1月26日）"},
		{"week", "2020-02-02 23:59", "2020-01-27", "2020-02-03", "2020-01-20", "2019-01-28", "2020年第5周（1月27日—2月2日）"},
		{"week", "2019-12-31 08:00", "2019-12-30", "2020-01-06", "2019-12-23", "2018-12-31", "2020年第1周（12月30日—1月5日）"},
		{"month", "2020-03-31 23:00", "2020-03-01", "2020-04-01", "2020-02-01", "2019-03-01", "2020年3月"},
		{"day", "2020-01-25 00:00", "2020-01-25", "2020-01-26", "2020-01-24", "2019-01-26", "2020年1月25日"},
	} {
		p, err := PeriodAt(tt.kind, day(tt.at))
		if err != nil {
			t.Fatal(err)
		}
		got := []string{p.From.Format(f), p.To.Format(f), p.Previous().From.Format(f), p.YearAgo().From.Format(f), p.Title()}
		want := []string{tt.from, tt.to, tt.prev, tt.yearAgo, tt.title}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s at %s: got %q, want %q", tt.kind, tt.at, got, want)
				break
			}
		}
		if p.From.Location() != risk.CST || !p.Previous().To.Equal(p.From) {
			t.Errorf("%s at %s: previous %v does not end where %v starts", tt.kind, tt.at, p.Previous(), p)
		}
		b := p.bounds(history[p.Kind])
		if len(b) != history[p.Kind]+2 || !b[len(b)-2].Equal(p.From) || !b[len(b)-1].Equal(p.To) {
			t.Errorf("%s bounds %v", tt.kind, b)
		}
	}
	if _, err := PeriodAt("quarter", day("2020-01-01 00:00")); err == nil {
		t.Error("quarter: no error")
	}
}
