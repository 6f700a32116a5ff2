// Package console serves riskwatch's HTTP API: health, metrics and the JSON
// endpoints under /api/v1/.
package console

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"riskwatch/pipeline"
)

// ingestStats reads the state of ingestion.
type ingestStats interface {
	Stats(ctx context.Context) ([]pipeline.FeedStats, error)
}

// Server routes the API.
type Server struct {
	mux *http.ServeMux
	log *slog.Logger
}

// NewServer returns the API over stats, exposing gatherer on /metrics.
func NewServer(stats ingestStats, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{mux: http.NewServeMux(), log: log.With("component", "console")}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/v1/ingest/stats", func(w http.ResponseWriter, r *http.Request) {
		feeds, err := stats.Stats(r.Context())
		if err != nil {
			s.fail(w, r, http.StatusServiceUnavailable, "unavailable", "ingest statistics are unavailable: a store or the broker did not answer", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"feeds": feeds})
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// fail logs err and answers with a JSON error whose text never includes err:
// driver messages stay in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, code, message string, err error) {
	s.log.Error("request failed", "path", r.URL.Path, "status", status, "err", err)
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
