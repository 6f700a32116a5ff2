package schema_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
	"riskwatch/detectors"
	"riskwatch/detectors/intent"
	"riskwatch/detectors/scenario"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
	"riskwatch/schema/schematest"
)

// TestOnClusterRewrite: every migration becomes statements that all run ON
// CLUSTER and name their database: MergeTree tables are replicated under
// a path of their own (database and table) with a Distributed table of the
// code's name over them, views read qualified tables, the materialized
// view the local ones. Anything the rewrite does not know is refused.
func TestOnClusterRewrite(t *testing.T) {
	names, _ := fs.Glob(schema.ClickHouseMigrations, "*.sql")
	unqualified := regexp.MustCompile(`\b(?:FROM|JOIN|TO|TABLE(?: IF (?:NOT )?EXISTS)?|AS)\s+(\w+)\b(\.?)`)
	keywords := map[string]bool{"SELECT": true}
	onCluster := regexp.MustCompile(` ON CLUSTER c\b`)
	replicated := regexp.MustCompile(`ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/d/(\w+)', '\{replica\}'`)
	for _, name := range names {
		b, _ := fs.ReadFile(schema.ClickHouseMigrations, name)
		stmts, err := schema.OnCluster(string(b), "d", "c")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, s := range stmts {
			if !onCluster.MatchString(s) {
				t.Errorf("%s: not ON CLUSTER: %s", name, s)
			}
			for _, m := range unqualified.FindAllStringSubmatch(s, -1) {
				if m[2] != "." && !keywords[m[1]] {
					t.Errorf("%s: table %s without its database: %s", name, m[1], s)
				}
			}
			if strings.Contains(s, "MergeTree") && !strings.Contains(s, "ENGINE = Replicated") {
				t.Errorf("%s: a MergeTree table not replicated: %s", name, s)
			}
			if m := replicated.FindStringSubmatch(s); m != nil && !strings.Contains(s, "TABLE IF NOT EXISTS d."+m[1]+" ") {
				t.Errorf("%s: replicated under another table's path %s: %s", name, m[1], s)
			}
		}
		// Each table of the code's name is Distributed over its local one.
		if strings.HasPrefix(strings.TrimSpace(stripComments(string(b))), "CREATE TABLE") {
			last := stmts[len(stmts)-1]
			if !regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS d\.(\w+) ON CLUSTER c AS d\.(\w+)_local ENGINE = Distributed\(c, d, (\w+)_local, .+\)$`).MatchString(last) {
				t.Errorf("%s: last statement is not the Distributed table: %s", name, last)
			}
		}
	}
	for _, bad := range []string{
		"RENAME TABLE events TO old_events",
		"CREATE TABLE IF NOT EXISTS new_table (a String) ENGINE = MergeTree ORDER BY a", // no sharding key
	} {
		if _, err := schema.OnCluster(bad, "d", "c"); err == nil {
			t.Errorf("%q rewritten, want an error", bad)
		}
	}
}

func stripComments(s string) string { return regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "") }

// clusterEnv is the cluster of deploy/local/cluster.sh, or a skip.
func clusterEnv(t *testing.T) (ch1, ch2, name string) {
	t.Helper()
	ch1, ch2, name = os.Getenv("RISKWATCH_CLUSTER_CH1"), os.Getenv("RISKWATCH_CLUSTER_CH2"), os.Getenv("RISKWATCH_CLUSTER_NAME")
	if testing.Short() || ch1 == "" || ch2 == "" || name == "" {
		t.Skip("needs the ClickHouse cluster: set -a; eval \"$(deploy/local/cluster.sh start)\"; set +a (RISKWATCH_CLUSTER_CH1, _CH2, _NAME)")
	}
	return ch1, ch2, name
}

// clusterScript runs deploy/local/cluster.sh with args.
func clusterScript(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("../deploy/local/cluster.sh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCluster runs riskwatch's storage on a real cluster (cluster.sh: one
// shard, two replicas, ZooKeeper): migrated through replica 1, the demo's
// records written through it by the pipeline's writer are counted the same
// from both replicas; replica 2 is stopped while more are written and,
// restarted, catches up; and every detector raises on the cluster exactly
// what it raises on one server from the same records.
func TestCluster(t *testing.T) {
	ch1, ch2, cluster := clusterEnv(t)
	ctx := t.Context()
	db, err := schema.CreateTempCluster(ctx, ch1, "test", cluster)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		clusterScript(t, "start", "ch2") // a failed test may have left it stopped
		if err := db.Drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(ch2)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db.Name
	conn1, conn2 := db.Conn, schematest.Connect(t, u.String())

	// Both replicas have every table, the data ones replicated.
	if t1, t2 := tables(t, conn1, db.Name), tables(t, conn2, db.Name); !reflect.DeepEqual(t1, t2) || t1["event_versions_local"] != "ReplicatedReplacingMergeTree" || t1["events"] != "Distributed" {
		t.Fatalf("tables differ or are not replicated:\nreplica 1 %v\nreplica 2 %v", t1, t2)
	}

	s := scenario.Generate(scenario.Config{Seed: 3, Weeks: 5, Townships: 2, Scale: 0.2})
	stored := decodeScenario(t, s)
	half := len(stored) / 2
	w := pipeline.NewEventWriter(conn1)
	write := func(rows []pipeline.Stored) {
		for i := 0; i < len(rows); i += 500 {
			if err := w.WriteEvents(ctx, rows[i:min(i+500, len(rows))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(stored[:half])
	want := expectCounts(stored[:half])
	if got := counts(t, conn1); got != want {
		t.Fatalf("replica 1 after the first half: %+v, want %+v", got, want)
	}
	catchUp(t, conn2, want, "replica 2 after the first half")

	// Replica 2 is stopped while a quarter of the second half is being
	// written, and the rest is written once it is down.
	rest := stored[half:]
	during, after := rest[:len(rest)/4], rest[len(rest)/4:]
	done := make(chan error)
	go func() {
		for i := 0; i < len(during); i += 100 {
			if err := w.WriteEvents(ctx, during[i:min(i+100, len(during))]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	clusterScript(t, "stop", "ch2")
	if err := <-done; err != nil {
		t.Fatalf("writing while replica 2 stops: %v", err)
	}
	if err := conn2.Ping(ctx); err == nil {
		t.Fatal("replica 2 still answers after cluster.sh stop ch2")
	}
	write(after)
	want = expectCounts(stored)
	if got := counts(t, conn1); got != want {
		t.Fatalf("replica 1 with replica 2 down: %+v, want %+v", got, want)
	}
	start := time.Now()
	clusterScript(t, "start", "ch2")
	catchUp(t, conn2, want, "replica 2 restarted")
	t.Logf("%d rows of %d written with replica 2 down (%d as it stopped); restarted, it caught up in %v", len(after), len(stored), len(during), time.Since(start).Round(100*time.Millisecond))

	// The same records on one server: the detectors raise the same alerts.
	single, _ := schematest.Open(t)
	if err := pipeline.NewEventWriter(single).WriteEvents(ctx, stored); err != nil {
		t.Fatal(err)
	}
	// The leaders' counts (pipeline.MatterReader: the one count behind the
	// dashboard, the API and the briefs) are the same.
	series := func(conn driver.Conn) []pipeline.MatterCount {
		c, err := pipeline.NewMatterReader(conn).Series(ctx, "330681", s.Truth.From, s.Truth.To, "week")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if one, on2 := series(single), series(conn2); len(one) == 0 || !reflect.DeepEqual(one, on2) {
		t.Errorf("weekly matters of 诸暨市: %d rows on one server, %d on the cluster, or they differ", len(one), len(on2))
	}
	lex, err := intent.New(intent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dcfg := detectors.DefaultConfig()
	dcfg.Places = scenario.Places()
	backtest := func(conn driver.Conn) ([]detectors.BacktestRun, time.Duration) {
		t0 := time.Now()
		runs, err := detectors.Backtest(ctx, detectors.All(conn, dcfg, lex), s.Truth.From, s.Truth.To, detectors.BacktestConfig{Parallel: 2})
		if err != nil {
			t.Fatal(err)
		}
		return runs, time.Since(t0)
	}
	one, dOne := backtest(single)
	on2, dCluster := backtest(conn2)
	alerts := 0
	for i := range one {
		alerts += countAlerts(one[i])
		if !reflect.DeepEqual(one[i].Windows, on2[i].Windows) || !reflect.DeepEqual(one[i].Alerts, on2[i].Alerts) {
			t.Errorf("%s: %d alerts on the cluster (replica 2), %d on one server, or they differ", one[i].Detector, countAlerts(on2[i]), countAlerts(one[i]))
		}
	}
	if alerts == 0 {
		t.Fatal("no detector raised anything: nothing compared")
	}
	t.Logf("%d alerts of %d detectors the same on the cluster; backtest %v on one server, %v on the cluster", alerts, len(one), dOne.Round(time.Millisecond), dCluster.Round(time.Millisecond))
}

// decodeScenario decodes the scenario's messages as the ingesters do,
// leaving out the bad ones the pipeline quarantines.
func decodeScenario(t *testing.T, s scenario.Scenario) []pipeline.Stored {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	p, err := normalize.NewProtector(key)
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(p)
	decode := map[risk.Source]pipeline.Decoder{risk.SourceHotline: n.Hotline, risk.SourcePetition: n.Petition, risk.SourceGrid: n.Grid}
	var out []pipeline.Stored
	for _, src := range risk.Sources {
		for i, m := range s.Messages[src] {
			m.Topic = string(src)
			m.Offset = int64(i)
			e, err := decode[src](m)
			if err != nil {
				continue
			}
			out = append(out, pipeline.Stored{Event: e, Topic: m.Topic, Offset: m.Offset})
		}
	}
	if len(out) == 0 {
		t.Fatal("the scenario decoded to nothing")
	}
	return out
}

// tableCounts is what a user checks of a replica.
type tableCounts struct {
	Versions uint64 // distinct versions (event_versions FINAL)
	Records  uint64 // distinct records (events FINAL)
	Matters  uint64 // records not deleted (the matters view)
	Latest   uint64 // sum of the records' newest versions: the same rows, not only as many
}

func expectCounts(rows []pipeline.Stored) tableCounts {
	type rec struct{ src, id string }
	versions, latest := map[string]bool{}, map[rec]pipeline.Stored{}
	for _, r := range rows {
		versions[fmt.Sprintf("%s/%s/%d", r.Source, r.ID, r.Order())] = true
		k := rec{string(r.Source), r.ID}
		if l, ok := latest[k]; !ok || r.Order() > l.Order() {
			latest[k] = r
		}
	}
	c := tableCounts{Versions: uint64(len(versions)), Records: uint64(len(latest))}
	for _, r := range latest {
		if r.Status != risk.StatusDeleted {
			c.Matters++
		}
		c.Latest += r.Order()
	}
	return c
}

func counts(t *testing.T, conn driver.Conn) tableCounts {
	t.Helper()
	var c tableCounts
	ctx := t.Context()
	err := conn.QueryRow(ctx, `SELECT count() FROM event_versions FINAL`).Scan(&c.Versions)
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count(), sum(ver) FROM events FINAL`).Scan(&c.Records, &c.Latest)
	}
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count() FROM matters`).Scan(&c.Matters)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// catchUp waits for conn's replica to hold want: replication is
// asynchronous, and 18.16 has no SYSTEM SYNC REPLICA.
func catchUp(t *testing.T, conn driver.Conn, want tableCounts, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := counts(t, conn)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v after 2 minutes, want %+v", what, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tables(t *testing.T, conn driver.Conn, db string) map[string]string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT name, engine FROM system.tables WHERE database = ?`, db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		out[name] = engine
	}
	return out
}

func countAlerts(r detectors.BacktestRun) int {
	n := 0
	for _, as := range r.Alerts {
		n += len(as)
	}
	return n
}
