package console

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	risk "riskwatch"
	"riskwatch/pipeline"
)

// statsFunc is a fake ingestStats.
type statsFunc func(context.Context) ([]pipeline.FeedStats, error)

func (f statsFunc) Stats(ctx context.Context) ([]pipeline.FeedStats, error) { return f(ctx) }

func TestServer(t *testing.T) {
	ok := statsFunc(func(context.Context) ([]pipeline.FeedStats, error) {
		return []pipeline.FeedStats{{Source: risk.SourceHotline, Topic: "hotline.workorders", Records: 5, Lag: 2}}, nil
	})
	down := statsFunc(func(context.Context) ([]pipeline.FeedStats, error) {
		return nil, errors.New("dial tcp 127.0.0.1:19000: connection refused")
	})
	tests := []struct {
		name, path string
		stats      ingestStats
		want       int
		body       string // must appear
		hidden     string // must not appear
	}{
		{"health", "/healthz", down, http.StatusOK, "ok", ""},
		{"metrics", "/metrics", ok, http.StatusOK, "go_goroutines", ""},
		{"stats", "/api/v1/ingest/stats", ok, http.StatusOK, `"distinct_records": 5`, ""},
		{"stats when a store is down", "/api/v1/ingest/stats", down, http.StatusServiceUnavailable, `"code": "unavailable"`, "19000"},
		{"unknown path", "/api/v1/nothing", ok, http.StatusNotFound, "", ""},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			NewServer(tt.stats, reg, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q:\n%s", tt.body, rec.Body)
			}
			if tt.hidden != "" && strings.Contains(rec.Body.String(), tt.hidden) {
				t.Errorf("body shows the driver's error %q:\n%s", tt.hidden, rec.Body)
			}
			if strings.HasPrefix(tt.path, "/api/") && rec.Code != http.StatusNotFound && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body is not JSON:\n%s", rec.Body)
			}
		})
	}
}
