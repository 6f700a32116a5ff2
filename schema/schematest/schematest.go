// Package schematest gives tests freshly migrated ClickHouse and PostgreSQL
// databases of their own on the local servers started by deploy/local/up.sh.
package schematest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"riskwatch/schema"
)

// DefaultDSN is the ClickHouse of deploy/local/clickhouse.sh.
const DefaultDSN = "clickhouse://127.0.0.1:19000/default"

// DSN is the server tests use: RISKWATCH_CLICKHOUSE, or DefaultDSN.
func DSN() string {
	if dsn := os.Getenv("RISKWATCH_CLICKHOUSE"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Open creates the database test_<random>, migrates it and returns a
// connection to it and its DSN (schema.CreateTemp). The database is dropped
// when the test ends. Under -short the test is skipped; a missing server
// fails it with a hint.
func Open(t testing.TB) (driver.Conn, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs ClickHouse; skipped in -short mode")
	}
	db, err := schema.CreateTemp(context.Background(), DSN(), "test")
	if err != nil {
		t.Fatalf("%v\n(start the local servers with deploy/local/up.sh, or set RISKWATCH_CLICKHOUSE)", err)
	}
	t.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return db.Conn, db.DSN
}

// Connect opens another connection to dsn, closed when the test ends.
func Connect(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	conn, err := schema.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// DefaultPostgresDSN is the PostgreSQL of deploy/local/postgres.sh.
const DefaultPostgresDSN = "postgres://riskwatch@127.0.0.1:15432/riskwatch?sslmode=disable"

// PostgresDSN is the server tests use: RISKWATCH_POSTGRES, or DefaultPostgresDSN.
func PostgresDSN() string {
	if dsn := os.Getenv("RISKWATCH_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// OpenPostgres creates the database test_<random>, migrates it and returns a
// pool on it and its DSN; the database is dropped when the test ends.
func OpenPostgres(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	pool, dsn := EmptyPostgres(t)
	if err := schema.MigratePostgres(context.Background(), pool); err != nil {
		t.Fatalf("migrate %s: %v", dsn, err)
	}
	return pool, dsn
}

// EmptyPostgres is OpenPostgres without the migrations: for a test that
// migrates part of the way, seeds rows as older code wrote them, and then
// migrates the rest.
func EmptyPostgres(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped in -short mode")
	}
	ctx := context.Background()
	admin, err := schema.OpenPostgres(ctx, PostgresDSN())
	if err != nil {
		t.Fatalf("%v\n(start the local servers with deploy/local/up.sh, or set RISKWATCH_POSTGRES)", err)
	}
	t.Cleanup(admin.Close)
	db := "test_" + randomHex()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	u, err := url.Parse(PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	dsn := u.String()
	pool, err := schema.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	return pool, dsn
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
