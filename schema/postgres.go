package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed postgres/*.sql
var postgresFS embed.FS

// PostgresMigrations is the embedded set of PostgreSQL migrations.
var PostgresMigrations, _ = fs.Sub(postgresFS, "postgres")

// OpenPostgres connects to PostgreSQL with a DSN such as
// postgres://riskwatch@127.0.0.1:15432/riskwatch and checks that it answers;
// over TLS, with sslmode=verify-full&sslrootcert=FILE. Of opts, only
// WithPassword applies.
// The pool holds up to PostgresConns connections (pool_max_conns in the DSN
// overrides it): the API's requests and the background loops — intake,
// clock, outbox, detectors — share it.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn) // its errors hide the password
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if o := apply(opts); o.password != "" {
		cfg.ConnConfig.Password = o.password
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = PostgresConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return pool, nil
}

// PostgresConns is the default size of a replica's pool. pgx's own default
// (four on these two-core machines) let a few slow API requests starve the
// clock and the outbox.
const PostgresConns = 20

// MigratePostgres applies, in name order, every PostgreSQL migration not yet
// in schema_migrations, each in a transaction with its record, under an
// advisory lock so that two processes never apply the same file.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	return migratePostgres(ctx, pool, PostgresMigrations)
}

// migrationLock is the advisory lock key of migrations: "rwmigrat".
const migrationLock = 0x72776d6967726174

func migratePostgres(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil || done {
				return err
			}
			stmt, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(stmt)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	return nil
}
