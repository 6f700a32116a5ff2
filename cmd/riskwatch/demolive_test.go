package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/detectors/scenario"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// The living demo, as a new user meets it: accounts to sign in with, alerts
// for the reviewer, cases for the mediator and a brief for the leader soon
// after the start; a clean stop; a restart that goes on without publishing
// the history again.
func TestLivingDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	dir := filepath.Join(t.TempDir(), "demo")
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t),
		flags: []string{"-demo", "-demo.dir", dir, "-demo.scale", "0.5", "-desks", "../../deploy/desks.yaml", "-regions", "../../deploy/regions.yaml"}}
	start := time.Now()
	s.start()

	accounts := demoPasswords(t, filepath.Join(dir, "accounts.txt"))
	for _, u := range []string{"admin", "reviewer", "fq-li", "leader"} {
		if accounts[u] == "" {
			t.Fatalf("accounts.txt has no password for %s: %v", u, accounts)
		}
	}
	reviewer := s.signIn(accounts, "reviewer")
	var alerts struct {
		Alerts []struct{ Summary, Detector string }
	}
	s.waitFor("alerts for the reviewer", 3*time.Minute, func() bool {
		return s.getAs(reviewer, "/api/v1/alerts", &alerts) == nil && len(alerts.Alerts) > 0
	})
	t.Logf("%d alerts %v after the start", len(alerts.Alerts), time.Since(start).Round(time.Second))
	named := false
	for _, a := range alerts.Alerts {
		named = named || strings.Contains(a.Summary, "枫桥镇") || strings.Contains(a.Summary, "街道")
	}
	if !named {
		t.Errorf("no alert names a place: %+v", alerts.Alerts)
	}

	mediator := s.signIn(accounts, "fq-li")
	var cases struct{ Cases []struct{ ID int64 } }
	s.waitFor("cases for the mediator", time.Minute, func() bool {
		return s.getAs(mediator, "/api/v1/cases", &cases) == nil && len(cases.Cases) > 0
	})

	leader := s.signIn(accounts, "leader")
	var brief struct {
		Headline []struct {
			Current int `json:"current"`
		} `json:"headline"`
	}
	if err := s.getAs(leader, "/api/v1/briefs?region=330681&period=week", &brief); err != nil {
		t.Fatal(err)
	}
	if len(brief.Headline) == 0 || brief.Headline[0].Current == 0 {
		t.Errorf("the leader's weekly brief has no matters: %+v", brief)
	}

	// The history detected, the scheduler runs; a stop keeps the data.
	state := func() demoState {
		var st demoState
		b, err := os.ReadFile(filepath.Join(dir, "state.json"))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	s.waitFor("the backfill", 4*time.Minute, func() bool { return state().Backfilled })
	s.stop()
	first := state()

	// Restarted: the same accounts, and only what came due since is
	// published — the broker holds each scenario message once.
	s.log = &bytes.Buffer{}
	s.start()
	again := demoPasswords(t, filepath.Join(dir, "accounts.txt"))
	if fmt.Sprint(again) != fmt.Sprint(accounts) {
		t.Errorf("restarted, the accounts changed")
	}
	admin := s.signIn(accounts, "admin")
	s.waitFor("a round after the restart", 30*time.Second, func() bool { return state().Published.After(first.Published) })
	before := state().Published
	var st struct{ Feeds []pipeline.FeedStats }
	if err := s.getAs(admin, "/api/v1/ingest/stats", &st); err != nil {
		t.Fatal(err)
	}
	after := state().Published
	sc := scenario.Generate(scenario.Config{Seed: first.Seed, Scale: first.Scale, Weeks: 10, Start: first.Start})
	count := func(until time.Time) (n int64) {
		for _, src := range risk.Sources {
			for _, at := range sc.At[src] {
				if !at.After(until) {
					n++
				}
			}
		}
		return n
	}
	var end int64
	for _, f := range st.Feeds {
		end += sumEnd(f)
	}
	if lo, hi := count(before), count(after.Add(time.Minute)); end < lo || end > hi {
		t.Errorf("after a restart the broker holds %d messages, want %d to %d: the scenario's messages due, each once", end, lo, hi)
	}
	s.stop()
}

// demoPasswords reads the demo's accounts file: username → password. It
// must be readable by its owner only.
func demoPasswords(t *testing.T, file string) map[string]string {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", file, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

// signIn logs a user in with the API and returns the session as a bearer
// of its cookie.
func (s *server) signIn(passwords map[string]string, username string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": passwords[username]})
	resp, err := http.Post("http://"+s.httpA+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "rw_session" && resp.StatusCode == http.StatusOK {
			return c.Value
		}
	}
	s.t.Fatalf("%s could not sign in: %s", username, resp.Status)
	return ""
}

// getAs decodes a GET of path as the session's user.
func (s *server) getAs(session, path string, v any) error {
	req, err := http.NewRequest("GET", "http://"+s.httpA+path, nil)
	if err != nil {
		return err
	}
	req.AddCookie(&http.Cookie{Name: "rw_session", Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitFor polls ok until it holds, or fails the test after d.
func (s *server) waitFor(what string, d time.Duration, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(time.Second)
	}
}
