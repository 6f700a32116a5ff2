package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Brokers are the Kafka brokers and how to reach them. Every reader, writer
// and admin client riskwatch makes is made from one Brokers, so that none
// speaks plaintext to a cluster that wants TLS, or goes unauthenticated.
type Brokers struct {
	Addrs []string       // host:port of the bootstrap brokers
	TLS   *tls.Config    // nil: plaintext
	SASL  sasl.Mechanism // nil: no authentication
}

// Dialer is for kafka-go's readers and consumer groups.
func (b Brokers) Dialer() *kafka.Dialer {
	// kafka.DefaultDialer's settings, with the brokers' TLS and SASL.
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: b.TLS, SASLMechanism: b.SASL}
}

// Transport is for kafka-go's writers and clients. Each call returns a new
// transport with a pool of its own.
func (b Brokers) Transport() *kafka.Transport {
	return &kafka.Transport{TLS: b.TLS, SASL: b.SASL}
}

// Client is an admin client of the brokers whose requests time out after
// timeout.
func (b Brokers) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: timeout, Transport: b.Transport()}
}

// LogValue names the brokers, TLS and the SASL mechanism; never the
// credentials, which a mechanism may hold in exported fields.
func (b Brokers) LogValue() slog.Value {
	mech := "none"
	if b.SASL != nil {
		mech = b.SASL.Name()
	}
	return slog.GroupValue(slog.Any("addrs", b.Addrs), slog.Bool("tls", b.TLS != nil), slog.String("sasl", mech))
}

// String is what %v prints: LogValue's content, so that a Brokers printed
// by mistake shows no password either.
func (b Brokers) String() string {
	return b.LogValue().String()
}

// ErrLoginRefused is the error of CheckTopics when the brokers refuse
// riskwatch's login.
var ErrLoginRefused = errors.New("kafka login refused")

// ErrMissingTopics is the error of CheckTopics for topics the brokers do not
// have: riskwatch never creates topics on a real cluster.
var ErrMissingTopics = errors.New("kafka topics missing")

// CheckTopics asks the brokers for the topics' metadata over a connection
// of its own (a probe notices credentials rotated since start), without
// creating any topic: an error wrapping ErrMissingTopics names those that
// do not exist; one wrapping ErrLoginRefused says the login failed.
func (b Brokers) CheckTopics(ctx context.Context, topics []string) error {
	tr := b.Transport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: 5 * time.Second, Transport: tr}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		switch {
		case errors.Is(err, kafka.SASLAuthenticationFailed):
			return fmt.Errorf("%w: %w", ErrLoginRefused, err)
		case b.SASL != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			// Some brokers close the connection on a failed login
			// rather than answer SASLAuthenticationFailed.
			return fmt.Errorf("%w: the broker closed the connection (%w): check the %s user name and password, and TLS", ErrLoginRefused, err, b.SASL.Name())
		}
		return fmt.Errorf("kafka metadata: %w", err)
	}
	var missing []string
	for _, t := range md.Topics {
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			missing = append(missing, t.Name)
		case t.Error != nil:
			return fmt.Errorf("kafka topic %s: %w", t.Name, t.Error)
		}
	}
	for _, t := range topics {
		if !slices.ContainsFunc(md.Topics, func(m kafka.Topic) bool { return m.Name == t }) && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %s (create them on the cluster: riskwatch creates topics only on its embedded test broker)", ErrMissingTopics, strings.Join(missing, ", "))
	}
	return nil
}

// KafkaSecurity is how to connect to a Kafka cluster: TLS, mutual TLS,
// SASL. The password comes from the environment or a file, never from a
// flag, which would show in the process list.
type KafkaSecurity struct {
	TLS          bool
	CAFile       string // PEM; "" trusts the system's roots
	CertFile     string // PEM client certificate, for mutual TLS
	KeyFile      string
	SASL         string // "", plain, scram-sha-256 or scram-sha-512
	Username     string
	PasswordFile string
}

// RegisterFlags registers the flags of the Kafka connection.
func (s *KafkaSecurity) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&s.TLS, "kafka.tls", false, "Connect to the brokers over TLS (implied by -kafka.ca-file and -kafka.cert-file).")
	fs.StringVar(&s.CAFile, "kafka.ca-file", "", "PEM file of the CA certificates that sign the brokers' certificates; empty: the system's.")
	fs.StringVar(&s.CertFile, "kafka.cert-file", "", "PEM client certificate for mutual TLS, with -kafka.key-file.")
	fs.StringVar(&s.KeyFile, "kafka.key-file", "", "PEM private key of -kafka.cert-file.")
	fs.StringVar(&s.SASL, "kafka.sasl", "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512; empty: none. Use it over TLS: PLAIN sends the password as is.")
	fs.StringVar(&s.Username, "kafka.username", "", "SASL user name.")
	fs.StringVar(&s.PasswordFile, "kafka.password-file", "", "File holding the SASL password, when RISKWATCH_KAFKA_PASSWORD is not set.")
}

// Set reports whether any TLS or SASL setting is given: a production
// cluster, not the embedded test broker.
func (s KafkaSecurity) Set() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.SASL != "" || s.Username != "" || s.PasswordFile != ""
}

// Brokers reads the certificates and returns addrs with their TLS and
// SASL. password is the SASL password (RISKWATCH_KAFKA_PASSWORD or
// PasswordFile's content, which the caller reads).
func (s KafkaSecurity) Brokers(addrs []string, password string) (Brokers, error) {
	b := Brokers{Addrs: addrs}
	var err error
	if b.TLS, err = s.tlsConfig(); err != nil {
		return Brokers{}, err
	}
	if b.SASL, err = s.mechanism(password); err != nil {
		return Brokers{}, err
	}
	return b, nil
}

func (s KafkaSecurity) tlsConfig() (*tls.Config, error) {
	if !s.TLS && s.CAFile == "" && s.CertFile == "" && s.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.ca-file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.ca-file %s: no PEM certificate in it", s.CAFile)
		}
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, errors.New("kafka.cert-file and kafka.key-file go together (mutual TLS)")
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (s KafkaSecurity) mechanism(password string) (sasl.Mechanism, error) {
	if s.SASL == "" {
		if s.Username != "" || s.PasswordFile != "" {
			return nil, errors.New("kafka.username and kafka.password-file need -kafka.sasl plain, scram-sha-256 or scram-sha-512")
		}
		return nil, nil
	}
	if s.Username == "" {
		return nil, fmt.Errorf("kafka.sasl %s needs -kafka.username", s.SASL)
	}
	if password == "" {
		return nil, fmt.Errorf("kafka.sasl %s needs a password: set RISKWATCH_KAFKA_PASSWORD or -kafka.password-file", s.SASL)
	}
	switch strings.ToLower(s.SASL) {
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, s.Username, password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, s.Username, password)
	}
	return nil, fmt.Errorf("kafka.sasl %q: want plain, scram-sha-256 or scram-sha-512", s.SASL)
}
