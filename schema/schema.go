// Package schema holds the ClickHouse migrations, embedded in the binary, and
// applies them.
package schema

import (
	"context"
	"crypto/tls"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed clickhouse/*.sql
var clickhouseFS embed.FS

// ClickHouseMigrations is the embedded set of ClickHouse migrations.
var ClickHouseMigrations, _ = fs.Sub(clickhouseFS, "clickhouse")

// Open connects to ClickHouse with a DSN such as
// clickhouse://127.0.0.1:19000/default and checks that the server answers.
// Over TLS: clickhouse://host:9440/db?secure=true, or WithRootCAs.
func Open(ctx context.Context, dsn string, opts ...Option) (driver.Conn, error) {
	conn, err := Connect(dsn, opts...)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse: %w", err)
	}
	return conn, nil
}

// Connect is Open without the check: connections are made when first used,
// so a server that is down now can come up later.
func Connect(dsn string, with ...Option) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn) // its errors hide the password
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	o := apply(with)
	if o.password != "" {
		opts.Auth.Password = o.password
	}
	if o.rootCAs != nil {
		if opts.TLS == nil {
			opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts.TLS.RootCAs = o.rootCAs
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", strings.Join(opts.Addr, ","), err)
	}
	return conn, nil
}

// Migrate applies, in name order, every ClickHouse migration not yet recorded
// in schema_migrations. ClickHouse runs one statement per Exec and has no DDL
// transactions, so each file holds one idempotent statement (IF NOT EXISTS):
// a run cut short is finished by the next one. An applied file is never
// edited; changes come as new files.
func Migrate(ctx context.Context, conn driver.Conn) error {
	return MigrateCluster(ctx, conn, "")
}

// MigrateCluster is Migrate on the ClickHouse cluster of that name (a
// <remote_servers> entry of conn's server): the same migrations, each
// rewritten to replicated tables under Distributed ones and run ON CLUSTER
// (see cluster.go), in conn's database, which it creates on every host.
// cluster "" is one server: Migrate.
func MigrateCluster(ctx context.Context, conn driver.Conn, cluster string) error {
	return migrate(ctx, conn, ClickHouseMigrations, cluster)
}

const createMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY name`

func migrate(ctx context.Context, conn driver.Conn, fsys fs.FS, cluster string) error {
	statements := func(stmt string) ([]string, error) { return []string{stmt}, nil }
	if cluster != "" {
		var db string
		if err := conn.QueryRow(ctx, `SELECT currentDatabase()`).Scan(&db); err != nil {
			return fmt.Errorf("read database: %w", err)
		}
		if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db+" ON CLUSTER "+cluster); err != nil {
			return fmt.Errorf("create database %s on cluster %s: %w", db, cluster, err)
		}
		statements = func(stmt string) ([]string, error) { return onCluster(stmt, db, cluster) }
	}
	exec := func(stmt string) error {
		stmts, err := statements(stmt)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if err := conn.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	if err := exec(createMigrations); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		if applied[name] {
			continue
		}
		stmt, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if err := exec(string(stmt)); err != nil {
			return fmt.Errorf("apply migration %s: %w", path.Base(name), err)
		}
		// INSERT … SELECT: an INSERT with inline VALUES through Exec never
		// completes against 18.16 over the native protocol.
		if err := conn.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) SELECT ?, now()`, name); err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
	}
	return nil
}

func appliedMigrations(ctx context.Context, conn driver.Conn) (map[string]bool, error) {
	rows, err := conn.Query(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[name] = true
	}
	return applied, rows.Err()
}
