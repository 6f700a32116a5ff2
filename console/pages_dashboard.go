package console

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// The leaders' dashboard and the centres' detector figures: aggregates of
// the caller's jurisdiction only, never a name. Charts are SVG drawn here,
// with every value written on them, so a black-and-white print loses
// nothing.

type dashboardData struct {
	Figures    desk.Figures
	Settled    string // 矛盾不上交率: "75%" or "—"
	AlertChart *chart
	CaseRows   []struct {
		Name  string
		Count int
	}
	HaveMatters bool
	SeriesChart *chart
	SeriesTable seriesTable
	Townships   []pipeline.PlaceCount
	Villages    []pipeline.PlaceCount
	From, To    time.Time
}

// chart is a bar or line chart drawn as SVG.
type chart struct {
	Width, Height int
	Bars          []chartBar
	Lines         []chartLine
	Axis          []chartLabel
	Legend        []chartLine
}

type chartBar struct {
	X, Y, W, H int
	Fill       string
	Label      string // under the bar
	Value      string // above the bar
	LX, VY     int
}

type chartLine struct {
	Name         string
	Points       string // SVG polyline points
	Dash         string // stroke-dasharray: lines differ in print too
	Stroke       string
	Y            int // legend row
	LX1, LX2, TX int // legend line and text
	Marks        []chartLabel
}

type chartLabel struct {
	X, Y int
	Text string
}

var levelFill = map[risk.Level]string{risk.LevelRed: "#c62828", risk.LevelOrange: "#e65100", risk.LevelYellow: "#f9a825", risk.LevelBlue: "#1565c0"}

// barChart draws one bar per value, labelled and valued.
func barChart(labels []string, values []int, fills []string) *chart {
	const w, h, top, bottom, left = 560, 220, 24, 28, 10
	c := &chart{Width: w, Height: h}
	peak := 1
	for _, v := range values {
		peak = max(peak, v)
	}
	slot := (w - 2*left) / max(1, len(values))
	for i, v := range values {
		bh := v * (h - top - bottom) / peak
		x := left + i*slot + slot/6
		c.Bars = append(c.Bars, chartBar{X: x, Y: h - bottom - bh, W: slot * 2 / 3, H: bh, Fill: fills[i%len(fills)],
			Label: labels[i], Value: fmt.Sprint(v), LX: x + slot/3, VY: h - bottom - bh - 6})
	}
	return c
}

// seriesTable is matters per feed and category (rows) per step (columns).
type seriesTable struct {
	Steps []time.Time
	Rows  []seriesRow
}

type seriesRow struct {
	Source   risk.Source
	Category string
	Counts   []int
	Total    int
}

var sourceDash = map[risk.Source]string{"hotline": "", "petition": "6 4", "grid": "2 3"}

// seriesChart draws one line per feed over the steps.
func seriesChart(t seriesTable) *chart {
	const w, h, top, bottom, left, right = 640, 240, 20, 30, 40, 110
	c := &chart{Width: w, Height: h}
	if len(t.Steps) == 0 {
		return c
	}
	per := map[risk.Source][]int{}
	for _, r := range t.Rows {
		if per[r.Source] == nil {
			per[r.Source] = make([]int, len(t.Steps))
		}
		for i, n := range r.Counts {
			per[r.Source][i] += n
		}
	}
	peak := 1
	for _, counts := range per {
		for _, n := range counts {
			peak = max(peak, n)
		}
	}
	dx := (w - left - right) / max(1, len(t.Steps)-1)
	xy := func(i, n int) (int, int) { return left + i*dx, h - bottom - n*(h-top-bottom)/peak }
	for i, s := range t.Steps {
		if len(t.Steps) <= 12 || i%2 == 0 {
			x, _ := xy(i, 0)
			c.Axis = append(c.Axis, chartLabel{x, h - 10, s.In(risk.CST).Format("01-02")})
		}
	}
	c.Axis = append(c.Axis, chartLabel{4, top + 4, fmt.Sprint(peak)}, chartLabel{4, h - bottom, "0"})
	for j, src := range []risk.Source{"hotline", "petition", "grid"} {
		counts, ok := per[src]
		if !ok {
			continue
		}
		l := chartLine{Name: sourceName(src), Dash: sourceDash[src], Stroke: "#000", Y: top + 14 + j*18,
			LX1: w - right + 10, LX2: w - right + 40, TX: w - right + 46}
		var pts []string
		for i, n := range counts {
			x, y := xy(i, n)
			pts = append(pts, fmt.Sprintf("%d,%d", x, y))
			if i == len(counts)-1 {
				l.Marks = append(l.Marks, chartLabel{x + 4, y + 4, fmt.Sprint(n)})
			}
		}
		l.Points = strings.Join(pts, " ")
		c.Lines = append(c.Lines, l)
	}
	c.Legend = c.Lines
	return c
}

func buildSeries(counts []pipeline.MatterCount, steps []time.Time) seriesTable {
	t := seriesTable{Steps: steps}
	type rk struct {
		src risk.Source
		cat string
	}
	idx := map[int64]int{} // by Unix time: Time's == also compares locations
	for i, s := range t.Steps {
		idx[s.Unix()] = i
	}
	rows := map[rk]*seriesRow{}
	for _, m := range counts {
		i, ok := idx[m.Start.Unix()]
		if !ok {
			continue
		}
		k := rk{m.Source, m.Category}
		if rows[k] == nil {
			rows[k] = &seriesRow{Source: m.Source, Category: m.Category, Counts: make([]int, len(t.Steps))}
		}
		rows[k].Counts[i] += m.Count
		rows[k].Total += m.Count
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, *r)
	}
	slices.SortFunc(t.Rows, func(a, b seriesRow) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Category, b.Category))
	})
	return t
}

// settledShare is 矛盾不上交率 as text.
func settledShare(f desk.Figures) string {
	if f.Settled == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(f.SettledFirst)/float64(f.Settled))
}

func (s *Server) dashboardPages() {
	s.page("GET /dashboard", func(w http.ResponseWriter, r *http.Request, v visit) error {
		ctx := r.Context()
		f, err := s.Stats.Figures(ctx, v.user)
		if err != nil {
			return err
		}
		d := dashboardData{Figures: f, Settled: settledShare(f), HaveMatters: s.Matters != nil}
		var labels []string
		var values []int
		var fills []string
		for _, l := range levels {
			labels, values, fills = append(labels, levelName(l)), append(values, f.OpenAlerts[string(l)]), append(fills, levelFill[l])
		}
		d.AlertChart = barChart(labels, values, fills)
		for _, st := range risk.CaseStatuses {
			d.CaseRows = append(d.CaseRows, struct {
				Name  string
				Count int
			}{st.Name(), f.Cases[string(st)]})
		}
		if s.Matters != nil {
			// Eight weeks from Monday to Sunday, this one (so far) the last:
			// a leader looks at the dashboard for what is happening now.
			now := time.Now().In(risk.CST)
			today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, risk.CST) // Truncate would cut at 00:00 UTC
			monday := today.AddDate(0, 0, -(int(today.Weekday())+6)%7)
			d.From, d.To = monday.AddDate(0, 0, -49), today.AddDate(0, 0, 1)
			series, err := s.Matters.Series(ctx, v.user.Jurisdiction, d.From, d.To, "week")
			if err != nil {
				return err
			}
			var weeks []time.Time
			for w := d.From; w.Before(d.To); w = w.AddDate(0, 0, 7) {
				weeks = append(weeks, w)
			}
			d.SeriesTable = buildSeries(series, weeks) // a quiet week shows as a zero, not as a gap
			d.SeriesChart = seriesChart(d.SeriesTable)
			if len(d.SeriesTable.Rows) > 15 {
				d.SeriesTable.Rows = d.SeriesTable.Rows[:15]
			}
			if d.Townships, err = s.Matters.Places(ctx, v.user.Jurisdiction, d.From, d.To, "township", 10); err != nil {
				return err
			}
			if d.Villages, err = s.Matters.Places(ctx, v.user.Jurisdiction, d.From, d.To, "village", 10); err != nil {
				return err
			}
		}
		return s.show(w, r, v, "dashboard", "态势", "dashboard", d)
	})
	// The briefs made on schedule, to open as they were printed.
	s.page("GET /briefs", func(w http.ResponseWriter, r *http.Request, v visit) error {
		list, err := s.storedBriefs(r.Context(), v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "briefs", "态势简报", "dashboard", list)
	})
	s.page("GET /figures", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if v.user.Role != desk.RoleReviewer && v.user.Role != desk.RoleAdmin {
			return fmt.Errorf("%s may not read the detectors' figures: %w", v.user.Role, risk.ErrForbidden)
		}
		f, err := s.Stats.Figures(r.Context(), v.user)
		if err != nil {
			return err
		}
		d := figuresData{}
		for _, det := range detectorNames {
			if note := f.History[det.ID]; note != "" {
				d.History = append(d.History, historyRow{Detector: det.ID, Note: note})
			}
			out := f.Reviewed[det.ID]
			row := figureRow{Detector: det.ID, Confirmed: out["confirmed"], Merged: out["merged"],
				FalsePositive: out[string(risk.DismissFalsePositive)], Handled: out[string(risk.DismissHandled)], Duplicate: out[string(risk.DismissDuplicate)]}
			row.Total = row.Confirmed + row.Merged + row.FalsePositive + row.Handled + row.Duplicate
			row.Precision = "—"
			if row.Total > 0 {
				row.Precision = fmt.Sprintf("%.0f%%", 100*float64(row.Confirmed+row.Merged+row.Handled)/float64(row.Total))
			}
			d.Rows = append(d.Rows, row)
		}
		to := time.Now()
		if d.OverTime, err = s.Stats.Detectors(r.Context(), v.user, to.AddDate(0, 0, -84), to, "week"); err != nil {
			return err
		}
		slices.SortStableFunc(d.OverTime, func(a, b desk.DetectorFigure) int {
			return cmp.Or(cmp.Compare(a.Detector, b.Detector), a.Start.Compare(b.Start))
		})
		return s.show(w, r, v, "figures", "模型成效", "figures", d)
	})
}

type figuresData struct {
	Rows     []figureRow
	OverTime []desk.DetectorFigure
	History  []historyRow // detectors silent for want of history
}

// historyRow is what a detector's latest run could not compare yet.
type historyRow struct{ Detector, Note string }

// figureRow is one detector's reviewed alerts by outcome. Precision counts
// 已处理 as a true alert: the matter was real, only already handled.
type figureRow struct {
	Detector                                                    string
	Confirmed, Merged, FalsePositive, Handled, Duplicate, Total int
	Precision                                                   string
}
