package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"riskwatch/schema"
)

// dbSecrets are the stores' passwords and ClickHouse's private CA, kept
// out of the DSNs: a password comes from the environment or a file, and
// replaces the DSN's.
type dbSecrets struct {
	ClickHousePasswordFile string
	ClickHouseCAFile       string
	PostgresPasswordFile   string
}

func (d *dbSecrets) register(fs *flag.FlagSet) {
	fs.StringVar(&d.ClickHousePasswordFile, "clickhouse.password-file", "", "File holding ClickHouse's password, when RISKWATCH_CLICKHOUSE_PASSWORD is not set; either replaces the DSN's.")
	fs.StringVar(&d.ClickHouseCAFile, "clickhouse.ca-file", "", "PEM file of the CA that signs ClickHouse's certificate: connect over TLS (the secure port, 9440) and trust it.")
	fs.StringVar(&d.PostgresPasswordFile, "postgres.password-file", "", "File holding PostgreSQL's password, when RISKWATCH_POSTGRES_PASSWORD is not set; either replaces the DSN's. TLS: sslmode=verify-full&sslrootcert=FILE in the DSN.")
}

// clickHouseOptions are the password and CA that Open and Connect add to
// the -clickhouse DSN.
func (c *config) clickHouseOptions() ([]schema.Option, error) {
	password, err := secret(c.getenv, "RISKWATCH_CLICKHOUSE_PASSWORD", c.DBSecrets.ClickHousePasswordFile, "clickhouse.password-file")
	if err != nil {
		return nil, err
	}
	opts := []schema.Option{schema.WithPassword(password)}
	if f := c.DBSecrets.ClickHouseCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse.ca-file %s: no PEM certificate in it", f)
		}
		opts = append(opts, schema.WithRootCAs(pool))
	}
	return opts, nil
}

// openClickHouse connects to -clickhouse and checks that it answers.
func (c *config) openClickHouse(ctx context.Context) (driver.Conn, error) {
	opts, err := c.clickHouseOptions()
	if err != nil {
		return nil, err
	}
	return schema.Open(ctx, c.ClickHouse, opts...)
}

// connectClickHouse is openClickHouse without the check.
func (c *config) connectClickHouse() (driver.Conn, error) {
	opts, err := c.clickHouseOptions()
	if err != nil {
		return nil, err
	}
	return schema.Connect(c.ClickHouse, opts...)
}

// openPostgres connects to -postgres with its password.
func (c *config) openPostgres(ctx context.Context) (*pgxpool.Pool, error) {
	password, err := secret(c.getenv, "RISKWATCH_POSTGRES_PASSWORD", c.DBSecrets.PostgresPasswordFile, "postgres.password-file")
	if err != nil {
		return nil, err
	}
	return schema.OpenPostgres(ctx, c.Postgres, schema.WithPassword(password))
}

// secret reads a password from the environment variable env, else from
// file (flagName names it in errors); "" when neither is set. Never a flag
// value, which would show in the process list. A file's trailing newline
// is not part of the password.
func secret(getenv func(string) string, env, file, flagName string) (string, error) {
	if v := getenv(env); v != "" {
		return v, nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
