package schema_test

import (
	"context"
	"io/fs"
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
