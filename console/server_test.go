package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/pipeline"
)

// statsFunc is a fake ingestStats.
type statsFunc func(context.Context) ([]pipeline.FeedStats, error)

func (f statsFunc) Stats(ctx context.Context) ([]pipeline.FeedStats, error) { return f(ctx) }

// alertsFake is a fake alertReader holding one alert.
type alertsFake struct{}

func (alertsFake) List(_ context.Context, f detectors.Filter) ([]detectors.Stored, string, error) {
	if f.After == "bad" {
		return nil, "", fmt.Errorf("cursor: %w", risk.ErrInvalid)
	}
	return []detectors.Stored{{Key: "k1", Detector: "repeat", Level: risk.LevelOrange, Summary: "重复诉求"}}, "", nil
}

func (alertsFake) Get(_ context.Context, key string) (detectors.Stored, error) {
	if key != "k1" {
		return detectors.Stored{}, fmt.Errorf("alert %s: %w", key, risk.ErrNotFound)
	}
	return detectors.Stored{Key: "k1", Evidence: []risk.Evidence{{Source: risk.SourceHotline, ID: "H1"}}}, nil
}

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
		{"alerts", "/api/v1/alerts?level=orange&region=330681", ok, http.StatusOK, `"summary": "重复诉求"`, ""},
		{"alerts with a bad limit", "/api/v1/alerts?limit=many", ok, http.StatusBadRequest, `"code": "invalid"`, ""},
		{"alerts with a bad time", "/api/v1/alerts?from=yesterday", ok, http.StatusBadRequest, `"code": "invalid"`, ""},
		{"alerts with a bad cursor", "/api/v1/alerts?cursor=bad", ok, http.StatusBadRequest, `"code": "invalid"`, ""},
		{"one alert with its evidence", "/api/v1/alerts/k1", ok, http.StatusOK, `"id": "H1"`, ""},
		{"unknown alert", "/api/v1/alerts/k2", ok, http.StatusNotFound, `"code": "not_found"`, ""},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			NewServer(tt.stats, alertsFake{}, reg, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
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
