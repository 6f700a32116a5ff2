package scenario

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	risk "riskwatch"
	"riskwatch/detectors"
)

// Evaluation is what `riskwatch demo evaluate` reports: the scenario, what
// ingestion made of it, and each detector's Result.
type Evaluation struct {
	Config        Config    `json:"scenario"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Records       Counts    `json:"records"`     // generated
	Stored        Counts    `json:"stored"`      // distinct records in ClickHouse
	Messages      Counts    `json:"messages"`    // produced
	Bad           Counts    `json:"bad"`         // bad on purpose
	Quarantined   Counts    `json:"quarantined"` // in rejected_events
	Background    Counts    `json:"background"`  // records in no incident
	IngestSeconds float64   `json:"ingest_seconds"`
	DetectSeconds float64   `json:"detect_seconds"`
	Detectors     []Result  `json:"detectors"`
}

// Miss is an incident not found (Found "") or found below its level.
type Miss struct {
	ID    string     `json:"id"`
	Kind  string     `json:"kind"`
	Level risk.Level `json:"level"`
	Found risk.Level `json:"found"`
}

// String reads "collective-2 grid_gathering (orange): found yellow", or "…: not found".
func (m Miss) String() string {
	if m.Found == "" {
		return fmt.Sprintf("%s %s (%s): not found", m.ID, m.Kind, m.Level)
	}
	return fmt.Sprintf("%s %s (%s): found %s", m.ID, m.Kind, m.Level, m.Found)
}

// Result scores one detector. Reminders (risk.Alert.Reminder) are counted
// apart: they never reach the queue, and find only the incidents to be told
// as reminders (Incident.Reminder); a queued alert finds only the others,
// and one holding a reminder's record is false. An alert is one scope (later windows of the
// scope join it, as in the store); it is a true positive when the evidence
// it opened with holds a record of one of the detector's incidents (an
// alert without evidence, a trend's: when its region and category are an
// incident's, from the incident's KnowableAt on), "other" when it holds one
// of another detector's incidents (a real risk, not this detector's to
// find), and false otherwise. An incident is found when any alert of the
// detector, opening or joined, holds one of its records; its level is the
// highest such alert's; its delay runs from KnowableAt to the end of the
// first such alert's window.
type Result struct {
	Detector        string   `json:"detector"`
	Windows         int      `json:"windows"` // run over: hourly
	Incidents       int      `json:"incidents"`
	Found           int      `json:"found"`
	Recall          float64  `json:"recall"`
	RedOrange       int      `json:"red_orange"`        // incidents whose level is red or orange
	RedOrangeFound  int      `json:"red_orange_found"`  // … found at that level or above
	RecallRedOrange *float64 `json:"recall_red_orange"` // null when there are none
	UnderLevel      int      `json:"under_level"`       // found below their level
	Alerts          int      `json:"alerts"`            // scopes raised for review (the queue)
	Reminders       int      `json:"reminders"`         // scopes told to desks as reminders, never queued
	TruePositives   int      `json:"true_positives"`
	FalsePositives  int      `json:"false_positives"`
	Other           int      `json:"other"`
	Precision       *float64 `json:"precision"`     // TP / (TP + FP); null without alerts
	FalsePer10k     float64  `json:"false_per_10k"` // false alerts per 10,000 background records
	Traps           int      `json:"traps"`
	TrapViolations  int      `json:"trap_violations"`
	DelayMedian     float64  `json:"delay_median_seconds"`
	DelayMax        float64  `json:"delay_max_seconds"`
	QuerySeconds    float64  `json:"query_seconds"`          // in its queries, summed over windows
	Missed          []Miss   `json:"missed,omitempty"`       // not found, or below their level
	FalseAlerts     []string `json:"false_alerts,omitempty"` // summaries, the first few
	ViolatedTraps   []string `json:"violated_traps,omitempty"`
}

// Score scores what one detector raised over the scenario (a backtest over
// [t.From, t.To), its windows in order) against the truth, as Result says.
func (t Truth) Score(r detectors.BacktestRun) Result {
	res := Result{Detector: r.Detector, Windows: len(r.Windows), QuerySeconds: r.Busy.Seconds()}
	ours := map[risk.Evidence][]int{} // record → this detector's incidents
	planted := map[risk.Evidence]bool{}
	var incidents []Incident
	for _, in := range t.Incidents {
		if in.Detector == r.Detector {
			incidents = append(incidents, in)
		}
	}
	for i, in := range incidents {
		for _, e := range in.Records {
			ours[e] = append(ours[e], i)
		}
	}
	for _, in := range t.Incidents {
		for _, e := range in.Records {
			planted[e] = true
		}
	}
	traps := map[risk.Evidence][]string{}
	for _, tr := range t.Traps {
		if tr.Detector == r.Detector {
			res.Traps++
			for _, e := range tr.Records {
				traps[e] = append(traps[e], tr.ID+" "+tr.Kind)
			}
		}
	}

	// holds lists this detector's incidents an alert holds: by its
	// evidence, or, for an alert that names no records (trend), by its
	// region and category once the incident is knowable (earlier alerts of
	// the scope are about something else).
	// A reminder finds only incidents to be told as reminders, a queued
	// alert only the others.
	holds := func(a risk.Alert) []int {
		var out []int
		for _, e := range a.Evidence {
			for _, i := range ours[e] {
				if incidents[i].Reminder == a.Reminder {
					out = append(out, i)
				}
			}
		}
		if len(a.Evidence) == 0 {
			for i, in := range incidents {
				if in.Category != "" && a.Labels["region"] == in.Region && a.Labels["category"] == in.Category && !a.Window.End.Before(in.KnowableAt) {
					out = append(out, i)
				}
			}
		}
		return out
	}
	type scope struct{ level risk.Level }
	scopes := map[string]*scope{}
	first := make([]time.Time, len(incidents)) // end of the first window that found it
	found := make([][]*scope, len(incidents))
	violated := map[string]bool{}
	for wi := range r.Windows {
		for _, a := range r.Alerts[wi] {
			held := holds(a)
			key := a.ScopeKey() // a reminder is never stored: a later warning of its scope is a new alert
			if a.Reminder {
				key += "/reminder"
			}
			sc, ok := scopes[key]
			if !ok && a.Reminder {
				sc = &scope{}
				scopes[key] = sc
				res.Reminders++
			} else if !ok {
				sc = &scope{}
				scopes[key] = sc
				res.Alerts++
				switch {
				case len(held) > 0:
					res.TruePositives++
				case slices.ContainsFunc(a.Evidence, func(e risk.Evidence) bool { return len(ours[e]) > 0 }):
					// This detector's incident, to be told as a reminder: queued, it is noise.
					res.FalsePositives++
				case slices.ContainsFunc(a.Evidence, func(e risk.Evidence) bool { return planted[e] }):
					res.Other++
				default:
					res.FalsePositives++
					if len(res.FalseAlerts) < 5 {
						res.FalseAlerts = append(res.FalseAlerts, a.Window.Start.In(risk.CST).Format("01-02 15:04")+" "+string(a.Level)+" "+a.Summary)
					}
				}
			}
			sc.level = sc.level.Max(a.Level)
			for _, i := range held {
				if first[i].IsZero() {
					first[i] = a.Window.End
				}
				if !slices.Contains(found[i], sc) {
					found[i] = append(found[i], sc)
				}
			}
			for _, e := range a.Evidence {
				for _, tr := range traps[e] {
					if !violated[tr] {
						violated[tr] = true
						res.ViolatedTraps = append(res.ViolatedTraps, tr+": "+a.Summary)
					}
				}
			}
		}
	}
	res.TrapViolations = len(violated)

	var delays []float64
	for i, in := range incidents {
		res.Incidents++
		ro := in.Level.Rank() >= risk.LevelOrange.Rank()
		if ro {
			res.RedOrange++
		}
		var level risk.Level
		for _, sc := range found[i] {
			level = level.Max(sc.level)
		}
		switch {
		case first[i].IsZero():
			res.Missed = append(res.Missed, Miss{in.ID, in.Kind, in.Level, ""})
			continue
		case level.Rank() < in.Level.Rank():
			res.UnderLevel++
			res.Missed = append(res.Missed, Miss{in.ID, in.Kind, in.Level, level})
		case ro:
			res.RedOrangeFound++
		}
		res.Found++
		delays = append(delays, first[i].Sub(in.KnowableAt).Seconds())
	}
	res.Recall = ratio(res.Found, res.Incidents)
	if res.RedOrange > 0 {
		v := ratio(res.RedOrangeFound, res.RedOrange)
		res.RecallRedOrange = &v
	}
	if n := res.TruePositives + res.FalsePositives; n > 0 {
		v := ratio(res.TruePositives, n)
		res.Precision = &v
	}
	res.FalsePer10k = 10000 * float64(res.FalsePositives) / float64(max(t.Background.Total(), 1))
	if len(delays) > 0 {
		slices.Sort(delays)
		res.DelayMedian, res.DelayMax = delays[len(delays)/2], delays[len(delays)-1]
	}
	return res
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Print writes ev as tables for people: the scenario and ingestion, a row
// per detector, then the misses, traps hit and the first false alerts.
func (ev Evaluation) Print(w io.Writer) error {
	c := ev.Config
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	days := ev.To.Sub(ev.From).Hours() / 24
	fmt.Fprintf(tw, "scenario\tseed %d, %d weeks from %s, %d townships, scale %g\n", c.Seed, c.Weeks, ev.From.In(risk.CST).Format("2006-01-02"), c.Townships, c.Scale)
	var bg, ing []string
	for _, src := range risk.Sources {
		bg = append(bg, fmt.Sprintf("%s %d (%.0f a day)", src, ev.Background[src], float64(ev.Background[src])/days))
		ing = append(ing, fmt.Sprintf("%s %d/%d records, %d/%d quarantined of %d messages", src, ev.Stored[src], ev.Records[src], ev.Quarantined[src], ev.Bad[src], ev.Messages[src]))
	}
	fmt.Fprintf(tw, "background\t%s\n", strings.Join(bg, ", "))
	fmt.Fprintf(tw, "ingest\t%.1fs: %s\n", ev.IngestSeconds, strings.Join(ing, "; "))
	fmt.Fprintf(tw, "detect\t%.1fs: %d detectors over every window of the scenario\n", ev.DetectSeconds, len(ev.Detectors))
	queue, reminders := ev.PerDay()
	fmt.Fprintf(tw, "per day\t%.1f alerts for review (the queue), %.1f reminders to desks (not queued)\n\n", queue, reminders)
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "detector\twindows\tincidents\tfound\trecall\tred/orange\talerts\treminders\tTP\tFP\tother\tprecision\tFP/10k\ttraps hit\tdelay p50\tdelay max\tquery s\t")
	for _, r := range ev.Detectors {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%.1f\t%d/%d\t%s\t%s\t%.1f\t\n",
			r.Detector, r.Windows, r.Incidents, r.Found, r.Recall, fraction(r.RedOrangeFound, r.RedOrange), r.Alerts, r.Reminders, r.TruePositives, r.FalsePositives, r.Other,
			optional(r.Precision), r.FalsePer10k, r.TrapViolations, r.Traps, delay(r.DelayMedian, r.Found), delay(r.DelayMax, r.Found), r.QuerySeconds)
	}
	tw.Flush()
	for _, r := range ev.Detectors {
		for _, m := range r.Missed {
			fmt.Fprintf(w, "missed     %s\n", m)
		}
		for _, v := range r.ViolatedTraps {
			fmt.Fprintf(w, "trap hit   %s %s\n", r.Detector, v)
		}
		for _, f := range r.FalseAlerts {
			fmt.Fprintf(w, "false      %s %s\n", r.Detector, f)
		}
	}
	return nil
}

// PerDay is how many alerts a day the scenario put in the reviewers' queue
// (every detector's scopes raised for review) and how many reminders a day
// went to desks instead.
func (ev Evaluation) PerDay() (queue, reminders float64) {
	days := ev.To.Sub(ev.From).Hours() / 24
	if days <= 0 {
		return 0, 0
	}
	for _, r := range ev.Detectors {
		queue += float64(r.Alerts)
		reminders += float64(r.Reminders)
	}
	return queue / days, reminders / days
}

func fraction(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", a, b)
}

func optional(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *v)
}

func delay(s float64, n int) string {
	if n == 0 {
		return "–"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}
