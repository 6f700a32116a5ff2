package console_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"riskwatch/console"
	"riskwatch/pipeline"
)

// stuckStats is a store that never answers: it waits for its caller to
// give up.
type stuckStats struct{}

func (stuckStats) Stats(ctx context.Context) ([]pipeline.FeedStats, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("read ingestion stats: %w", ctx.Err())
}

// TestRequestDeadline: a request whose store does not answer is answered
// 503 at the request deadline, not held for as long as the client waits.
func TestRequestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t)
		deps := f.deps
		deps.Ingest = stuckStats{}
		srv := console.NewServer(deps, 5*time.Second, nil, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("GET", "/api/v1/ingest/stats", nil)
		f.as("admin")(r)
		w := httptest.NewRecorder()
		start := time.Now()
		srv.ServeHTTP(w, r)
		if took := time.Since(start); took != 5*time.Second || w.Code != http.StatusServiceUnavailable {
			t.Errorf("a stuck store: %d after %v, want 503 at the 5 s deadline", w.Code, took)
		}
	})
}

// TestSlowClientIsCut: a client that sends its body slowly loses the
// connection at the read timeout instead of holding it.
func TestSlowClientIsCut(t *testing.T) {
	cfg := console.HTTPConfig{ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second, IdleTimeout: time.Second, RequestTimeout: 500 * time.Millisecond}
	read := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		read <- err
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := console.NewHTTPServer(ln.Addr().String(), h, cfg)
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
	select { // the client sends nothing more
	case err := <-read:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("reading the slow body ended with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server still waits for the slow body after 10 s; read timeout 300 ms")
	}
}

// TestMetricsElsewhere: with metrics on their own listener, the API's
// address does not serve them.
func TestMetricsElsewhere(t *testing.T) {
	f := setup(t)
	srv := console.NewServer(f.deps, time.Second, nil, slog.New(slog.DiscardHandler))
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/metrics beside the API: %d, want 404", w.Code)
	}
}
