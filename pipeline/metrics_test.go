package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// gauges gathers reg and returns name's values by their first label's value
// ("" for a series without labels).
func gauges(t testing.TB, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			if len(m.GetLabel()) > 0 {
				key = m.GetLabel()[0].GetValue()
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

// TestFeedMetrics produces the hotline examples before any consumer runs:
// the scrape shows them all as lag and no watermark; once ingested, lag 0
// and a watermark no older than the newest update stored.
func TestFeedMetrics(t *testing.T) {
	conn, _ := schematest.Open(t)
	f := pipeline.Feed{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("hotline")}
	addr := startBroker(t, 1, f.Topic) // one partition: its watermark is the feed's
	var msgs []kafka.Message
	for _, l := range exampleLines(t, "hotline") {
		msgs = append(msgs, kafka.Message{Value: l})
	}
	produce(t, addr, f.Topic, msgs...)

	reg := prometheus.NewRegistry()
	reg.MustRegister(pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{addr}}, []pipeline.Feed{f}, newMetrics()))
	if up := gauges(t, reg, "risk_pipeline_stats_up")[""]; up != 1 {
		t.Fatalf("risk_pipeline_stats_up = %v before consuming, want 1", up)
	}
	if lag := gauges(t, reg, "risk_pipeline_consumer_lag_messages")["hotline"]; lag != float64(len(msgs)) {
		t.Errorf("lag before consuming = %v, want %d (every message produced)", lag, len(msgs))
	}
	if w, ok := gauges(t, reg, "risk_pipeline_watermark_timestamp_seconds")["hotline"]; ok {
		t.Errorf("watermark before anything was stored = %v, want none", w)
	}

	startConsumer(t, addr, f, pipeline.NewEventWriter(conn), newMetrics(), testConfig())
	waitFor(t, 60*time.Second, "lag 0 and a watermark on /metrics", func() bool {
		_, ok := gauges(t, reg, "risk_pipeline_watermark_timestamp_seconds")["hotline"]
		return ok && gauges(t, reg, "risk_pipeline_consumer_lag_messages")["hotline"] == 0
	})
	var newest time.Time
	if err := conn.QueryRow(context.Background(), `SELECT max(updated_at) FROM event_versions WHERE source = 'hotline'`).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	if w := gauges(t, reg, "risk_pipeline_watermark_timestamp_seconds")["hotline"]; w < float64(newest.Unix()) {
		t.Errorf("watermark %v is older than the newest update stored, %v", time.Unix(int64(w), 0).UTC(), newest.UTC())
	}
}

// TestFeedMetricsBrokerDown: a broker that does not answer is
// risk_pipeline_stats_up 0 and no lag, never a lag of 0.
func TestFeedMetricsBrokerDown(t *testing.T) {
	conn, _ := schematest.Open(t)
	f := pipeline.Feed{Source: risk.SourceGrid, Topic: uniqueName("grid"), Group: uniqueName("grid")}
	reg := prometheus.NewRegistry()
	reg.MustRegister(pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{"127.0.0.1:1"}}, []pipeline.Feed{f}, newMetrics()))
	if up := gauges(t, reg, "risk_pipeline_stats_up")[""]; up != 0 {
		t.Errorf("risk_pipeline_stats_up = %v with no broker, want 0", up)
	}
	if lag, ok := gauges(t, reg, "risk_pipeline_consumer_lag_messages")["grid"]; ok {
		t.Errorf("lag = %v with no broker, want none", lag)
	}
}
