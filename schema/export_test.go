package schema

import (
	"context"
	"io/fs"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigratePostgresThrough applies the PostgreSQL migrations up to and
// including last: a database as an older release left it.
func MigratePostgresThrough(ctx context.Context, pool *pgxpool.Pool, last string) error {
	names, err := fs.Glob(PostgresMigrations, "*.sql")
	if err != nil {
		return err
	}
	older := fstest.MapFS{}
	for _, name := range names {
		if name <= last {
			b, err := fs.ReadFile(PostgresMigrations, name)
			if err != nil {
				return err
			}
			older[name] = &fstest.MapFile{Data: b}
		}
	}
	return migratePostgres(ctx, pool, older)
}

// OnCluster is the cluster mode's rewrite of one migration statement.
var OnCluster = onCluster
