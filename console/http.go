package console

import (
	"errors"
	"flag"
	"net/http"
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
}

// RegisterFlags registers the HTTP flags with their defaults.
func (c *HTTPConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.ReadTimeout, "http.read-timeout", 30*time.Second, "Longest time to read a request, body included.")
	fs.DurationVar(&c.WriteTimeout, "http.write-timeout", 60*time.Second, "Longest time to write an answer.")
	fs.DurationVar(&c.IdleTimeout, "http.idle-timeout", 2*time.Minute, "How long a kept-alive connection may wait for its next request.")
	fs.DurationVar(&c.RequestTimeout, "http.request-timeout", 30*time.Second, "Deadline of one request's work (its database queries are cancelled then: 503).")
	fs.StringVar(&c.MetricsListen, "metrics.listen", "", "Serve /metrics on this address (e.g. 10.0.0.5:9100) instead of beside the API.")
}

// Validate reports settings that cannot work.
func (c HTTPConfig) Validate() error {
	if c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 || c.RequestTimeout <= 0 {
		return errors.New("http timeouts must be positive")
	}
	if c.RequestTimeout >= c.WriteTimeout {
		return errors.New("http.request-timeout must be shorter than http.write-timeout, or the answer cannot be written")
	}
	return nil
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
