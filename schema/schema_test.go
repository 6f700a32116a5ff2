package schema_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"riskwatch/schema"
	"riskwatch/schema/schematest"
)

func TestEmbeddedMigrations(t *testing.T) {
	if err := fstest.TestFS(schema.ClickHouseMigrations, "0001_event_versions.sql", "0002_events.sql", "0005_rejected_events.sql"); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	conn, _ := schematest.Open(t) // migrated once
	ctx := context.Background()
	if err := schema.Migrate(ctx, conn); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM schema_migrations FINAL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(schema.ClickHouseMigrations, "*.sql")
	if int(n) != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(files))
	}
	for _, table := range []string{"event_versions", "events", "matters", "rejected_events", "ingest_watermarks"} {
		var c uint64
		if err := conn.QueryRow(ctx, `SELECT count() FROM `+table).Scan(&c); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestMigratePostgresIsIdempotent(t *testing.T) {
	pool, _ := schematest.OpenPostgres(t) // migrated once
	ctx := context.Background()
	if err := schema.MigratePostgres(ctx, pool); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if files, _ := fs.Glob(schema.PostgresMigrations, "*.sql"); n != len(files) || n == 0 {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(files))
	}
}

// TestPostgresPoolSize: a replica's pool is sized for the API and the
// background loops together, unless the DSN says otherwise.
func TestPostgresPoolSize(t *testing.T) {
	_, dsn := schematest.OpenPostgres(t)
	for _, c := range []struct {
		dsn  string
		want int32
	}{{dsn, schema.PostgresConns}, {dsn + "&pool_max_conns=3", 3}} {
		pool, err := schema.OpenPostgres(context.Background(), c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := pool.Config().MaxConns; got != c.want {
			t.Errorf("%s: pool of %d, want %d", c.dsn, got, c.want)
		}
		pool.Close()
	}
}

// TestCreateTemp: a temporary database is migrated and reachable by its
// DSN; Drop removes it from the server, Close leaves it, and a second call
// of either does nothing.
func TestCreateTemp(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse; skipped in -short mode")
	}
	ctx := context.Background()
	admin := schematest.Connect(t, schematest.DSN())
	exists := func(name string) bool {
		t.Helper()
		var n uint64
		if err := admin.QueryRow(ctx, `SELECT count() FROM system.databases WHERE name = ?`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	dropped, err := schema.CreateTemp(ctx, schematest.DSN(), "test_temp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dropped.Name, "test_temp_") || !exists(dropped.Name) {
		t.Fatalf("database %q: want test_temp_<random> on the server", dropped.Name)
	}
	other := schematest.Connect(t, dropped.DSN)
	var tables uint64
	if err := other.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('events', 'rejected_events')`).Scan(&tables); err != nil || tables != 2 {
		t.Errorf("tables through the DSN %s: %d (%v), want events and rejected_events", dropped.DSN, tables, err)
	}
	if err := dropped.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(dropped.Name) {
		t.Errorf("database %s still there after Drop", dropped.Name)
	}
	if err := dropped.Drop(ctx); err != nil {
		t.Errorf("second Drop: %v", err)
	}

	kept, err := schema.CreateTemp(ctx, schematest.DSN(), "test_temp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+kept.Name) })
	if kept.Name == dropped.Name {
		t.Errorf("two temporary databases named %s", kept.Name)
	}
	if err := kept.Close(); err != nil {
		t.Fatal(err)
	}
	kept.Drop(ctx) // after Close: does nothing
	if !exists(kept.Name) {
		t.Errorf("database %s gone after Close; want it kept", kept.Name)
	}
}
