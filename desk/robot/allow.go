package robot

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultHosts are the robots' API hosts on the public internet: DingTalk's
// and WeCom's.
var DefaultHosts = []string{"oapi.dingtalk.com", "qyapi.weixin.qq.com"}

// Allowlist says where robots may be reached. A robot URL is typed by an
// administrator; unchecked, it could point the service at its own loopback
// ports (ClickHouse's HTTP port has no password) or at a cloud's metadata
// address, and the notification log would show the answer. So a robot URL
// must be https and name one of Hosts, and the address actually dialled —
// after DNS, on every connection — must be public or inside Networks.
type Allowlist struct {
	// Hosts are the host names (or IP literals) a robot URL may name,
	// compared without case: DefaultHosts, and the gateways a government
	// network runs itself (政务钉钉, 浙政钉).
	Hosts []string `yaml:"hosts"`
	// Networks are the non-public networks robots may be reached in: an
	// on-premises gateway's, say 10.32.0.0/16. Public addresses need no
	// entry; loopback, private, link-local, CGNAT, multicast and the other
	// special-purpose ranges are refused unless listed here.
	Networks []netip.Prefix `yaml:"networks"`
}

// Validate reports hosts that are not bare host names.
func (a Allowlist) Validate() error {
	if len(a.Hosts) == 0 {
		return errors.New("robots: hosts is empty: no robot could be reached")
	}
	for _, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, "/:?#@ ") && !isIP(h) {
			return fmt.Errorf("robots: host %q: want a bare host name such as oapi.dingtalk.com", h)
		}
	}
	for _, n := range a.Networks {
		if !n.IsValid() {
			return errors.New("robots: a network is not a valid CIDR prefix")
		}
	}
	return nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// refusedError is a post the allowlist refused. It is permanent: only a
// change of the robot or of the allowlist can make the post succeed.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

// CheckURL reports whether rawURL may be posted to: https, and a host of
// the list. Its errors never quote the URL, which carries the access
// token; they name the host.
func (a Allowlist) CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return &refusedError{"robot url does not parse"}
	}
	return a.checkURL(u)
}

func (a Allowlist) checkURL(u *url.URL) error {
	if u.Scheme != "https" {
		return &refusedError{fmt.Sprintf("robot url: scheme %q is not https", u.Scheme)}
	}
	host := normalHost(u.Hostname())
	if !slices.ContainsFunc(a.Hosts, func(h string) bool { return normalHost(h) == host }) {
		return &refusedError{fmt.Sprintf("robot url: host %q is not an allowed robot host (%s)", host, strings.Join(a.Hosts, ", "))}
	}
	return nil
}

func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// Client returns an HTTP client that posts only where the list allows: a
// request whose URL CheckURL refuses is refused before any connection, and
// every connection is checked after DNS, on the address dialled, so a robot
// host that resolves (or is re-pointed) to a non-public address is refused
// too. It never uses a proxy from the environment: a proxy would dial on its
// behalf, unchecked. tlsConfig nil means the system's roots. Such refusals
// are errors of Post that Retryable reports as permanent.
func (a Allowlist) Client(tlsConfig *tls.Config) *http.Client {
	return a.client(tlsConfig, nil)
}

// client is Client with a resolver of the test's choosing (nil: the
// system's).
func (a Allowlist) client(tlsConfig *tls.Config, resolver *net.Resolver) *http.Client {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Resolver: resolver, Control: a.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: guarded{a, tr}}
}

// guarded refuses requests to URLs the list does not allow.
type guarded struct {
	allow Allowlist
	next  http.RoundTripper
}

func (g guarded) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.allow.checkURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper always closes the body
		}
		return nil, err
	}
	return g.next.RoundTrip(req)
}

// control is the dialer's check of the resolved address, run before each
// connection is made.
func (a Allowlist) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedError{fmt.Sprintf("robot address %q is not an IP address", address)}
	}
	return a.checkAddr(ap.Addr())
}

// checkAddr allows public addresses and those of the list's networks.
func (a Allowlist) checkAddr(ip netip.Addr) error {
	ip = ip.WithZone("")
	forms := []netip.Addr{ip}
	if v4, ok := embeddedV4(ip); ok {
		forms = append(forms, v4)
	}
	for _, n := range a.Networks {
		for _, f := range forms {
			if n.Contains(f) {
				return nil
			}
		}
	}
	for _, f := range forms {
		if what := special(f); what != "" {
			return &refusedError{fmt.Sprintf("robot address %s is %s, not public, and in no allowed network", ip, what)}
		}
	}
	return nil
}

// embeddedV4 is the IPv4 address an IPv6 address stands for: IPv4-mapped
// (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
// A private address in one of them is as private as the bare one.
func embeddedV4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case ip.Is4In6():
		return ip.Unmap(), true
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// special names the special-purpose range ip is in (IANA's IPv4 and IPv6
// special-purpose address registries, less what is globally reachable);
// "" for a public address.
func special(ip netip.Addr) string {
	for _, r := range specialRanges {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	return ""
}

var specialRanges = func() []struct {
	prefix netip.Prefix
	what   string
} {
	list := []struct{ cidr, what string }{
		{"0.0.0.0/8", "unspecified (this network)"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared address space (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "reserved for protocols"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "a 6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // and 255.255.255.255, broadcast
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001::/23", "reserved for protocols"}, // Teredo, benchmarking, ORCHID
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]struct {
		prefix netip.Prefix
		what   string
	}, len(list))
	for i, r := range list {
		out[i].prefix, out[i].what = netip.MustParsePrefix(r.cidr), r.what
	}
	return out
}()
