package console

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// HTTPConfig bounds what one client can hold of the server: a slow or
// stalled client never keeps a connection, a goroutine or a database
// connection for long.
type HTTPConfig struct {
	ReadTimeout    time.Duration `yaml:"read_timeout"`    // the whole request, body included
	WriteTimeout   time.Duration `yaml:"write_timeout"`   // from the end of the request to the end of the answer
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a kept-alive connection between requests
	RequestTimeout time.Duration `yaml:"request_timeout"` // the deadline of a handler's work: its queries are cancelled then
	// MetricsListen, when set, serves /metrics on this address only (an
	// internal interface), not beside the API.
	MetricsListen string `yaml:"metrics_listen"`
	// CertFile and KeyFile, when set, serve the API and the console over
	// TLS (PEM; the certificate file may hold the chain). Without them the
	// server speaks plain HTTP, for loopback or behind a TLS proxy.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RegisterFlags registers the HTTP flags with their defaults.
func (c *HTTPConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.ReadTimeout, "http.read-timeout", 30*time.Second, "Longest time to read a request, body included.")
	fs.DurationVar(&c.WriteTimeout, "http.write-timeout", 60*time.Second, "Longest time to write an answer.")
	fs.DurationVar(&c.IdleTimeout, "http.idle-timeout", 2*time.Minute, "How long a kept-alive connection may wait for its next request.")
	fs.DurationVar(&c.RequestTimeout, "http.request-timeout", 30*time.Second, "Deadline of one request's work (its database queries are cancelled then: 503).")
	fs.StringVar(&c.MetricsListen, "metrics.listen", "", "Serve /metrics on this address (e.g. 10.0.0.5:9100) instead of beside the API.")
	fs.StringVar(&c.CertFile, "http.cert-file", "", "Serve HTTPS with this certificate (PEM, chain included; reread when it changes), with -http.key-file.")
	fs.StringVar(&c.KeyFile, "http.key-file", "", "The private key (PEM) of -http.cert-file.")
}

// Validate reports settings that cannot work.
func (c HTTPConfig) Validate() error {
	if c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 || c.RequestTimeout <= 0 {
		return errors.New("http timeouts must be positive")
	}
	if c.RequestTimeout >= c.WriteTimeout {
		return errors.New("http.request-timeout must be shorter than http.write-timeout, or the answer cannot be written")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("http.cert-file and http.key-file go together")
	}
	return nil
}

// TLSConfig is the server's TLS settings from CertFile and KeyFile, or
// nil when it speaks plain HTTP. The pair is read now — a bad one is an
// error at start — and again whenever the certificate file changes, so
// that a renewed certificate is served without a restart.
func (c HTTPConfig) TLSConfig() (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	k := &keyPair{cert: c.CertFile, key: c.KeyFile}
	if _, err := k.get(nil); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: k.get}, nil
}

// keyPair is a certificate and key read from files, reread when the
// certificate file's modification time changes.
type keyPair struct {
	cert, key string
	mu        sync.Mutex
	modified  time.Time
	pair      *tls.Certificate
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fi, err := os.Stat(k.cert)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if k.pair != nil {
			return k.pair, nil // a renewal in progress: the last good pair
		}
		return nil, fmt.Errorf("http certificate: %w", err)
	}
	if k.pair == nil || !fi.ModTime().Equal(k.modified) {
		pair, err := tls.LoadX509KeyPair(k.cert, k.key)
		if err != nil {
			if k.pair != nil {
				return k.pair, nil
			}
			return nil, fmt.Errorf("http certificate %s: %w", k.cert, err)
		}
		k.pair, k.modified = &pair, fi.ModTime()
	}
	return k.pair, nil
}

// NewHTTPServer returns a server for h on addr with cfg's limits.
func NewHTTPServer(addr string, h http.Handler, cfg HTTPConfig) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}
