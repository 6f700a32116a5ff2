package main

import (
	"fmt"
	"io"
	"time"
)

// progressEvery is how often a backtest prints how far it has got.
const progressEvery = 10 * time.Second

// progress prints a backtest's progress on w for people watching: a line
// at most every progressEvery (windows done of the total, windows a second,
// time left), and a closing summary. report is a
// detectors.BacktestConfig.Progress.
type progress struct {
	w           io.Writer
	name        string
	now         func() time.Time
	start, last time.Time
	done        int
	unit        string // what is counted: windows, unless set
}

func newProgress(w io.Writer, name string, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, name: name, now: now, start: t, last: t, unit: "windows"}
}

func (p *progress) report(done, total int) {
	p.done = done
	t := p.now()
	if done == total || t.Sub(p.last) < progressEvery {
		return // the summary tells the end
	}
	p.last = t
	rate := float64(done) / t.Sub(p.start).Seconds()
	left := time.Duration(float64(total-done) / rate * float64(time.Second))
	fmt.Fprintf(p.w, "%s: %d/%d %s (%.0f%%), %.0f %s/s, %v left\n", p.name, done, total, p.unit, 100*float64(done)/float64(total), rate, p.unit, left.Round(time.Second))
}

// summary prints the closing line: the windows run, of how many detectors,
// in how long, and what came of them.
func (p *progress) summary(detectors int, outcome string) {
	took := p.now().Sub(p.start)
	of := fmt.Sprintf("%d detectors", detectors)
	if detectors == 1 {
		of = "1 detector"
	}
	fmt.Fprintf(p.w, "%s: %d windows of %s in %v (%.0f windows/s); %s\n", p.name, p.done, of, took.Round(100*time.Millisecond), float64(p.done)/max(took.Seconds(), 1e-3), outcome)
}
