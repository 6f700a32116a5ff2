package brief

import (
	"fmt"
	"time"

	risk "riskwatch"
)

// Period is a span of the centres' calendar (risk.CST) a brief covers:
// [From, To).
type Period struct {
	Kind string    `json:"kind"` // day, week (Monday to Sunday), month, or business (信访业务月, the 21st to the 20th)
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Kinds are the periods a brief may cover.
var Kinds = []string{"day", "week", "month", "business"}

// history is how many periods before a brief's own the rising test
// compares it with: enough for a mean, short enough to stay in season.
var history = map[string]int{"day": 14, "week": 8, "month": 6, "business": 6}

// PeriodAt returns the period of kind that holds at. An unknown kind is
// ErrInvalid.
func PeriodAt(kind string, at time.Time) (Period, error) {
	at = at.In(risk.CST)
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, risk.CST)
	p := Period{Kind: kind}
	switch kind {
	case "day":
		p.From = day
	case "week":
		p.From = day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
	case "month":
		p.From = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, risk.CST)
	case "business":
		// The business month named after the month it ends in: February's
		// runs from 21 January to 20 February.
		p.From = time.Date(day.Year(), day.Month(), 21, 0, 0, 0, 0, risk.CST)
		if day.Day() <= 20 {
			p.From = p.From.AddDate(0, -1, 0)
		}
	default:
		return Period{}, fmt.Errorf("period %q: want day, week, month or business: %w", kind, risk.ErrInvalid)
	}
	p.To = p.shift(1).From
	return p, nil
}

// shift returns the period n periods after p (before, when n < 0).
func (p Period) shift(n int) Period {
	q := p
	switch p.Kind {
	case "day":
		q.From = p.From.AddDate(0, 0, n)
	case "week":
		q.From = p.From.AddDate(0, 0, 7*n)
	default: // months start on the 1st or the 21st: AddDate never overflows them
		q.From = p.From.AddDate(0, n, 0)
	}
	switch p.Kind {
	case "day":
		q.To = q.From.AddDate(0, 0, 1)
	case "week":
		q.To = q.From.AddDate(0, 0, 7)
	default:
		q.To = q.From.AddDate(0, 1, 0)
	}
	return q
}

// Previous is the period just before p.
func (p Period) Previous() Period { return p.shift(-1) }

// YearAgo is p a year before: days and weeks 52 weeks back, so that
// weekdays (and working days) match; months by the calendar.
func (p Period) YearAgo() Period {
	switch p.Kind {
	case "day":
		return p.shift(-364)
	case "week":
		return p.shift(-52)
	}
	return p.shift(-12)
}

// bounds are the starts of the n periods before p, p's start and its end:
// the bounds of pipeline.MatterReader.Tally, p being the last period.
func (p Period) bounds(n int) []time.Time {
	out := make([]time.Time, 0, n+2)
	for i := n; i > 0; i-- {
		out = append(out, p.shift(-i).From)
	}
	return append(out, p.From, p.To)
}

// Title names the period in Chinese: 2020年2月28日, 2020年第9周（2月24日—3月1日）,
// 2020年2月, 2020年2月信访业务月（1月21日—2月20日）.
func (p Period) Title() string {
	last := p.To.AddDate(0, 0, -1)
	md := func(t time.Time) string { return fmt.Sprintf("%d月%d日", t.Month(), t.Day()) }
	switch p.Kind {
	case "day":
		return fmt.Sprintf("%d年%s", p.From.Year(), md(p.From))
	case "week":
		y, w := p.From.ISOWeek()
		return fmt.Sprintf("%d年第%d周（%s—%s）", y, w, md(p.From), md(last))
	case "month":
		return fmt.Sprintf("%d年%d月", p.From.Year(), p.From.Month())
	}
	return fmt.Sprintf("%d年%d月信访业务月（%s—%s）", last.Year(), last.Month(), md(p.From), md(last))
}

// Name is what the period is called in comparisons: 日, 周, 月.
func (p Period) Name() string {
	switch p.Kind {
	case "day":
		return "日"
	case "week":
		return "周"
	}
	return "月"
}
