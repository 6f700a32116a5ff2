package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/pipeline"
	"riskwatch/schema"
)

// benchBrief times a county's weekly and monthly briefs (330681, the
// periods holding 28 February 2020) over -n synthetic matters of a year of
// a city (brief.WriteBenchMatters), best of -runs, as the matters were
// written and again after OPTIMIZE … FINAL. It works in a throw-away
// database, or with -database in one it keeps, adding only the matters
// it lacks, so that a second run skips the writing. The desks' figures
// come from a throw-away (empty) database on the PostgreSQL of -postgres,
// read as the county's leader.
func benchBrief(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var n, runs int
	var keep string
	var merge bool
	c, err := parse("bench brief", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "n", 1_000_000, "Matters over the year (the issue's figure: 10000000).")
		fs.IntVar(&runs, "runs", 3, "Briefs of each period to time; the best is reported.")
		fs.StringVar(&keep, "database", "", "Keep the matters in this ClickHouse database (named riskwatch_bench_…) and reuse them next time; empty: a throw-away one.")
		fs.BoolVar(&merge, "merge", true, "Time again after merging the table's parts (OPTIMIZE … FINAL).")
	})
	if err != nil {
		return err
	}
	if n <= 0 || runs <= 0 {
		return fmt.Errorf("bench brief: -n and -runs must be positive")
	}
	conn, done, err := benchBriefDatabase(ctx, c.ClickHouse, keep)
	if err != nil {
		return err
	}
	defer done()

	var have uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM events`).Scan(&have); err != nil {
		return fmt.Errorf("count matters: %w", err)
	}
	if int(have) < n {
		fmt.Fprintf(stderr, "writing %d matters (%d there already)…\n", n-int(have), have)
		start := time.Now()
		err := brief.WriteBenchMatters(ctx, conn, int(have), n-int(have), func(written int) {
			fmt.Fprintf(stderr, "  %d written, %v\n", written, time.Since(start).Round(time.Second))
		})
		if err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stderr, "reusing the %d matters of %s\n", have, keep)
		n = int(have)
	}

	pool, dropPostgres, err := benchPostgres(ctx, c.Postgres)
	if err != nil {
		return err
	}
	defer dropPostgres()
	d, _, err := newDesks(c, pool, nil, nil, nil, nil)
	if err != nil {
		return err
	}
	const region = "330681"
	maker := brief.NewMaker(pipeline.NewMatterReader(conn), d.Stats, nil, nil)
	as := desk.User{Username: "riskwatch-bench", Role: desk.RoleLeader, Jurisdiction: region}
	at := time.Date(2020, 2, 28, 12, 0, 0, 0, risk.CST)
	best := func(state string) ([2]time.Duration, error) {
		var out [2]time.Duration
		for i, kind := range []string{"week", "month"} {
			p, err := brief.PeriodAt(kind, at)
			if err != nil {
				return out, err
			}
			for r := range runs {
				start := time.Now()
				b, err := maker.Make(ctx, as, region, p)
				if err != nil {
					return out, fmt.Errorf("%s brief: %w", kind, err)
				}
				took := time.Since(start)
				if b.Headline[0].Current == 0 {
					return out, fmt.Errorf("%s brief: no matters in the county's period", kind)
				}
				fmt.Fprintf(stderr, "  %s, %s brief %d/%d: %v (%d matters in the period)\n", state, kind, r+1, runs, took.Round(time.Millisecond), b.Headline[0].Current)
				if r == 0 || took < out[i] {
					out[i] = took
				}
			}
		}
		return out, nil
	}
	fmt.Fprintln(stderr, "timing the county's briefs…")
	asWritten, err := best("as written")
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("bench brief: %d matters, county 330681, best of %d: week %v, month %v",
		n, runs, asWritten[0].Round(10*time.Millisecond), asWritten[1].Round(10*time.Millisecond))
	if merge {
		fmt.Fprintln(stderr, "merging the parts (OPTIMIZE TABLE events FINAL)…")
		if err := conn.Exec(ctx, `OPTIMIZE TABLE events FINAL`); err != nil {
			return fmt.Errorf("merge parts: %w", err)
		}
		merged, err := best("merged")
		if err != nil {
			return err
		}
		summary += fmt.Sprintf("; merged: week %v, month %v", merged[0].Round(10*time.Millisecond), merged[1].Round(10*time.Millisecond))
	}
	_, err = fmt.Fprintln(stdout, summary)
	return err
}

// benchBriefDatabase is the database the matters go in: keep, created
// and migrated if need be and left on the server, or a throw-away one.
// Only a database named riskwatch_bench_… is written into, so that a
// mistyped name never fills a live one with synthetic matters.
func benchBriefDatabase(ctx context.Context, dsn, keep string) (driver.Conn, func(), error) {
	if keep == "" {
		db, err := benchDatabase(ctx, dsn, "brief")
		if err != nil {
			return nil, nil, err
		}
		return db.Conn, func() { db.Drop(context.WithoutCancel(ctx)) }, nil
	}
	if !strings.HasPrefix(keep, "riskwatch_bench_") || strings.ContainsFunc(keep, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		return nil, nil, fmt.Errorf("bench brief: -database %q: want riskwatch_bench_ and lowercase letters, digits or _", keep)
	}
	admin, err := schema.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+keep); err != nil {
		return nil, nil, fmt.Errorf("create database %s: %w", keep, err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	u.Path = "/" + keep
	conn, err := schema.Open(ctx, u.String())
	if err != nil {
		return nil, nil, err
	}
	if err := schema.Migrate(ctx, conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("migrate %s: %w", keep, err)
	}
	return conn, func() { conn.Close() }, nil
}

// benchPostgres is a migrated PostgreSQL database of its own on the server
// of dsn, dropped by drop.
func benchPostgres(ctx context.Context, dsn string) (pool *pgxpool.Pool, drop func(), err error) {
	admin, err := schema.OpenPostgres(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "riskwatch_bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() {
		if pool != nil {
			pool.Close()
		}
		admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("parse postgres dsn: %w", err)
	}
	u.Path = "/" + name
	if pool, err = schema.OpenPostgres(ctx, u.String()); err == nil {
		err = schema.MigratePostgres(ctx, pool)
	}
	if err != nil {
		drop()
		return nil, nil, err
	}
	return pool, drop, nil
}
