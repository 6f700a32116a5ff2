package console_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"riskwatch/console"
)

// TestRequestMetrics makes requests a reviewer and a stray client would,
// then reads the latency histogram: one series per route pattern and
// status class, with no alert key, path or query in any label.
func TestRequestMetrics(t *testing.T) {
	f := setup(t)
	reg := prometheus.NewRegistry()
	f.srv.Instrument(reg)
	console.RegisterBuildInfo(reg)

	f.call(t, request{"GET", "/api/v1/alerts/" + f.openAlert, ""}, f.as("zhang"), http.StatusOK)
	f.call(t, request{"GET", "/api/v1/alerts/" + f.otherAlert, ""}, f.as("zhang"), http.StatusNotFound) // another county's: hidden
	f.call(t, request{"GET", "/api/v1/no-such/13800000000?name=" + "张三", ""}, nil, http.StatusNotFound)
	f.call(t, request{"GET", "/healthz", ""}, nil, http.StatusOK)

	want := map[[2]string]uint64{
		{"GET /api/v1/alerts/{key}", "2xx"}: 1,
		{"GET /api/v1/alerts/{key}", "4xx"}: 1,
		{"unmatched", "4xx"}:                1,
		{"GET /healthz", "2xx"}:             1,
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "risk_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k [2]string
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), f.openAlert) || strings.Contains(l.GetValue(), "138") || strings.Contains(l.GetValue(), "张三") {
					t.Errorf("label %s=%q holds what the client sent", l.GetName(), l.GetValue())
				}
				switch l.GetName() {
				case "route":
					k[0] = l.GetValue()
				case "code":
					k[1] = l.GetValue()
				}
			}
			got[k] += m.GetHistogram().GetSampleCount()
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("requests of route %q, code %s: %d, want %d", k[0], k[1], got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want exactly %v", got, want)
	}

	// The build: one series, naming the Go version that runs.
	var builds []map[string]string
	for _, mf := range mfs {
		if mf.GetName() == "risk_build_info" {
			for _, m := range mf.GetMetric() {
				ls := map[string]string{}
				for _, l := range m.GetLabel() {
					ls[l.GetName()] = l.GetValue()
				}
				builds = append(builds, ls)
			}
		}
	}
	if len(builds) != 1 || builds[0]["goversion"] != runtime.Version() || builds[0]["version"] == "" {
		t.Errorf("risk_build_info series %v, want one with goversion %s and a version", builds, runtime.Version())
	}
}
