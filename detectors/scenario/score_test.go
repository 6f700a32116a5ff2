package scenario_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/scenario"
)

func hotline(ids ...string) []risk.Evidence {
	var out []risk.Evidence
	for _, id := range ids {
		out = append(out, risk.Evidence{Source: risk.SourceHotline, ID: id})
	}
	return out
}

// TestScore scores a repeat detector's three windows by hand: an alert is
// true when it holds one of the detector's incidents, "other" when it holds
// another detector's, false otherwise; a joined alert raises its scope's
// level; an incident found below its level is found, and missed at its
// level; a trap's record in an alert violates it.
func TestScore(t *testing.T) {
	day := time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC)
	hour := func(h int) risk.Window {
		return risk.Window{Start: day.Add(time.Duration(h) * time.Hour), End: day.Add(time.Duration(h+1) * time.Hour)}
	}
	truth := scenario.Truth{
		Background: scenario.Counts{risk.SourceHotline: 8000, risk.SourceGrid: 2000},
		Incidents: []scenario.Incident{
			{ID: "repeat-1", Detector: scenario.Repeat, Kind: "rejected_answer", Level: risk.LevelOrange, Records: hotline("h1", "h2"), KnowableAt: day.Add(30 * time.Minute)},
			{ID: "repeat-2", Detector: scenario.Repeat, Kind: "same_matter", Level: risk.LevelYellow, Records: hotline("h3"), KnowableAt: day.Add(90 * time.Minute)},
			{ID: "repeat-3", Detector: scenario.Repeat, Kind: "across_feeds", Level: risk.LevelRed, Records: hotline("h9"), KnowableAt: day},
			{ID: "surge-1", Detector: scenario.Surge, Kind: "power_cut", Level: risk.LevelOrange, Records: hotline("s1")},
		},
		Traps: []scenario.Trap{{ID: "trap-1", Detector: scenario.Repeat, Kind: "same_name", Records: hotline("t1")}},
	}
	alert := func(w risk.Window, subject string, level risk.Level, summary string, ids ...string) risk.Alert {
		return risk.Alert{Labels: risk.Labels{"detector": scenario.Repeat, "subject": subject}, Window: w, Level: level, Summary: summary, Evidence: hotline(ids...)}
	}
	run := detectors.BacktestRun{
		Detector: scenario.Repeat,
		Windows:  []risk.Window{hour(0), hour(1), hour(2)},
		Alerts: [][]risk.Alert{
			{alert(hour(0), "x", risk.LevelYellow, "王某第三次来电", "h1")},
			{
				alert(hour(1), "x", risk.LevelOrange, "王某第四次来电", "h1", "h2"), // joins x, raises it
				alert(hour(1), "y", risk.LevelYellow, "停电投诉", "s1"),
				alert(hour(1), "z", risk.LevelYellow, "无关的重复", "b1"),
			},
			{alert(hour(2), "w", risk.LevelBlue, "李某再次反映", "h3", "t1")},
		},
		Busy: 1500 * time.Millisecond,
	}

	got := truth.Score(run)
	precision, recallRO := 2.0/3, 0.5
	want := scenario.Result{
		Detector: scenario.Repeat, Windows: 3, QuerySeconds: 1.5,
		Incidents: 3, Found: 2, Recall: 2.0 / 3,
		RedOrange: 2, RedOrangeFound: 1, RecallRedOrange: &recallRO, UnderLevel: 1,
		Alerts: 4, TruePositives: 2, FalsePositives: 1, Other: 1, Precision: &precision,
		FalsePer10k: 1, Traps: 1, TrapViolations: 1,
		// repeat-1 found 30 minutes after it was knowable, repeat-2 90: the
		// median of two is the upper one.
		DelayMedian: (90 * time.Minute).Seconds(), DelayMax: (90 * time.Minute).Seconds(),
		Missed: []scenario.Miss{
			{ID: "repeat-2", Kind: "same_matter", Level: risk.LevelYellow, Found: risk.LevelBlue},
			{ID: "repeat-3", Kind: "across_feeds", Level: risk.LevelRed},
		},
		FalseAlerts:   []string{"11-03 09:00 yellow 无关的重复"},
		ViolatedTraps: []string{"trap-1 same_name: 李某再次反映"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got.Missed[0].String() != "repeat-2 same_matter (yellow): found blue" || got.Missed[1].String() != "repeat-3 across_feeds (red): not found" {
		t.Errorf("missed reads %q, %q", got.Missed[0], got.Missed[1])
	}

	var out bytes.Buffer
	ev := scenario.Evaluation{From: day, To: day.Add(7 * 24 * time.Hour), Background: truth.Background, Detectors: []scenario.Result{got}}
	if err := ev.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"missed     repeat-3 across_feeds (red): not found", "trap hit   repeat trap-1 same_name: 李某再次反映", "false      repeat 11-03 09:00 yellow 无关的重复"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("printed evaluation lacks %q:\n%s", line, out.String())
		}
	}
}

// TestScoreTrend: a trend's alert names no records; it holds an incident of
// its region and category from the incident's KnowableAt on, and is false
// before.
func TestScoreTrend(t *testing.T) {
	day := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	daily := func(d int) risk.Window {
		return risk.Window{Start: day.AddDate(0, 0, d), End: day.AddDate(0, 0, d+1)}
	}
	truth := scenario.Truth{
		Background: scenario.Counts{risk.SourceHotline: 10000},
		Incidents: []scenario.Incident{{ID: "trend-1", Detector: scenario.Trend, Kind: "express_points", Level: risk.LevelYellow,
			Region: "330681109", Category: "物流快递", KnowableAt: day.AddDate(0, 0, 2)}},
	}
	alert := func(w risk.Window, category string) risk.Alert {
		return risk.Alert{Labels: risk.Labels{"detector": scenario.Trend, "region": "330681109", "category": category}, Window: w, Level: risk.LevelYellow, Summary: "趋势上升"}
	}
	for _, tt := range []struct {
		name     string
		alerts   [][]risk.Alert
		tp, fp   int
		found    int
		delayDay float64
	}{
		{"from knowable on", [][]risk.Alert{nil, nil, {alert(daily(2), "物流快递")}}, 1, 0, 1, 1},
		{"before it is knowable", [][]risk.Alert{{alert(daily(0), "物流快递")}, nil, nil}, 0, 1, 0, 0},
		{"another category", [][]risk.Alert{nil, nil, {alert(daily(2), "物业管理")}}, 0, 1, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := truth.Score(detectors.BacktestRun{Detector: scenario.Trend, Windows: []risk.Window{daily(0), daily(1), daily(2)}, Alerts: tt.alerts})
			if got.TruePositives != tt.tp || got.FalsePositives != tt.fp || got.Found != tt.found || got.DelayMax != tt.delayDay*24*3600 {
				t.Errorf("TP %d, FP %d, found %d, delay %gs; want %d, %d, %d, %gs", got.TruePositives, got.FalsePositives, got.Found, got.DelayMax, tt.tp, tt.fp, tt.found, tt.delayDay*24*3600)
			}
		})
	}
}

// TestScoreReminders: reminders are counted apart from the queue: they find
// only incidents to be told as reminders, a warning only the others, and a
// warning after its record's reminder is a new alert of the queue.
func TestScoreReminders(t *testing.T) {
	day := time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC)
	hour := func(h int) risk.Window {
		return risk.Window{Start: day.Add(time.Duration(h) * time.Hour), End: day.Add(time.Duration(h+1) * time.Hour)}
	}
	truth := scenario.Truth{
		From: day, To: day.AddDate(0, 0, 2),
		Background: scenario.Counts{risk.SourceHotline: 10000},
		Incidents: []scenario.Incident{
			{ID: "overdue-1", Detector: scenario.Overdue, Kind: "due_soon", Level: risk.LevelBlue, Records: hotline("soon"), Reminder: true},
			{ID: "overdue-2", Detector: scenario.Overdue, Kind: "dispute_late", Level: risk.LevelYellow, Records: hotline("late")},
			{ID: "overdue-3", Detector: scenario.Overdue, Kind: "routine_late", Level: risk.LevelYellow, Records: hotline("routine"), Reminder: true},
		},
	}
	alert := func(w risk.Window, id string, level risk.Level, reminder bool) risk.Alert {
		return risk.Alert{Labels: risk.Labels{"detector": scenario.Overdue, "subject": "hotline:" + id}, Window: w, Level: level,
			Evidence: hotline(id), Reminder: reminder}
	}
	run := detectors.BacktestRun{
		Detector: scenario.Overdue,
		Windows:  []risk.Window{hour(0), hour(1), hour(2)},
		Alerts: [][]risk.Alert{
			{alert(hour(0), "soon", risk.LevelBlue, true), alert(hour(0), "late", risk.LevelBlue, true), alert(hour(0), "bg", risk.LevelBlue, true)},
			{alert(hour(1), "late", risk.LevelYellow, false), alert(hour(1), "routine", risk.LevelYellow, false)},
			{},
		},
	}
	got := truth.Score(run)
	if got.Alerts != 2 || got.Reminders != 3 || got.TruePositives != 1 || got.FalsePositives != 1 {
		t.Errorf("alerts %d, reminders %d, TP %d, FP %d; want 2 queued (the late dispute true, the routine order false), 3 reminders",
			got.Alerts, got.Reminders, got.TruePositives, got.FalsePositives)
	}
	if got.Found != 2 || len(got.Missed) != 1 || got.Missed[0].ID != "overdue-3" {
		t.Errorf("found %d, missed %v; want the reminder and the dispute found, the routine order missed (it was queued, not told)", got.Found, got.Missed)
	}
	ev := scenario.Evaluation{From: truth.From, To: truth.To, Detectors: []scenario.Result{got}}
	if q, r := ev.PerDay(); q != 1 || r != 1.5 {
		t.Errorf("per day: %g queued, %g reminders; want 1 and 1.5", q, r)
	}
}
