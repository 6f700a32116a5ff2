package detectors_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/schema/schematest"
)

// TestBacktest runs three real detectors over two days of seeded events:
// each over its own windows in order (extreme intent, an ingestion-time
// detector, replays event time by the hour),
// every alert in the window of its record, the same alerts whether a pass
// of the range forms covers a day or five hours, or the windows run one by
// one or four at once by Detect, and progress counted per pass up to the
// total.
func TestBacktest(t *testing.T) {
	conn, _ := schematest.Open(t)
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	seed(t, conn,
		row{source: "petition", id: "P-prov", region: "330681109000", county: "330681", category: "劳资纠纷", level: "省", org: "浙江省信访局", at: at(1.5), persons: []string{"k1"}},
		row{source: "petition", id: "P-nat", region: "330681109000", county: "330681", category: "劳资纠纷", level: "国家", org: "国家信访局", at: at(29.2), persons: []string{"k1"}},
		row{source: "petition", id: "P-late", region: "330681109000", county: "330681", category: "劳资纠纷", level: "国家", org: "国家信访局", at: at(50)},
		// Ingested days later: a replay finds them by event time.
		row{source: "hotline", id: "jump", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(2.5), updated: at(80), text: "来电人称老板再不发工资就从工地楼顶跳下去，不想活了。"},
		row{source: "hotline", id: "beijing", region: "330681109000", county: "330681", category: "劳资纠纷", at: at(7.1), updated: at(80), text: "再不给钱我们就去北京上访！"},
		row{source: "hotline", id: "price", region: "330681001000", county: "330681", category: "消费纠纷", at: at(3), updated: at(80), text: "商场搞跳楼价大甩卖。"},
	)
	defs := []detectors.Definition{
		detectors.SkipLevel(conn, detectors.SkipLevelConfig{}),
		detectors.Extreme(conn, lex),
		detectors.Trend(conn, detectors.DefaultConfig().Trend),
	}
	from, to := at(0), at(48.5) // the half hour fits no window
	var calls []int
	serial, err := detectors.Backtest(context.Background(), defs, from, to, detectors.BacktestConfig{
		Slice: 24 * time.Hour,
		Progress: func(done, total int) {
			if total != 3*48 {
				t.Errorf("progress total %d, want 144 windows (48 hourly of three detectors)", total)
			}
			calls = append(calls, done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A day a pass: two passes of each detector's range form.
	if want := []int{24, 48, 72, 96, 120, 144}; !slices.Equal(calls, want) {
		t.Errorf("progress went %v, want %v", calls, want)
	}

	wantLength := map[string]time.Duration{"skip_level": time.Hour, "extreme_intent": time.Hour, "trend": time.Hour}
	wantIn := map[string]int{"P-prov": 1, "P-nat": 29, "jump": 2, "beijing": 7} // record → index of its window
	firstIn := map[string]int{}                                                 // record → window of the first alert holding it
	for i, r := range serial {
		if r.Detector != defs[i].Name {
			t.Fatalf("run %d is %s, want %s: runs in the order of the definitions", i, r.Detector, defs[i].Name)
		}
		step := wantLength[r.Detector]
		if n := int(to.Sub(from) / step); len(r.Windows) != n || len(r.Alerts) != n {
			t.Errorf("%s: %d windows, %d alert lists; want %d", r.Detector, len(r.Windows), len(r.Alerts), n)
		}
		for wi, w := range r.Windows {
			if want := (risk.Window{Start: from.Add(time.Duration(wi) * step), End: from.Add(time.Duration(wi+1) * step)}); w != want {
				t.Errorf("%s window %d: %v, want %v", r.Detector, wi, w, want)
			}
			for _, a := range r.Alerts[wi] {
				for _, e := range a.Evidence {
					if _, ok := firstIn[e.ID]; !ok {
						firstIn[e.ID] = wi
					}
				}
			}
		}
	}
	if !maps.Equal(firstIn, wantIn) {
		t.Errorf("records first alerted in windows %v, want %v", firstIn, wantIn)
	}

	for _, cfg := range []detectors.BacktestConfig{{Parallel: 4, PerWindow: true}, {Parallel: 4, Slice: 5 * time.Hour}, {PerWindow: true}} {
		other, err := detectors.Backtest(context.Background(), defs, from, to, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range serial {
			if !reflect.DeepEqual(other[i].Windows, serial[i].Windows) || !reflect.DeepEqual(other[i].Alerts, serial[i].Alerts) {
				t.Errorf("%s: %+v raised %v, a day a pass %v", serial[i].Detector, cfg, other[i].Alerts, serial[i].Alerts)
			}
		}
	}
}

// TestBacktestStops: the first failing window stops the backtest; the error
// names the detector and the window and wraps the detector's error.
func TestBacktestStops(t *testing.T) {
	refused := errors.New("clickhouse: connection refused")
	var ran atomic.Int32
	from := time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)
	failAt := from.Add(5 * time.Hour)
	defs := []detectors.Definition{
		{Name: "quiet", Window: time.Hour, Detect: func(context.Context, risk.Window) ([]risk.Alert, error) {
			ran.Add(1)
			return nil, nil
		}},
		{Name: "flaky", Window: time.Hour, Detect: func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
			ran.Add(1)
			if w.Start.Equal(failAt) {
				return nil, refused
			}
			return nil, ctx.Err()
		}},
	}
	for _, parallel := range []int{1, 3} {
		ran.Store(0)
		runs, err := detectors.Backtest(context.Background(), defs, from, from.Add(100*time.Hour), detectors.BacktestConfig{Parallel: parallel})
		if !errors.Is(err, refused) || runs != nil {
			t.Fatalf("parallel %d: %d runs, error %v; want none and the detector's error", parallel, len(runs), err)
		}
		if want := "flaky over 2020-03-02T05:00:00Z–2020-03-02T06:00:00Z"; !strings.Contains(err.Error(), want) {
			t.Errorf("parallel %d: error %q, want it to name %q", parallel, err, want)
		}
		if n := ran.Load(); n > 100+6+int32(parallel) {
			t.Errorf("parallel %d: %d windows ran, want no more than the failing one and those already running", parallel, n)
		}
	}
}
