package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/detectors"
	"riskwatch/detectors/scenario"
)

// demoSettings are serve's flags of the living demo.
type demoSettings struct {
	on    bool
	dir   string
	seed  uint64
	scale float64
}

func (d *demoSettings) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.on, "demo", false, "The living demo (embedded broker only): accounts for each role, and 诸暨市's traffic with planted incidents — ten weeks ending the day after tomorrow, the past published at once and detected, the rest as it comes.")
	fs.StringVar(&d.dir, "demo.dir", "var/demo", "With -demo: where the demo keeps its accounts (accounts.txt) and how far it has published (state.json).")
	fs.Uint64Var(&d.seed, "demo.seed", 1, "With -demo: the scenario's seed (on the demo's first start).")
	fs.Float64Var(&d.scale, "demo.scale", 1, "With -demo: the background's volume; 1 is a county's (on the demo's first start).")
}

// demoState is what a restarted demo goes on from (state.json).
type demoState struct {
	Seed       uint64    `json:"seed"`
	Scale      float64   `json:"scale"`
	Start      time.Time `json:"start"`      // the scenario's first day
	Published  time.Time `json:"published"`  // the messages published up to
	Backfilled bool      `json:"backfilled"` // the history's windows are detected
}

// demoAccounts are the demo's users, one per role. The mediator works at
// 枫桥镇综治中心 in deploy/desks.yaml, where the demo confirms its first cases.
var demoAccounts = []desk.User{
	{Username: "admin", DisplayName: "系统管理员", Role: desk.RoleAdmin, Jurisdiction: "330681"},
	{Username: "reviewer", DisplayName: "市矛调中心研判员", Role: desk.RoleReviewer, Jurisdiction: "330681"},
	{Username: "fq-li", DisplayName: "枫桥镇调解员", Role: desk.RoleMediator, Jurisdiction: "330681109"},
	{Username: "leader", DisplayName: "市委政法委领导", Role: desk.RoleLeader, Jurisdiction: "330681"},
}

const (
	demoDesk   = "fengqiao"  // the mediator's desk
	demoRegion = "330681109" // 枫桥镇
	demoCases  = 3           // alerts the demo's reviewer confirms for the mediator
)

// livingDemo is the state of `serve -demo`.
type livingDemo struct {
	dir   string
	mu    sync.Mutex // guards state: the replay and the backfill both save it
	state demoState
	s     scenario.Scenario
	log   *slog.Logger
}

// openDemo reads (or starts) the demo's state, makes its accounts on the
// first start and prints them, and generates its scenario.
func openDemo(ctx context.Context, set demoSettings, accounts *desk.Accounts, stderr io.Writer, log *slog.Logger) (*livingDemo, error) {
	if err := os.MkdirAll(set.dir, 0o700); err != nil {
		return nil, err
	}
	d := &livingDemo{dir: set.dir, log: log.With("component", "demo")}
	b, err := os.ReadFile(d.path("state.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Ten weeks ending the day after tomorrow (UTC+8): the four weeks of
		// history the detectors need and all but the last day of the
		// incidents are past; the last two days' traffic arrives live.
		today := time.Now().In(risk.CST)
		end := time.Date(today.Year(), today.Month(), today.Day()+2, 0, 0, 0, 0, risk.CST)
		d.state = demoState{Seed: set.seed, Scale: set.scale, Start: end.AddDate(0, 0, -70)}
		if err := d.save(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &d.state); err != nil {
			return nil, fmt.Errorf("demo state %s: %w (deploy/local/run.sh -demo -reset starts afresh)", d.path("state.json"), err)
		}
	}
	if err := d.accounts(ctx, accounts, stderr); err != nil {
		return nil, err
	}
	d.s = scenario.Generate(scenario.Config{Seed: d.state.Seed, Scale: d.state.Scale, Weeks: 10, Start: d.state.Start})
	return d, nil
}

func (d *livingDemo) path(name string) string { return filepath.Join(d.dir, name) }

// update changes the state and saves it.
func (d *livingDemo) update(change func(*demoState)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	change(&d.state)
	return d.save()
}

func (d *livingDemo) save() error {
	b, err := json.MarshalIndent(d.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.path("state.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.path("state.json"))
}

// accounts makes the demo's users with new passwords on the first start,
// writes them to accounts.txt (readable by its owner only) and prints the
// file on every start.
func (d *livingDemo) accounts(ctx context.Context, accounts *desk.Accounts, stderr io.Writer) error {
	file := d.path("accounts.txt")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		var lines []string
		for _, u := range demoAccounts {
			password := strings.ToLower(rand.Text()[:16])
			if _, err := accounts.AddUser(ctx, nil, u, password); err != nil {
				return fmt.Errorf("demo account %s: %w (deploy/local/run.sh -demo -reset starts afresh)", u.Username, err)
			}
			lines = append(lines, fmt.Sprintf("%-9s %-10s %s  %s", u.Role, u.Username, password, u.DisplayName))
		}
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: sign in with (role, username, password; kept in %s):\n%s", file, b)
	return nil
}

// run publishes the scenario into the broker; on the first start it waits
// for the history to be ingested, backfills the detectors over it, and
// confirms a few of 枫桥镇's alerts for the mediator. ready is closed when
// the scheduler may start.
func (d *livingDemo) run(ctx context.Context, brokers []string, topics map[risk.Source]string, conn driver.Conn, sched *detectors.Scheduler,
	defs []detectors.Definition, review *desk.Review, accounts *desk.Accounts, ready chan<- struct{}) error {
	writers := map[risk.Source]*kafka.Writer{}
	for src, topic := range topics {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
		defer w.Close()
		writers[src] = w
	}
	started := time.Now()
	history := make(chan struct{}) // closed after the replay's first round: the past is published
	var once bool
	replay := scenario.Replay{Scenario: d.s, Since: d.state.Published,
		Publish: func(ctx context.Context, src risk.Source, msgs []kafka.Message) error {
			return writers[src].WriteMessages(ctx, msgs...)
		},
		Published: func(until time.Time) error {
			if !once {
				once = true
				close(history)
			}
			return d.update(func(s *demoState) { s.Published = until })
		}}
	done := make(chan error, 1)
	go func() { done <- replay.Run(ctx) }()

	select {
	case <-history:
	case err := <-done:
		close(ready)
		return err
	}
	d.log.Info("history published", "took", time.Since(started).Round(time.Millisecond))
	if !d.state.Backfilled {
		if err := d.backfill(ctx, conn, sched, defs, started); err != nil {
			close(ready)
			return err
		}
		if err := review.Intake(ctx); err != nil {
			close(ready)
			return err
		}
		if err := d.confirm(ctx, review, accounts); err != nil {
			d.log.Warn("no cases confirmed for the mediator", "err", err)
		}
		if err := d.update(func(s *demoState) { s.Backfilled = true }); err != nil {
			close(ready)
			return err
		}
		d.log.Info("the living demo is ready: alerts in the queue, cases for the mediator; detectors now run on schedule", "took", time.Since(started).Round(time.Second))
	}
	close(ready)
	if err := <-done; err != nil || ctx.Err() != nil {
		return err
	}
	d.log.Info("the demo's traffic is all published: -reset starts a new one")
	return nil
}

// backfill waits until ingestion has passed the history, then detects over
// the scenario's incidents' span up to the last whole hour.
func (d *livingDemo) backfill(ctx context.Context, conn driver.Conn, sched *detectors.Scheduler, defs []detectors.Definition, since time.Time) error {
	mark := detectors.IngestWatermark(conn)
	for {
		t, err := mark(ctx)
		if err == nil && !t.Before(since.Add(-time.Minute)) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	from := d.s.Truth.From.AddDate(0, 0, 28) // the incidents come after four weeks of history
	to := time.Now().Truncate(time.Hour)
	started := time.Now()
	opened, err := sched.Backfill(ctx, defs, from, to, detectors.BacktestConfig{Parallel: runtime.GOMAXPROCS(0)})
	if err != nil {
		return fmt.Errorf("demo backfill: %w", err)
	}
	d.log.Info("history detected", "from", from, "to", to, "alerts", opened, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// confirm has the demo's reviewer confirm the newest open alerts of 枫桥镇
// to its desk, so that the mediator has cases to open.
func (d *livingDemo) confirm(ctx context.Context, review *desk.Review, accounts *desk.Accounts) error {
	by, err := accounts.UserByName(ctx, "reviewer")
	if err != nil {
		return err
	}
	alerts, _, err := review.Alerts(ctx, by, desk.AlertFilter{Status: "open", Region: demoRegion, Limit: 20})
	if err != nil {
		return err
	}
	n := 0
	for _, a := range alerts {
		if n == demoCases {
			break
		}
		if _, err := review.Confirm(ctx, by, a.Key, demoDesk, "演示：研判员确认，交枫桥镇综治中心办理"); err != nil {
			d.log.Warn("confirm", "alert", a.Key, "err", err)
			continue
		}
		n++
	}
	d.log.Info("cases for the mediator", "desk", demoDesk, "cases", n)
	return nil
}
