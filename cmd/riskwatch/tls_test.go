package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"riskwatch/schema/schematest"
)

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "riskwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert, key, pool}
}

// issue writes a server certificate for 127.0.0.1 with the serial number
// and its key to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "riskwatch"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first, then the certificate: a reader that sees the new
	// certificate finds its key in place.
	if err := os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keyFile+".tmp", keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(certFile+".tmp", certFile); err != nil {
		t.Fatal(err)
	}
}

// TestServeOverTLS: serve speaks HTTPS with -http.cert-file and
// -http.key-file; plain HTTP gets no answer; a browser signing in gets a
// Secure session cookie; a renewed certificate is served without a restart.
func TestServeOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := newTestCA(t)
	ca.issue(t, 100, certFile, keyFile)
	_, dsn := schematest.Open(t)
	_, pg := schematest.OpenPostgres(t)
	s := &server{t: t, bin: buildBinary(t), dsn: dsn, pg: pg, data: t.TempDir(), kafkaAddr: freeAddr(t), httpA: freeAddr(t), roots: ca.pool,
		flags: []string{"-http.cert-file", certFile, "-http.key-file", keyFile}}
	s.bootstrap()
	s.start()
	defer s.stop()

	served := func() int64 {
		conn, err := tls.Dial("tcp", s.httpA, &tls.Config{RootCAs: ca.pool})
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
	ca.issue(t, 101, certFile, keyFile)
	if n := served(); n != 101 {
		t.Errorf("after renewal, served certificate %d, want 101", n)
	}
}
