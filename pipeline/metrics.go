package pipeline

import (
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
