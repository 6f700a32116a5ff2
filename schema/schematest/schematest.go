// Package schematest gives tests a freshly migrated ClickHouse database of
// their own on the local server started by deploy/local/up.sh.
package schematest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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
// connection to it and its DSN. The database is dropped when the test ends.
// Under -short the test is skipped; a missing server fails it with a hint.
func Open(t testing.TB) (driver.Conn, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs ClickHouse; skipped in -short mode")
	}
	ctx := context.Background()
	admin, err := schema.Open(ctx, DSN())
	if err != nil {
		t.Fatalf("%v\n(start the local servers with deploy/local/up.sh, or set RISKWATCH_CLICKHOUSE)", err)
	}
	t.Cleanup(func() { admin.Close() })

	b := make([]byte, 6)
	rand.Read(b)
	db := "test_" + hex.EncodeToString(b)
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})

	u, err := url.Parse(DSN())
	if err != nil {
		t.Fatalf("parse %s: %v", DSN(), err)
	}
	u.Path = "/" + db
	dsn := u.String()
	conn, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := schema.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	return conn, dsn
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
