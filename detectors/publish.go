package detectors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// KafkaPublisher publishes alerts as JSON, keyed by the alert's scope so
// that one scope's alerts stay in order on one partition.
type KafkaPublisher struct {
	w *kafka.Writer
}

// NewKafkaPublisher returns a publisher to topic on the brokers.
func NewKafkaPublisher(brokers []string, topic string) *KafkaPublisher {
	return &KafkaPublisher{w: &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond, AllowAutoTopicCreation: true}}
}

// Published is the JSON of a published alert.
type Published struct {
	Key         string             `json:"key"`
	ScopeKey    string             `json:"scope_key"`
	Detector    string             `json:"detector"`
	Level       risk.Level         `json:"level"`
	Labels      risk.Labels        `json:"labels"`
	WindowStart time.Time          `json:"window_start"`
	WindowEnd   time.Time          `json:"window_end"`
	Summary     string             `json:"summary"`
	Numbers     map[string]float64 `json:"numbers"`
	Evidence    []risk.Evidence    `json:"evidence"`
}

// Publish writes one message per alert and waits for the brokers.
func (p *KafkaPublisher) Publish(ctx context.Context, alerts []risk.Alert) error {
	msgs := make([]kafka.Message, len(alerts))
	for i, a := range alerts {
		b, err := json.Marshal(Published{Key: a.Key(), ScopeKey: a.ScopeKey(), Detector: a.Detector(), Level: a.Level, Labels: a.Labels,
			WindowStart: a.Window.Start, WindowEnd: a.Window.End, Summary: a.Summary, Numbers: a.Numbers, Evidence: a.Evidence})
		if err != nil {
			return fmt.Errorf("encode alert %s: %w", a.Key(), err)
		}
		msgs[i] = kafka.Message{Key: []byte(a.ScopeKey()), Value: b}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d alerts to %s: %w", len(msgs), p.w.Topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (p *KafkaPublisher) Close() error { return p.w.Close() }
