package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	risk "riskwatch"
)

// Metrics are the pipeline's Prometheus series, shared by the feeds' ingesters
// and labelled by source.
type Metrics struct {
	messages     *prometheus.CounterVec
	warnings     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	refused      *prometheus.CounterVec
	panics       *prometheus.CounterVec
	stalled      *prometheus.GaugeVec
	flushSeconds *prometheus.HistogramVec
}

// NewMetrics registers the pipeline's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		messages: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_pipeline_messages_total",
			Help: "Messages stored and committed, by source and outcome (stored, or rejected: quarantined).",
		}, []string{"source", "outcome"}),
		warnings: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_pipeline_warnings_total",
			Help: "Fields dropped or guessed in messages that were otherwise stored.",
		}, []string{"source"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_pipeline_write_retries_total",
			Help: "Failed flushes that were retried.",
		}, []string{"source"}),
		refused: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_pipeline_refused_total",
			Help: "Rows ClickHouse refused for what they hold, quarantined after bisecting their batch (also counted as rejected).",
		}, []string{"source"}),
		panics: f.NewCounterVec(prometheus.CounterOpts{
			Name: "risk_pipeline_panics_total",
			Help: "Panics recovered: in a decoder (the message is quarantined) or in the ingester's loops (restarted from the last commit).",
		}, []string{"source"}),
		stalled: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "risk_pipeline_stalled",
			Help: "1 while a feed waits for ClickHouse and has stopped fetching.",
		}, []string{"source"}),
		flushSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "risk_pipeline_flush_seconds",
			Help:    "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"source"}),
	}
}

// Consumed returns the messages of source stored and rejected by this process.
func (m *Metrics) Consumed(source risk.Source) (stored, rejected float64) {
	return counterValue(m.messages.WithLabelValues(string(source), "stored")),
		counterValue(m.messages.WithLabelValues(string(source), "rejected"))
}

type metrics struct {
	stored, rejected, warnings, retries prometheus.Counter
	refused, panics                     prometheus.Counter
	stalled                             prometheus.Gauge
	flushSeconds                        prometheus.Observer
}

func (m *Metrics) forSource(s risk.Source) *metrics {
	l := string(s)
	return &metrics{
		stored:       m.messages.WithLabelValues(l, "stored"),
		rejected:     m.messages.WithLabelValues(l, "rejected"),
		warnings:     m.warnings.WithLabelValues(l),
		retries:      m.retries.WithLabelValues(l),
		refused:      m.refused.WithLabelValues(l),
		panics:       m.panics.WithLabelValues(l),
		stalled:      m.stalled.WithLabelValues(l),
		flushSeconds: m.flushSeconds.WithLabelValues(l),
	}
}

// StalledGauge is 1 while source waits for ClickHouse.
func (m *Metrics) StalledGauge(source risk.Source) prometheus.Gauge {
	return m.stalled.WithLabelValues(string(source))
}

// The feeds' state as the broker and ClickHouse see it, read at each scrape
// (StatsReader.Collect): every replica reports the same figures, so rules
// take their max by source.
var (
	lagDesc = prometheus.NewDesc("risk_pipeline_consumer_lag_messages",
		"Messages on the feed's topic not yet committed by its consumer group, all partitions.", []string{"source"}, nil)
	watermarkDesc = prometheus.NewDesc("risk_pipeline_watermark_timestamp_seconds",
		"The feed's ingest watermark: the newest event time that every partition has passed (absent until each partition stored something). Its age is time() minus it.", []string{"source"}, nil)
	statsUpDesc = prometheus.NewDesc("risk_pipeline_stats_up",
		"1 when the last scrape read the feeds' lag from the broker and their watermarks from ClickHouse; 0 when either did not answer (lag and watermarks are then absent).", nil, nil)
)

// statsScrapeTimeout bounds the broker and ClickHouse queries of one scrape,
// below Prometheus' default scrape timeout of 10s.
const statsScrapeTimeout = 5 * time.Second

// Describe implements prometheus.Collector.
func (s *StatsReader) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- watermarkDesc
	ch <- statsUpDesc
}

// Collect implements prometheus.Collector: each feed's consumer lag and
// watermark, read now. A broker or ClickHouse that does not answer within
// statsScrapeTimeout makes risk_pipeline_stats_up 0, never a lag of 0.
func (s *StatsReader) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsScrapeTimeout)
	defer cancel()
	out := make([]FeedStats, len(s.feeds))
	byTopic := map[string]*FeedStats{}
	for i, f := range s.feeds {
		out[i] = FeedStats{Source: f.Source, Topic: f.Topic}
		byTopic[f.Topic] = &out[i]
		if err := s.partitions(ctx, f, &out[i]); err != nil {
			ch <- prometheus.MustNewConstMetric(statsUpDesc, prometheus.GaugeValue, 0)
			return
		}
	}
	if err := s.watermarks(ctx, byTopic); err != nil {
		ch <- prometheus.MustNewConstMetric(statsUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(statsUpDesc, prometheus.GaugeValue, 1)
	for _, f := range out {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(f.Lag), string(f.Source))
		if f.Watermark != nil {
			ch <- prometheus.MustNewConstMetric(watermarkDesc, prometheus.GaugeValue, float64(f.Watermark.Unix()), string(f.Source))
		}
	}
}
