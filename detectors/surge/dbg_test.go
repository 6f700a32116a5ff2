package surge

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, cst)
	var series []Point
	for i := range 10 * 168 {
		tt := start.Add(time.Duration(i) * time.Hour)
		series = append(series, Point{tt, float64(tt.Hour())})
	}
	sc, _ := Score(series, time.Hour, DefaultConfig())
	for _, i := range []int{400, 401, 1000, 1500} {
		t.Logf("%v v=%v exp=%v p=%v", sc[i].T, sc[i].V, sc[i].Expected, sc[i].P)
	}
}
