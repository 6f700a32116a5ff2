package surge

import (
	"testing"
	"time"
)

// BenchmarkScore scores ten weeks of hourly counts: one place × category
// as a backtest or `riskwatch series` sees it.
func BenchmarkScore(b *testing.B) {
	s := makeSeries(monday, time.Hour, 10*168, office(1))
	cfg := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Score(s, time.Hour, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScoreAt is the live detector's cost per series and run.
func BenchmarkScoreAt(b *testing.B) {
	s := makeSeries(monday, time.Hour, 10*168, office(1))
	cfg := DefaultConfig()
	last := s[len(s)-1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScoreAt(s[:len(s)-1], last, time.Hour, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
