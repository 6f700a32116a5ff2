// Package console serves riskwatch's HTTP API: health, metrics and the JSON
// endpoints under /api/v1/.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/pipeline"
)

// ingestStats reads the state of ingestion.
type ingestStats interface {
	Stats(ctx context.Context) ([]pipeline.FeedStats, error)
}

// alertReader reads stored alerts.
type alertReader interface {
	List(ctx context.Context, f detectors.Filter) ([]detectors.Stored, string, error)
	Get(ctx context.Context, key string) (detectors.Stored, error)
}

// Server routes the API.
type Server struct {
	mux *http.ServeMux
	log *slog.Logger
}

// NewServer returns the API over stats and alerts, exposing gatherer on
// /metrics.
func NewServer(stats ingestStats, alerts alertReader, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{mux: http.NewServeMux(), log: log.With("component", "console")}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/v1/ingest/stats", func(w http.ResponseWriter, r *http.Request) {
		feeds, err := stats.Stats(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"feeds": feeds})
	})
	s.mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := detectors.Filter{Status: q.Get("status"), Level: q.Get("level"), Detector: q.Get("detector"), RegionPrefix: q.Get("region"), After: q.Get("cursor")}
		var err error
		if f.From, err = queryTime(q.Get("from")); err == nil {
			f.To, err = queryTime(q.Get("to"))
		}
		if err == nil && q.Get("limit") != "" {
			f.Limit, err = strconv.Atoi(q.Get("limit"))
		}
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: %w", risk.ErrInvalid, err))
			return
		}
		list, next, err := alerts.List(r.Context(), f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if list == nil {
			list = []detectors.Stored{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": list, "next_cursor": next})
	})
	s.mux.HandleFunc("GET /api/v1/alerts/{key}", func(w http.ResponseWriter, r *http.Request) {
		a, err := alerts.Get(r.Context(), r.PathValue("key"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	return s
}

// queryTime reads a time filter: RFC 3339, or empty for none.
func queryTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339", v)
	}
	return t, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// fail answers with a JSON error. Bad requests and missing things say what
// was wrong; anything else is logged and answered 503 without its text, so
// driver messages stay in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, message := http.StatusServiceUnavailable, "unavailable", "a store or the broker did not answer; try again"
	switch {
	case errors.Is(err, risk.ErrInvalid):
		status, code, message = http.StatusBadRequest, "invalid", err.Error()
	case errors.Is(err, risk.ErrNotFound):
		status, code, message = http.StatusNotFound, "not_found", err.Error()
	default:
		s.log.Error("request failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
