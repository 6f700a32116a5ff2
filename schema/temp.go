package schema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TempDatabase is a ClickHouse database of its own, freshly migrated, for a
// test, a benchmark or the demo. CreateTemp makes it; Drop removes it.
type TempDatabase struct {
	Name string      // PREFIX_<12 random hex digits>
	DSN  string      // the server's DSN with the database as its path
	Conn driver.Conn // a connection to the database

	admin   driver.Conn // to the server's database of the DSN: creates and drops
	cluster string      // "" one server
	once    sync.Once
	err     error // of the first Drop or Close
}

// CreateTemp creates the database PREFIX_<12 random hex digits> on the
// ClickHouse server of dsn and applies every migration to it. On error
// nothing is left on the server.
func CreateTemp(ctx context.Context, dsn, prefix string) (*TempDatabase, error) {
	return CreateTempCluster(ctx, dsn, prefix, "")
}

// CreateTempCluster is CreateTemp on every host of the ClickHouse cluster
// of that name, through the server of dsn (MigrateCluster); cluster ""
// is CreateTemp.
func CreateTempCluster(ctx context.Context, dsn, prefix, cluster string) (*TempDatabase, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	admin, err := Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	d := &TempDatabase{Name: prefix + "_" + hex.EncodeToString(b), admin: admin, cluster: cluster}
	if err := admin.Exec(ctx, "CREATE DATABASE "+d.Name+d.onCluster()); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create database %s: %w", d.Name, err)
	}
	u.Path = "/" + d.Name
	d.DSN = u.String()
	if d.Conn, err = Open(ctx, d.DSN); err == nil {
		if err = MigrateCluster(ctx, d.Conn, cluster); err != nil {
			err = fmt.Errorf("migrate %s: %w", d.Name, err)
		}
	}
	if err != nil {
		d.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

// Drop closes the connections and drops the database. Pass a context that
// is still live at the end of a run (context.WithoutCancel, or
// context.Background in a test's cleanup). Only the first call of Drop or
// Close acts; later ones return its error.
func (d *TempDatabase) Drop(ctx context.Context) error {
	d.once.Do(func() {
		if d.Conn != nil {
			d.Conn.Close()
		}
		if err := d.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Name+d.onCluster()); err != nil {
			d.err = fmt.Errorf("drop database %s: %w", d.Name, err)
		}
		d.admin.Close()
	})
	return d.err
}

// Close closes the connections and keeps the database on the server, to
// look into it later. Only the first call of Drop or Close acts.
func (d *TempDatabase) Close() error {
	d.once.Do(func() {
		d.err = d.Conn.Close()
		d.admin.Close()
	})
	return d.err
}

func (d *TempDatabase) onCluster() string {
	if d.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + d.cluster
}
