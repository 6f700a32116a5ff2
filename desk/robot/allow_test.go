package robot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// trusting is a TLS configuration that trusts srv's certificate, as the
// system's roots trust DingTalk's.
func trusting(srv *httptest.Server) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: roots}
}

// TestAllowlistDeliversOverTLS: a robot on an allowed host, in an allowed
// network, over https, is posted to — a real TLS connection, the
// certificate checked.
func TestAllowlistDeliversOverTLS(t *testing.T) {
	var rec webhookRecorder
	srv := rec.server(t, http.StatusOK, webhookOK)
	allow := Allowlist{Hosts: []string{"127.0.0.1"}, Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	w := Webhook{Kind: DingTalk, URL: webhookTestURL(srv, DingTalk), Secret: "SECtest0001"}
	if err := w.Post(context.Background(), allow.Client(trusting(srv)), Message{Title: "新案件", Markdown: "正文"}, webhookTestNow); err != nil {
		t.Fatalf("Post to an allowed robot: %v", err)
	}
	if rec.hits != 1 {
		t.Errorf("robot hits: got %d, want 1", rec.hits)
	}
}

// TestAllowlistRefusesBeforeConnecting: a URL that names a host not
// listed, or is not https, is refused before any connection: the robot
// never hears of it, the error is permanent and shows no token.
func TestAllowlistRefusesBeforeConnecting(t *testing.T) {
	var rec webhookRecorder
	srv := rec.server(t, http.StatusOK, webhookOK)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // the address would be allowed
	notListed := Allowlist{Hosts: DefaultHosts, Networks: loopback}
	w := Webhook{Kind: DingTalk, URL: webhookTestURL(srv, DingTalk)}
	err := w.Post(context.Background(), notListed.Client(trusting(srv)), Message{Title: "t", Markdown: "m"}, webhookTestNow)
	if err == nil || !strings.Contains(err.Error(), `host "127.0.0.1" is not an allowed robot host`) || Retryable(err) {
		t.Errorf("Post to a host not listed: got %v, want a permanent refusal", err)
	}
	if err != nil && strings.Contains(err.Error(), webhookTestToken) {
		t.Errorf("error %q shows the token", err)
	}
	// Webhook.Validate refuses http before any client is asked; the client
	// refuses it on its own too.
	listed := Allowlist{Hosts: []string{"127.0.0.1"}, Networks: loopback}
	req, _ := http.NewRequest(http.MethodPost, strings.Replace(w.URL, "https://", "http://", 1), strings.NewReader("{}"))
	if _, err := listed.Client(trusting(srv)).Do(req); err == nil || !strings.Contains(err.Error(), "not https") {
		t.Errorf("an http request: got %v, want refused as not https", err)
	}
	if rec.hits != 0 {
		t.Errorf("robot hits: got %d, want 0", rec.hits)
	}
}

// TestAllowlistRefusesAtDial: an allowed host name whose DNS answer is not
// public — loopback, private, link-local (a cloud's metadata address),
// CGNAT, an IPv4-mapped loopback — is refused when the connection is made,
// after DNS; the same name in an allowed network is posted to.
func TestAllowlistRefusesAtDial(t *testing.T) {
	var rec webhookRecorder
	srv := rec.server(t, http.StatusOK, webhookOK)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	const host = "robot.gov.test"
	tests := []struct {
		name     string
		answer   netip.Addr // the DNS answer for host
		networks []netip.Prefix
		want     string // in the error; "" for delivered
	}{
		{"loopback", netip.MustParseAddr("127.0.0.1"), nil, "127.0.0.1 is loopback"},
		{"private", netip.MustParseAddr("10.1.2.3"), nil, "10.1.2.3 is private"},
		{"link-local metadata", netip.MustParseAddr("169.254.169.254"), nil, "169.254.169.254 is link-local"},
		{"CGNAT", netip.MustParseAddr("100.64.0.7"), nil, "100.64.0.7 is shared address space"},
		{"IPv4-mapped loopback", netip.MustParseAddr("::ffff:127.0.0.1"), nil, "is loopback"},
		{"IPv6 loopback", netip.MustParseAddr("::1"), nil, "::1 is loopback"},
		{"another network allowed", netip.MustParseAddr("127.0.0.1"), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1 is loopback"},
		{"its network allowed", netip.MustParseAddr("127.0.0.1"), []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.hits = 0
			allow := Allowlist{Hosts: []string{host}, Networks: tt.networks}
			tc := trusting(srv)
			tc.ServerName = "example.com" // the name in httptest's certificate
			client := allow.client(tc, fakeDNS(t, host, tt.answer))
			w := Webhook{Kind: WeCom, URL: "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/cgi-bin/webhook/send?key=" + webhookTestToken}
			err := w.Post(context.Background(), client, Message{Title: "t", Markdown: "m"}, webhookTestNow)
			if tt.want == "" {
				if err != nil || rec.hits != 1 {
					t.Fatalf("Post: got %v and %d hits, want delivered", err, rec.hits)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Post: got %v, want refused at dial with %q", err, tt.want)
			}
			if Retryable(err) {
				t.Errorf("Retryable(%q): got true, want false", err)
			}
			if strings.Contains(err.Error(), webhookTestToken) {
				t.Errorf("error %q shows the token", err)
			}
			if rec.hits != 0 {
				t.Errorf("robot hits: got %d, want 0", rec.hits)
			}
		})
	}
}

// TestAllowlistAddresses: which resolved addresses are dialled.
func TestAllowlistAddresses(t *testing.T) {
	onPrem := Allowlist{Hosts: []string{"gw.zj.gov.cn"}, Networks: []netip.Prefix{netip.MustParsePrefix("10.32.0.0/16")}}
	tests := []struct {
		addr    string
		allowed bool
	}{
		{"203.119.129.1", true},     // a public address
		{"2400:3200::1", true},      // a public IPv6 address
		{"64:ff9b::808:808", true},  // NAT64 of a public address
		{"10.32.1.5", true},         // the gateway's network
		{"::ffff:10.32.1.5", true},  // … mapped
		{"10.33.0.1", false},        // private, another network
		{"127.0.0.1", false},        // loopback
		{"127.8.8.8", false},        // loopback, all of 127/8
		{"0.0.0.0", false},          // unspecified
		{"169.254.169.254", false},  // link-local: cloud metadata
		{"172.16.0.1", false},       // private
		{"192.168.1.1", false},      // private
		{"100.64.0.1", false},       // CGNAT
		{"198.18.0.1", false},       // benchmarking
		{"224.0.0.1", false},        // multicast
		{"255.255.255.255", false},  // broadcast
		{"::", false},               // unspecified
		{"::1", false},              // loopback
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false},    // IPv4-compatible
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
		{"2002:a00:1::1", false},  // 6to4 of 10.0.0.1
		{"2001::1", false},        // Teredo
		{"fe80::1%eth0", false},   // link-local, with a zone
		{"fd00::1", false},        // unique local
		{"ff02::1", false},        // multicast
	}
	for _, tt := range tests {
		err := onPrem.checkAddr(netip.MustParseAddr(tt.addr))
		if (err == nil) != tt.allowed {
			t.Errorf("checkAddr(%s): got %v, want allowed %v", tt.addr, err, tt.allowed)
		}
	}
}

func TestAllowlistCheckURL(t *testing.T) {
	allow := Allowlist{Hosts: []string{"oapi.dingtalk.com", "GW.zj.gov.cn"}}
	tests := []struct {
		url  string
		want string // "" for allowed
	}{
		{"https://oapi.dingtalk.com/robot/send?access_token=" + webhookTestToken, ""},
		{"https://OAPI.DingTalk.com./robot/send?access_token=" + webhookTestToken, ""},
		{"https://gw.zj.gov.cn:8443/robot/send?access_token=" + webhookTestToken, ""},
		{"http://oapi.dingtalk.com/robot/send?access_token=" + webhookTestToken, "not https"},
		{"https://oapi.dingtalk.com.evil.example/robot/send?access_token=" + webhookTestToken, "not an allowed robot host"},
		{"https://oapi.dingtalk.com@127.0.0.1/robot/send?access_token=" + webhookTestToken, `host "127.0.0.1"`},
		{"https://127.0.0.1:8123/?query=SELECT+1&access_token=" + webhookTestToken, "not an allowed robot host"},
	}
	for _, tt := range tests {
		err := allow.CheckURL(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckURL(%s): got %v, want allowed", Redact(tt.url), err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckURL(%s): got %v, want %q", Redact(tt.url), err, tt.want)
		case err != nil && strings.Contains(err.Error(), webhookTestToken):
			t.Errorf("CheckURL: error %q shows the token", err)
		}
	}
}

// fakeDNS is a resolver whose DNS server answers every A or AAAA question
// about host with addr (of the matching family) and nothing else.
func fakeDNS(t *testing.T, host string, addr netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsAnswer(buf[:n], host, addr); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer answers a DNS query (RFC 1035 §4.1) for host's A or AAAA
// record with addr, or with no record.
func dnsAnswer(q []byte, host string, addr netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	var rdata []byte
	if strings.EqualFold(strings.Join(labels, "."), host) {
		switch {
		case qtype == 1 && addr.Is4():
			a := addr.As4()
			rdata = a[:]
		case qtype == 28 && addr.Is6():
			a := addr.As16()
			rdata = a[:]
		}
	}
	out := make([]byte, 12, 12+len(question)+16+len(rdata))
	copy(out, q[:2])                            // id
	binary.BigEndian.PutUint16(out[2:], 0x8580) // response, authoritative, recursion desired and available
	binary.BigEndian.PutUint16(out[4:], 1)      // one question
	if rdata != nil {
		binary.BigEndian.PutUint16(out[6:], 1) // one answer
	}
	out = append(out, question...)
	if rdata != nil {
		out = append(out, 0xc0, 12) // the name: a pointer to the question's
		out = binary.BigEndian.AppendUint16(out, qtype)
		out = binary.BigEndian.AppendUint16(out, 1)  // class IN
		out = binary.BigEndian.AppendUint32(out, 60) // ttl
		out = binary.BigEndian.AppendUint16(out, uint16(len(rdata)))
		out = append(out, rdata...)
	}
	return out
}
