// Package kafkatest starts a Kafka-protocol broker (kfake) that speaks TLS
// and SASL as a production cluster does, for tests of riskwatch's clients
// against it, and for kcat.
package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// PKI is a throw-away CA and what it signed, as PEM files in a test's
// temporary directory.
type PKI struct {
	CAFile                        string
	ServerCert                    tls.Certificate // for 127.0.0.1 and localhost
	ServerCertFile, ServerKeyFile string          // the same, as PEM files
	ClientCert                    string          // PEM files of a client certificate, for mutual TLS
	ClientKey                     string
	Roots                         *x509.CertPool // the CA, to verify clients with

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

// NewPKI makes a CA, a server certificate and a client certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "riskwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CAFile: filepath.Join(dir, "ca.pem"), Roots: x509.NewCertPool(), ca: ca, caKey: caKey}
	p.Roots.AddCert(ca)
	writePEM(t, p.CAFile, "CERTIFICATE", caDER)

	p.ServerCertFile, p.ServerKeyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	p.Issue(t, 2, x509.ExtKeyUsageServerAuth, p.ServerCertFile, p.ServerKeyFile)
	if p.ServerCert, err = tls.LoadX509KeyPair(p.ServerCertFile, p.ServerKeyFile); err != nil {
		t.Fatal(err)
	}
	p.ClientCert, p.ClientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	p.Issue(t, 3, x509.ExtKeyUsageClientAuth, p.ClientCert, p.ClientKey)
	return p
}

// Issue writes a certificate for 127.0.0.1 and localhost with the serial
// number and usage, signed by the CA, and its key: the key first, so that
// a server rereading a renewed certificate finds its key in place.
func (p *PKI) Issue(t testing.TB, serial int64, usage x509.ExtKeyUsage, certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	writePEM(t, certFile, "CERTIFICATE", der)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Broker is a running broker with TLS and SASL.
type Broker struct {
	Addr string
	PKI  *PKI
}

// Options say how the broker authenticates clients.
type Options struct {
	Mechanism      string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; "": TLS without SASL
	User, Password string
	MutualTLS      bool // require a client certificate signed by the CA
	Topics         []string
	Partitions     int32
}

// Start starts a broker on a free loopback port that speaks only TLS (with
// SASL if o.Mechanism is set), and has the topics; it stops when the test ends. Unlike riskwatch's
// embedded broker, it never creates a topic by itself.
func Start(t testing.TB, o Options) *Broker {
	t.Helper()
	p := NewPKI(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.ServerCert}, MinVersion: tls.VersionTLS12}
	if o.MutualTLS {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, p.Roots
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.TLS(cfg), kfake.SeedTopics(max(o.Partitions, 1), o.Topics...)}
	if o.Mechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(o.Mechanism, o.User, o.Password))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Broker{Addr: c.ListenAddrs()[0], PKI: p}
}
