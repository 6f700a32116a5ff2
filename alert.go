package riskwatch

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// Level is an alert's urgency. The values are stored and published: never
// rename them.
type Level string

// Levels, most urgent first.
const (
	LevelRed    Level = "red"    // 红: act now
	LevelOrange Level = "orange" // 橙
	LevelYellow Level = "yellow" // 黄
	LevelBlue   Level = "blue"   // 蓝: watch
)

// Rank orders levels: red 4 … blue 1, anything else 0.
func (l Level) Rank() int {
	switch l {
	case LevelRed:
		return 4
	case LevelOrange:
		return 3
	case LevelYellow:
		return 2
	case LevelBlue:
		return 1
	}
	return 0
}

// Max returns the more urgent of l and o.
func (l Level) Max(o Level) Level {
	if o.Rank() > l.Rank() {
		return o
	}
	return l
}

// Window is a half-open interval of event time, [Start, End).
type Window struct {
	Start, End time.Time
}

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Labels say what an alert is about: detector, region, category, subject,
// person. Annotations (numbers, summary, evidence) never count.
type Labels map[string]string

// Fingerprint hashes the sorted name/value pairs with FNV-1a, separated by
// 0xff (a byte that never occurs in UTF-8), so it is stable across restarts
// and map order.
func (ls Labels) Fingerprint() string {
	h := fnv.New64a()
	for _, name := range slices.Sorted(maps.Keys(ls)) {
		fmt.Fprintf(h, "%s\xff%s\xff", name, ls[name])
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// Evidence names a record that made an alert fire.
type Evidence struct {
	Source Source `json:"source"`
	ID     string `json:"id"`
}

// Alert is an early warning: a detector found a risk in a scope during an
// event-time window.
type Alert struct {
	Labels   Labels             // detector, region, category, subject, person: the scope
	Window   Window             // the event time the detector looked at
	Level    Level              // see each detector's rule
	Summary  string             // one line in Chinese a centre worker understands without opening anything
	Numbers  map[string]float64 // the figures behind it: observed, expected, persons, head_count …
	Words    []string           // matched words of extreme intent, if any
	Evidence []Evidence
	Seen     time.Time // event time of the newest evidence
	// Region is where the matter is, for routing it to a desk: the most
	// specific division code the evidence shares. It is not part of the
	// scope; "" means the region label.
	Region string
	// Category is the matter's category where the scope has none (a
	// person's repeated matters: their newest's), for the briefs and the
	// queue's filter; "" means the category label.
	Category string
	// Reminder marks a notice for the desk that owns the matter rather
	// than an early warning for the centres to review (将到期, a routine
	// order late: the upstream systems' own supervision). It never enters
	// the review queue.
	Reminder bool
}

// Where is the division code of the alert's matter: Region, else the
// region label.
func (a Alert) Where() string {
	if a.Region != "" {
		return a.Region
	}
	return a.Labels["region"]
}

// What is the alert's category: the category label, else Category.
func (a Alert) What() string {
	if c := a.Labels["category"]; c != "" {
		return c
	}
	return a.Category
}

// Detector is the name of the detector that raised the alert.
func (a Alert) Detector() string { return a.Labels["detector"] }

// ScopeKey identifies what the alert is about, whatever the window: while an
// alert of a scope is open, later evidence of the scope joins it.
func (a Alert) ScopeKey() string { return a.Labels.Fingerprint() }

// Key identifies the alert: its scope and its window, never the time a run
// happened, so running a window again finds the same key.
func (a Alert) Key() string {
	ls := maps.Clone(a.Labels)
	ls["window_start"] = a.Window.Start.UTC().Format(time.RFC3339)
	ls["window_end"] = a.Window.End.UTC().Format(time.RFC3339)
	return ls.Fingerprint()
}
