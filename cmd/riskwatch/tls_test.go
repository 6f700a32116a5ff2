package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"riskwatch/pipeline/kafkatest"
	"riskwatch/schema/schematest"
)

// TestServeOverTLS: serve speaks HTTPS with -http.cert-file and
// -http.key-file; plain HTTP gets no answer; a browser signing in gets a
// Secure session cookie; a renewed certificate is served without a restart.
func TestServeOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := kafkatest.NewPKI(t)
	ca.Issue(t, 100, x509.ExtKeyUsageServerAuth, certFile, keyFile)
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t), roots: ca.Roots,
		flags: []string{"-http.cert-file", certFile, "-http.key-file", keyFile}}
	s.bootstrap()
	s.start()
	defer s.stop()

	served := func() int64 {
		conn, err := tls.Dial("tcp", s.httpA, &tls.Config{RootCAs: ca.Roots})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if n := served(); n != 100 {
		t.Errorf("served certificate %d, want 100", n)
	}
	if resp, err := http.Get("http://" + s.httpA + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the HTTPS port")
		}
	}

	cmd := exec.Command(s.bin, "user", "add", "-postgres", pg, "-username", "wang", "-role", "reviewer", "-jurisdiction", "330681")
	cmd.Env = append(os.Environ(), "RISKWATCH_PASSWORD=correct horse battery")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	body, _ := json.Marshal(map[string]string{"username": "wang", "password": "correct horse battery"})
	resp, err := s.client().Post(s.url("/api/v1/login"), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in over HTTPS: %s", resp.Status)
	}
	cookie := strings.Join(resp.Header.Values("Set-Cookie"), "; ")
	if !strings.Contains(cookie, "rw_session=") || !strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie over HTTPS: %q, want Secure", cookie)
	}

	// Renewed in place: new connections get the new certificate.
	time.Sleep(10 * time.Millisecond) // a new modification time, on coarse clocks too
	ca.Issue(t, 101, x509.ExtKeyUsageServerAuth, certFile, keyFile)
	if n := served(); n != 101 {
		t.Errorf("after renewal, served certificate %d, want 101", n)
	}
}
