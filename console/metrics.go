package console

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Instrument records every request's latency on reg, by route pattern
// ("GET /api/v1/alerts/{key}": never the path, which holds ids) and status
// class; requests no route matches count as route "unmatched". Call it
// before serving.
func (s *Server) Instrument(reg prometheus.Registerer) {
	s.latency = promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
		Name:    "risk_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern and status class (2xx, 4xx, 5xx).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "code"})
}

// observe records a request to route answered with code after began.
func (s *Server) observe(route string, code int, began time.Time) {
	if s.latency == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	s.latency.WithLabelValues(route, strconv.Itoa(code/100)+"xx").Observe(time.Since(began).Seconds())
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RegisterBuildInfo registers risk_build_info: 1, labelled with the
// binary's module version and VCS revision (from the build) and the Go
// version that built it, so dashboards can tell replicas' builds apart.
func RegisterBuildInfo(reg prometheus.Registerer) {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Name: "risk_build_info",
		Help: "Always 1; the labels say which build runs: module version, VCS revision, Go version.",
	}, []string{"version", "revision", "goversion"}).WithLabelValues(version, revision, runtime.Version()).Set(1)
}
