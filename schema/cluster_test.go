package schema_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

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
// shard, two replicas, ZooKeeper): migrated through replica 1, the demo
// scenario's messages ingested through it by the real ingesters from a
// broker are counted the same from both replicas; replica 2 is stopped
// while more are ingested and, restarted, catches up; and the leaders'
// counts and every detector's alerts on the cluster are those of one server
// that ingested the same messages.
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

	// Migrating again, through replica 2, finds every migration applied.
	if err := schema.MigrateCluster(ctx, conn2, cluster); err != nil {
		t.Fatalf("second migrate, through replica 2: %v", err)
	}
	var applied uint64
	if err := conn2.QueryRow(ctx, `SELECT count() FROM schema_migrations FINAL`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if files, _ := fs.Glob(schema.ClickHouseMigrations, "*.sql"); int(applied) != len(files) {
		t.Errorf("schema_migrations has %d rows on replica 2, want %d", applied, len(files))
	}

	s := scenario.Generate(scenario.Config{Seed: 3, Weeks: 5, Townships: 2, Scale: 0.2})
	key := make([]byte, 32)
	rand.Read(key)
	p, err := normalize.NewProtector(key)
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(p)
	broker, err := pipeline.StartEmbeddedBroker(ctx, "127.0.0.1:0", "", []string{"hotline", "petition", "grid"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	in := ingesters{t: t, addr: broker.Addr(), n: n, p: p}
	in.start(conn1, "cluster")

	// Each feed's messages in three parts: the first half, an eighth
	// produced as replica 2 stops, and the rest with it down.
	parts := [][2]float64{{0, 0.5}, {0.5, 0.625}, {0.625, 1}}
	part := func(i int) map[risk.Source][]kafka.Message {
		out := map[risk.Source][]kafka.Message{}
		for src, ms := range s.Messages {
			out[src] = ms[int(parts[i][0]*float64(len(ms))):int(parts[i][1]*float64(len(ms)))]
		}
		return out
	}
	in.produce(part(0))
	in.wait("cluster")
	want := expectCounts(t, n, part(0))
	if got := counts(t, conn1); got != want {
		t.Fatalf("replica 1 after the first half: %+v, want %+v", got, want)
	}
	catchUp(t, conn2, want, "replica 2 after the first half")

	done := make(chan struct{})
	go func() {
		defer close(done)
		in.produce(part(1))
	}()
	clusterScript(t, "stop", "ch2")
	<-done
	if err := conn2.Ping(ctx); err == nil {
		t.Fatal("replica 2 still answers after cluster.sh stop ch2")
	}
	in.produce(part(2))
	in.wait("cluster")
	want = expectCounts(t, n, part(0), part(1), part(2))
	if want.Rejected == 0 {
		t.Fatal("the scenario has no bad messages: the quarantine is not compared")
	}
	if got := counts(t, conn1); got != want {
		t.Fatalf("replica 1 with replica 2 down: %+v, want %+v", got, want)
	}
	start := time.Now()
	clusterScript(t, "start", "ch2")
	catchUp(t, conn2, want, "replica 2 restarted")
	t.Logf("%d messages (%d versions of %d records, %d quarantined), %d produced as replica 2 stopped, %d with it down; restarted, it caught up in %v",
		total(s.Messages), want.Versions, want.Records, want.Rejected, total(part(1)), total(part(2)), time.Since(start).Round(100*time.Millisecond))

	// One server ingests the same messages.
	single, _ := schematest.Open(t)
	in.start(single, "single")
	in.wait("single")

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

// ingesters run the pipeline's ingesters of the three feeds from the
// embedded broker at addr, as serve does.
type ingesters struct {
	t    *testing.T
	addr string
	n    *normalize.Normalizer
	p    *normalize.Protector
}

func (in ingesters) feeds(group string) []pipeline.Feed {
	var out []pipeline.Feed
	for _, src := range risk.Sources {
		out = append(out, pipeline.Feed{Source: src, Topic: string(src), Group: group + "." + string(src)})
	}
	return out
}

// start runs ingesters into conn in consumer groups group.*, from the
// first offset, until the test ends.
func (in ingesters) start(conn driver.Conn, group string) {
	t := in.t
	decode := decoders(in.n)
	cfg := pipeline.Config{MaxBatchRows: 500, MaxBatchBytes: 8 << 20, MaxBatchAge: 200 * time.Millisecond, IdleMark: time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond, MaxSkew: 15 * time.Minute, Earliest: time.Date(2000, 1, 1, 0, 0, 0, 0, risk.CST)}
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	w := pipeline.NewEventWriter(conn)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, f := range in.feeds(group) {
		r, err := pipeline.NewGroupReader(kafka.ConsumerGroupConfig{
			ID: f.Group, Brokers: []string{in.addr}, Topics: []string{f.Topic}, StartOffset: kafka.FirstOffset,
			HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
		}, kafka.ReaderConfig{Brokers: []string{in.addr}, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		g := pipeline.NewIngester(f.Source, r, w, decode[f.Source], in.p.SealBytes, m, cfg, slog.New(slog.DiscardHandler))
		wg.Go(func() {
			defer r.Close()
			if err := g.Run(ctx); err != nil {
				t.Errorf("ingester of %s: %v", f.Source, err)
			}
		})
	}
}

func decoders(n *normalize.Normalizer) map[risk.Source]pipeline.Decoder {
	return map[risk.Source]pipeline.Decoder{risk.SourceHotline: n.Hotline, risk.SourcePetition: n.Petition, risk.SourceGrid: n.Grid}
}

// produce publishes msgs to the feeds' topics.
func (in ingesters) produce(msgs map[risk.Source][]kafka.Message) {
	for src, ms := range msgs {
		w := &kafka.Writer{Addr: kafka.TCP(in.addr), Topic: string(src), Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll}
		err := w.WriteMessages(in.t.Context(), ms...)
		w.Close()
		if err != nil {
			in.t.Errorf("produce to %s: %v", src, err)
		}
	}
}

// wait waits until the groups group.* have committed every message on the
// broker: each stored or quarantined.
func (in ingesters) wait(group string) {
	t := in.t
	cl := &kafka.Client{Addr: kafka.TCP(in.addr)}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		lag := int64(0)
		for _, f := range in.feeds(group) {
			ps, err := pipeline.Lag(t.Context(), cl, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				lag += p.EndOffset - max(p.CommittedOffset, 0)
			}
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer groups %s.*: %d messages not committed after 2 minutes", group, lag)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func total(msgs map[risk.Source][]kafka.Message) int {
	n := 0
	for _, ms := range msgs {
		n += len(ms)
	}
	return n
}

// tableCounts is what a user checks of a replica.
type tableCounts struct {
	Versions uint64 // distinct versions (event_versions FINAL)
	Records  uint64 // distinct records (events FINAL)
	Matters  uint64 // records not deleted (the matters view)
	Latest   uint64 // sum of the records' newest versions: the same rows, not only as many
	Rejected uint64 // messages quarantined (rejected_events FINAL)
}

// expectCounts decodes the messages as the ingesters do.
func expectCounts(t *testing.T, n *normalize.Normalizer, parts ...map[risk.Source][]kafka.Message) tableCounts {
	t.Helper()
	decode := decoders(n)
	type rec struct {
		src risk.Source
		id  string
	}
	versions, latest := map[string]bool{}, map[rec]risk.Event{}
	var c tableCounts
	for _, part := range parts {
		for src, ms := range part {
			for _, m := range ms {
				e, err := decode[src](m)
				if err != nil {
					c.Rejected++
					continue
				}
				versions[fmt.Sprintf("%s/%s/%d", e.Source, e.ID, e.Order())] = true
				k := rec{e.Source, e.ID}
				if l, ok := latest[k]; !ok || e.Order() > l.Order() {
					latest[k] = e
				}
			}
		}
	}
	c.Versions, c.Records = uint64(len(versions)), uint64(len(latest))
	for _, e := range latest {
		if e.Status != risk.StatusDeleted {
			c.Matters++
		}
		c.Latest += e.Order()
	}
	if c.Records == 0 {
		t.Fatal("the scenario gave no records")
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
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count() FROM rejected_events FINAL`).Scan(&c.Rejected)
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
