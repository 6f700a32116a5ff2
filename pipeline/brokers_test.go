package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"riskwatch/pipeline"
	"riskwatch/pipeline/kafkatest"
)

// A feed is consumed and a topic produced to through a broker that speaks
// only TLS and SCRAM, with the settings an operator gives serve, and the
// group's commits read back over the same connection.
func TestBrokersTLSAndSCRAM(t *testing.T) {
	for _, mech := range []string{"scram-sha-256", "scram-sha-512", "plain"} {
		t.Run(mech, func(t *testing.T) {
			kb := kafkatest.Start(t, kafkatest.Options{Mechanism: strings.ToUpper(mech), User: "riskwatch", Password: "s3cret-" + mech,
				Topics: []string{"hotline.workorders"}, Partitions: 2})
			sec := pipeline.KafkaSecurity{TLS: true, CAFile: kb.PKI.CAFile, SASL: mech, Username: "riskwatch"}
			b, err := sec.Brokers([]string{kb.Addr}, "s3cret-"+mech)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, b, pipeline.Feed{Topic: "hotline.workorders", Group: "riskwatch.hotline"})
		})
	}
}

// Mutual TLS: the broker admits only clients with a certificate its CA
// signed.
func TestBrokersMutualTLS(t *testing.T) {
	kb := kafkatest.Start(t, kafkatest.Options{Mechanism: "PLAIN", User: "riskwatch", Password: "pw", MutualTLS: true, Topics: []string{"grid.events"}})
	sec := pipeline.KafkaSecurity{CAFile: kb.PKI.CAFile, CertFile: kb.PKI.ClientCert, KeyFile: kb.PKI.ClientKey, SASL: "plain", Username: "riskwatch"}
	b, err := sec.Brokers([]string{kb.Addr}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b, pipeline.Feed{Topic: "grid.events", Group: "riskwatch.grid"})

	sec.CertFile, sec.KeyFile = "", ""
	noCert, err := sec.Brokers([]string{kb.Addr}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTopics(t, noCert, "grid.events"); err == nil {
		t.Error("a client without a certificate was admitted")
	}
}

// A wrong password, or no TLS, is refused with an error that says so.
func TestBrokersRefused(t *testing.T) {
	kb := kafkatest.Start(t, kafkatest.Options{Mechanism: "SCRAM-SHA-512", User: "riskwatch", Password: "right", Topics: []string{"petition.cases"}})
	sec := pipeline.KafkaSecurity{CAFile: kb.PKI.CAFile, SASL: "scram-sha-512", Username: "riskwatch"}
	wrong, err := sec.Brokers([]string{kb.Addr}, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	// kfake hangs up on a failed login, where Kafka answers
	// SASLAuthenticationFailed first: either way the operator reads why.
	err = checkTopics(t, wrong, "petition.cases")
	if !errors.Is(err, pipeline.ErrLoginRefused) || !strings.Contains(err.Error(), "check the SCRAM-SHA-512 user name and password") {
		t.Errorf("wrong password: got %v, want a refused login", err)
	}
	t.Logf("wrong password: %v", err)
	w := &kafka.Writer{Addr: kafka.TCP(kb.Addr), Transport: wrong.Transport(), Topic: "petition.cases", MaxAttempts: 1}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), kafka.Message{Value: []byte("{}")}); err == nil {
		t.Error("a writer with a wrong password wrote")
	}

	if err := checkTopics(t, pipeline.Brokers{Addrs: []string{kb.Addr}}, "petition.cases"); err == nil {
		t.Error("a plaintext client was answered by the TLS broker")
	}
	untrusted, err := pipeline.KafkaSecurity{TLS: true, SASL: "scram-sha-512", Username: "riskwatch"}.Brokers([]string{kb.Addr}, "right")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTopics(t, untrusted, "petition.cases"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a broker whose CA is not trusted: got %v, want a certificate error", err)
	}
}

// CheckTopics names the topics a cluster lacks, and creates none.
func TestCheckTopicsNamesMissing(t *testing.T) {
	kb := kafkatest.Start(t, kafkatest.Options{Mechanism: "PLAIN", User: "u", Password: "p", Topics: []string{"hotline.workorders"}})
	b, err := pipeline.KafkaSecurity{CAFile: kb.PKI.CAFile, SASL: "plain", Username: "u"}.Brokers([]string{kb.Addr}, "p")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time: the first did not create them
		err := checkTopics(t, b, "hotline.workorders", "riskwatch.cases", "riskwatch.alerts")
		if !errors.Is(err, pipeline.ErrMissingTopics) || !strings.Contains(err.Error(), "riskwatch.alerts, riskwatch.cases") {
			t.Fatalf("got %v, want both missing topics named", err)
		}
	}
	if err := checkTopics(t, b, "hotline.workorders"); err != nil {
		t.Error(err)
	}
}

// The settings that cannot work are refused before any connection.
func TestKafkaSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, c := range []struct {
		sec      pipeline.KafkaSecurity
		password string
		want     string
	}{
		{pipeline.KafkaSecurity{SASL: "scram-sha-256"}, "pw", "needs -kafka.username"},
		{pipeline.KafkaSecurity{SASL: "scram-sha-256", Username: "u"}, "", "needs a password"},
		{pipeline.KafkaSecurity{SASL: "gssapi", Username: "u"}, "pw", "want plain, scram-sha-256 or scram-sha-512"},
		{pipeline.KafkaSecurity{Username: "u"}, "", "need -kafka.sasl"},
		{pipeline.KafkaSecurity{CAFile: notPEM}, "", "no PEM certificate"},
		{pipeline.KafkaSecurity{CAFile: filepath.Join(dir, "absent.pem")}, "", "kafka.ca-file"},
		{pipeline.KafkaSecurity{TLS: true, CertFile: notPEM}, "", "go together"},
	} {
		_, err := c.sec.Brokers([]string{"127.0.0.1:1"}, c.password)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.sec, err, c.want)
		}
	}
	// Printed or logged, the brokers never show the password.
	b, err := pipeline.KafkaSecurity{TLS: true, SASL: "plain", Username: "u"}.Brokers([]string{"127.0.0.1:1"}, "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "kafka", b)
	slog.New(slog.NewTextHandler(&log, nil)).Info("x", "kafka", b)
	fmt.Fprintf(&log, "%v %+v %s", b, b, b)
	if strings.Contains(log.String(), "hunter2") || !strings.Contains(log.String(), "PLAIN") {
		t.Errorf("brokers as logged: %s", log.String())
	}
}

func checkTopics(t *testing.T, b pipeline.Brokers, topics ...string) error {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return b.CheckTopics(ctx, topics)
}

// roundTrip produces to f's topic, consumes it in f's group and commits,
// every connection made from b, and reads the group's lag.
func roundTrip(t *testing.T, b pipeline.Brokers, f pipeline.Feed) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := checkTopics(t, b, f.Topic); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs...), Transport: b.Transport(), Topic: f.Topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	want := map[string]bool{}
	var msgs []kafka.Message
	for i := range 20 {
		k := fmt.Sprintf("order-%d", i)
		want[k] = true
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(`{"n":` + fmt.Sprint(i) + `}`)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	r, err := pipeline.NewGroupReader(kafka.ConsumerGroupConfig{
		ID: f.Group, Brokers: b.Addrs, Dialer: b.Dialer(), Topics: []string{f.Topic}, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
	}, kafka.ReaderConfig{Brokers: b.Addrs, Dialer: b.Dialer(), MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for len(want) > 0 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("consume (%d of %d left): %v", len(want), len(msgs), err)
		}
		delete(want, string(m.Key))
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	ps, err := pipeline.Lag(ctx, b.Client(5*time.Second), f) // the StatsReader's client
	if err != nil {
		t.Fatal(err)
	}
	var end, lag int64
	for _, p := range ps {
		end, lag = end+p.EndOffset, lag+p.Lag
	}
	if end != int64(len(msgs)) || lag != 0 {
		t.Errorf("after consuming everything: end offsets %d, lag %d; want %d and 0", end, lag, len(msgs))
	}
}
