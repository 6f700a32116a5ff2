package main

import (
	"bytes"
	"testing"
	"time"
)

// TestProgress: a line at most every ten seconds with the rate and the
// time left, none for the last window, and a summary at the end.
func TestProgress(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newProgress(&out, "detect", func() time.Time { return now })
	for done := 1; done <= 400; done++ {
		now = now.Add(100 * time.Millisecond) // 10 windows a second
		p.report(done, 400)
	}
	p.summary(8, "3 alerts printed")
	want := `detect: 100/400 windows (25%), 10 windows/s, 30s left
detect: 200/400 windows (50%), 10 windows/s, 20s left
detect: 300/400 windows (75%), 10 windows/s, 10s left
detect: 400 windows of 8 detectors in 40s (10 windows/s); 3 alerts printed
`
	if got := out.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
}
