package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"riskwatch/pipeline/kafkatest"
	"riskwatch/schema/schematest"
)

// PostgreSQL over TLS with the CA verified, its password from a file or
// the environment: a server of the test's own, which admits nobody
// without TLS and a password (the local test server trusts loopback, so
// it could not tell a right password from a wrong one).
func TestPostgresPasswordAndTLS(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	addr := startPostgres(t, pki, "riskwatch-admin-pw")
	pwFile := filepath.Join(t.TempDir(), "pg-password")
	os.WriteFile(pwFile, []byte("riskwatch-admin-pw\n"), 0o600)
	verified := fmt.Sprintf("postgres://admin@%s/postgres?sslmode=verify-full&sslrootcert=%s", addr, pki.CAFile)
	for _, c := range []struct {
		dsn  string
		args []string
		env  map[string]string
		want string // "" connects
	}{
		{verified, []string{"-postgres.password-file", pwFile}, nil, ""},
		{verified, nil, map[string]string{"RISKWATCH_POSTGRES_PASSWORD": "riskwatch-admin-pw"}, ""},
		// The environment wins over the file, and a password in the DSN
		// is replaced.
		{strings.Replace(verified, "admin@", "admin:in-the-dsn@", 1), []string{"-postgres.password-file", pwFile}, map[string]string{"RISKWATCH_POSTGRES_PASSWORD": "wrong-pw"}, "password authentication failed"},
		{verified, nil, nil, "password authentication failed"},
		{strings.Replace(verified, "verify-full", "disable", 1), []string{"-postgres.password-file", pwFile}, nil, "no pg_hba.conf entry"},
		{fmt.Sprintf("postgres://admin@%s/postgres?sslmode=verify-full", addr), []string{"-postgres.password-file", pwFile}, nil, "certificate"},
	} {
		c.env = withDefault(c.env)
		cfg, err := parse("migrate", append([]string{"-postgres", c.dsn}, c.args...), func(k string) string { return c.env[k] }, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := cfg.openPostgres(t.Context())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: %v", c.dsn, c.args, err)
			continue
		case c.want != "":
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %v %v: got %v, want %q", c.dsn, c.args, c.env, err, c.want)
			}
			if err != nil && (strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), "in-the-dsn")) {
				t.Errorf("the error shows the password: %v", err)
			}
			if pool != nil {
				pool.Close()
			}
			continue
		}
		var ssl bool
		if err := pool.QueryRow(t.Context(), `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
			t.Errorf("connection: ssl %v, %v", ssl, err)
		}
		pool.Close()
	}
}

func withDefault(env map[string]string) map[string]string {
	if env == nil {
		return map[string]string{}
	}
	return env
}

// startPostgres initialises and starts a PostgreSQL server on a free
// loopback port that accepts only TLS connections with a password (the
// superuser admin's); it stops when the test ends. As root, it runs as the
// postgres user, which PostgreSQL requires.
func startPostgres(t *testing.T, pki *kafkatest.PKI, password string) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 || testing.Short() {
		t.Skip("needs PostgreSQL's server binaries (/usr/lib/postgresql/N/bin)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "riskwatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		if os.Geteuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(pki.ServerCertFile, filepath.Join(dir, "server.pem"))
	copyFile(pki.ServerKeyFile, filepath.Join(dir, "server-key.pem"))
	os.WriteFile(filepath.Join(dir, "pw"), []byte(password+"\n"), 0o600)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "pw")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	run("initdb", "-D", data, "-U", "admin", "--auth=scram-sha-256", "--pwfile="+filepath.Join(dir, "pw"), "-E", "UTF8", "--no-locale")
	port := strconv.Itoa(freePort(t))
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n",
		port, dir, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	appendFile(t, filepath.Join(data, "postgresql.conf"), conf)
	// Only TLS with a password: no plain host line, no trust.
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte("local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid)
	}
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "start")
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return "127.0.0.1:" + port
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ClickHouse over TLS with a private CA (-clickhouse.ca-file), through a
// TLS endpoint in front of the local server as a secure port would be; and
// its password from the environment reaches the server, which refuses a
// wrong one (the local server's default user has none).
func TestClickHouseTLSAndPassword(t *testing.T) {
	_, dsn := schematest.Open(t)
	pki := kafkatest.NewPKI(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	u.Host = tlsProxy(t, pki, upstream)
	secureDSN := u.String()
	badCA := filepath.Join(t.TempDir(), "not-a-ca.pem")
	os.WriteFile(badCA, []byte("no"), 0o600)
	for _, c := range []struct {
		dsn  string
		args []string
		env  map[string]string
		want string
	}{
		{secureDSN, []string{"-clickhouse.ca-file", pki.CAFile}, nil, ""},
		{secureDSN, nil, nil, "ping clickhouse"},              // plaintext to a TLS port
		{secureDSN + "?secure=true", nil, nil, "certificate"}, // TLS, but the private CA not trusted
		{secureDSN, []string{"-clickhouse.ca-file", badCA}, nil, "no PEM certificate"},
		{secureDSN, []string{"-clickhouse.ca-file", pki.CAFile}, map[string]string{"RISKWATCH_CLICKHOUSE_PASSWORD": "not-the-password"}, "Wrong password for user default"},
	} {
		env := withDefault(c.env)
		cfg, err := parse("migrate", append([]string{"-clickhouse", c.dsn}, c.args...), func(k string) string { return env[k] }, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := cfg.openClickHouse(t.Context())
		if c.want == "" {
			if err != nil {
				t.Errorf("%s %v: %v", c.dsn, c.args, err)
				continue
			}
			var n uint64
			if err := conn.QueryRow(t.Context(), `SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("query over TLS: %d, %v", n, err)
			}
			conn.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v %v: got %v, want %q", c.dsn, c.args, c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("the error shows the password: %v", err)
		}
		if conn != nil {
			conn.Close()
		}
	}
}

// tlsProxy terminates TLS with the PKI's server certificate and forwards
// to upstream: ClickHouse's secure port, in front of the local server.
func tlsProxy(t *testing.T, pki *kafkatest.PKI, upstream string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.ServerCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return ln.Addr().String()
}
