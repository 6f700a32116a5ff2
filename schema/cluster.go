package schema

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode. The migrations are written for one server; on a cluster
// (a <remote_servers> entry, with ZooKeeper and <macros> {shard} and
// {replica}) each is rewritten statement by statement:
//
//   - a MergeTree table X becomes X_local, Replicated*MergeTree, on every
//     host, and X a Distributed table over X_local: the code reads and
//     writes X as on one server;
//   - a materialized view reads and writes the local tables, so that each
//     shard copies its own rows once (replicas fetch parts, they do not run
//     the view again);
//   - a view reads the Distributed tables;
//   - ALTER TABLE X alters X_local (replicated: done once per shard and
//     copied) and makes X again over the new columns, since 18.16 refuses
//     ALTER … ON CLUSTER on a non-replicated table of a replicated shard.
//
// Every statement runs ON CLUSTER with database-qualified names (the hosts
// run them in their own default database otherwise). A statement the
// rewrite does not know is an error, so a new kind of migration is not
// silently applied to one host only.

// shardKeys are the Distributed tables' sharding keys. All the versions of
// a record go to one shard, so that events (filled on the shard by
// events_mv) folds them; the other tables shard by their fold key. A new
// table needs its entry.
var shardKeys = map[string]string{
	"schema_migrations": "cityHash64(name)",
	"event_versions":    "cityHash64(source, id)",
	"events":            "cityHash64(source, id)",
	"rejected_events":   "cityHash64(topic, partition, offset)",
	"ingest_watermarks": "cityHash64(topic, partition)",
}

var (
	sqlComment  = regexp.MustCompile(`--[^\n]*`)
	createTable = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+)\s+(.*?)\s*ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?(.*)$`)
	createAs    = regexp.MustCompile(`^AS (\w+)$`)
	createMV    = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS (SELECT .*)$`)
	createView  = regexp.MustCompile(`(?s)^CREATE VIEW IF NOT EXISTS (\w+) AS (SELECT .*)$`)
	alterTable  = regexp.MustCompile(`(?s)^ALTER TABLE (\w+) (.*)$`)
	fromTable   = regexp.MustCompile(`\b(FROM|JOIN)\s+(\w+)\b(\.?)`)
)

// onCluster rewrites one migration statement for the cluster: the
// statements to run in their place, in order.
func onCluster(stmt, db, cluster string) ([]string, error) {
	s := strings.TrimSpace(sqlComment.ReplaceAllString(stmt, ""))
	on := " ON CLUSTER " + cluster
	q := func(name string) string { return db + "." + name }
	if m := createTable.FindStringSubmatch(s); m != nil {
		name, body, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
		dist, err := distributed(name, db, cluster)
		if err != nil {
			return nil, err
		}
		if a := createAs.FindStringSubmatch(body); a != nil {
			body = "AS " + q(a[1]+"_local")
		}
		rargs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s_local', '{replica}'", db, name)
		if args != "" {
			rargs += ", " + args
		}
		local := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s %s ENGINE = Replicated%s(%s)%s", q(name+"_local"), on, body, engine, rargs, rest)
		return []string{local, dist}, nil
	}
	if m := createMV.FindStringSubmatch(s); m != nil {
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s AS %s", q(m[1]), on, q(m[2]+"_local"), qualify(m[3], db, "_local"))}, nil
	}
	if m := createView.FindStringSubmatch(s); m != nil {
		return []string{fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s%s AS %s", q(m[1]), on, qualify(m[2], db, ""))}, nil
	}
	if m := alterTable.FindStringSubmatch(s); m != nil {
		name := m[1]
		dist, err := distributed(name, db, cluster)
		if err != nil {
			return nil, err
		}
		return []string{
			fmt.Sprintf("ALTER TABLE %s%s %s", q(name+"_local"), on, m[2]),
			fmt.Sprintf("DROP TABLE IF EXISTS %s%s", q(name), on),
			dist,
		}, nil
	}
	return nil, fmt.Errorf("cluster mode cannot rewrite %.60q…: a new kind of migration needs its rule in schema/cluster.go", s)
}

// distributed creates the Distributed table name over name_local.
func distributed(name, db, cluster string) (string, error) {
	key, ok := shardKeys[name]
	if !ok {
		return "", fmt.Errorf("cluster mode: table %s has no sharding key in schema/cluster.go", name)
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local ENGINE = Distributed(%s, %s, %s_local, %s)",
		db, name, cluster, db, name, cluster, db, name, key), nil
}

// qualify names the database of the tables a query reads (FROM, JOIN),
// with suffix after each name; names already qualified are left.
func qualify(query, db, suffix string) string {
	return fromTable.ReplaceAllStringFunc(query, func(m string) string {
		p := fromTable.FindStringSubmatch(m)
		if p[3] == "." {
			return m
		}
		return p[1] + " " + db + "." + p[2] + suffix
	})
}
