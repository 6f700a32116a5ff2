// Package console serves riskwatch's HTTP API: health, metrics and the JSON
// endpoints under /api/v1/ that the centres, mediators, leaders and
// administrators use, documented in openapi.yaml (served at
// /api/v1/openapi.yaml); and the web console, pages over the same desk
// methods (pages.go).
package console

import (
	"cmp"
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	risk "riskwatch"
	"riskwatch/desk"
)

//go:embed openapi.yaml
var openAPI []byte

// Server routes the API.
type Server struct {
	Deps
	pages    pages
	mux      *http.ServeMux
	patterns []string // every route, for the test that keeps openapi.yaml true
	timeout  time.Duration
	latency  *prometheus.HistogramVec // nil until Instrument
	log      *slog.Logger
}

// NewServer returns the API over deps, exposing gatherer on /metrics (nil
// when metrics are served elsewhere). Every request's work has a deadline
// of requestTimeout.
func NewServer(deps Deps, requestTimeout time.Duration, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{Deps: deps, pages: parsePages(), mux: http.NewServeMux(), timeout: requestTimeout, log: log.With("component", "console")}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	if gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	s.public("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Write(openAPI)
	})
	s.public("POST /api/v1/login", s.login)
	s.public("POST /api/v1/logout", s.logout)
	s.handle("GET /api/v1/me", s.me)
	s.handle("GET /api/v1/ingest/stats", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		if u.Role != desk.RoleAdmin && u.Role != desk.RoleReviewer {
			return fmt.Errorf("%s may not read the pipeline's health: %w", u.Role, risk.ErrForbidden)
		}
		feeds, err := s.Ingest.Stats(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"feeds": feeds})
		return nil
	})
	s.routes()
	s.pageRoutes()
	return s
}

// ServeHTTP implements http.Handler. A path under /api/v1/ that no route
// matches gets a JSON error like every other.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	_, pattern := s.mux.Handler(r)
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	defer func(began time.Time) { s.observe(pattern, cmp.Or(sw.code, http.StatusOK), began) }(time.Now())
	if pattern == "" && strings.HasPrefix(r.URL.Path, "/api/v1/") {
		s.fail(w, r, fmt.Errorf("no %s %s in the API (see /api/v1/openapi.yaml): %w", r.Method, r.URL.Path, risk.ErrNotFound))
		return
	} else if pattern == "" && r.Method == http.MethodGet {
		s.notFoundPage(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// sessionCookie holds a browser's session token: HttpOnly, Secure (browsers
// accept Secure cookies from http://localhost too) and SameSite=Strict.
const sessionCookie = "rw_session"

// secure says whether a cookie set in answer to r is Secure: it is, over
// TLS, behind a TLS proxy (X-Forwarded-Proto: https) and on loopback, which
// browsers trust; on plain HTTP to a LAN address it is not, or the browser
// would drop it and nobody could sign in. Production runs over TLS (see
// the README).
func secure(r *http.Request) bool {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// csrfHeader carries a session's CSRF token on every unsafe request.
const csrfHeader = "X-CSRF-Token"

// handle registers a handler for signed-in users. A machine signs in with
// "Authorization: Bearer TOKEN"; a browser with its session cookie, and then
// sends the session's CSRF token with every unsafe request.
func (s *Server) handle(pattern string, h func(http.ResponseWriter, *http.Request, desk.User) error) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		u, err := s.user(r)
		if err == nil {
			err = h(w, r, u)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

// public registers an API handler that needs no sign-in.
func (s *Server) public(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

// Patterns lists the API's routes ("GET /api/v1/alerts"), as registered.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

func (s *Server) user(r *http.Request) (desk.User, error) {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return s.Accounts.TokenUser(r.Context(), strings.TrimSpace(token))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return desk.User{}, desk.ErrUnauthenticated
	}
	u, csrf, err := s.Accounts.SessionUser(r.Context(), c.Value)
	if err != nil {
		return desk.User{}, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameToken(r.Header.Get(csrfHeader), csrf) {
		return desk.User{}, errCSRF
	}
	return u, nil
}

// sameToken compares a sent token with the session's in constant time.
func sameToken(sent, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

var errCSRF = fmt.Errorf("missing or wrong %s header: %w", csrfHeader, risk.ErrForbidden)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := decode(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	u, sess, err := s.Accounts.Login(r.Context(), in.Username, in.Password, clientAddr(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "csrf": sess.CSRF, "expires": sess.Expires})
}

// logout ends the browser's session. It needs the session's CSRF token
// like every unsafe request: another site must not sign people out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		_, csrf, err := s.Accounts.SessionUser(r.Context(), c.Value)
		switch {
		case err == nil && !sameToken(r.Header.Get(csrfHeader), csrf):
			s.fail(w, r, errCSRF)
			return
		case err == nil:
			if err := s.Accounts.Logout(r.Context(), c.Value); err != nil {
				s.fail(w, r, err)
				return
			}
		case !errors.Is(err, desk.ErrUnauthenticated):
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u desk.User) error {
	out := map[string]any{"user": u}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, csrf, err := s.Accounts.SessionUser(r.Context(), c.Value); err == nil {
			out["csrf"] = csrf
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiError is the body of every error: a stable code, a message in Chinese
// for the people at the desks and one in English for the people wiring
// systems together.
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	MessageEn string `json:"message_en"`
}

var errorKinds = []struct {
	err    error
	status int
	code   string
	zh     string
}{
	{desk.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "未登录，或用户名、密码错误"},
	{desk.ErrLocked, http.StatusTooManyRequests, "locked", "登录失败次数过多，请稍后再试"},
	{desk.ErrThrottled, http.StatusTooManyRequests, "throttled", "本机登录尝试过于频繁，请一分钟后再试"},
	{desk.ErrBusy, http.StatusTooManyRequests, "busy", "登录人数较多，请稍候重试"},
	{errNotJSON, http.StatusUnsupportedMediaType, "unsupported_media_type", "请求内容须为 JSON"},
	{risk.ErrInvalid, http.StatusBadRequest, "invalid", "请求内容有误"},
	{risk.ErrForbidden, http.StatusForbidden, "forbidden", "无权进行此操作"},
	{risk.ErrNotFound, http.StatusNotFound, "not_found", "未找到，或不在您的管辖范围内"},
	{risk.ErrConflict, http.StatusConflict, "conflict", "该记录已被他人修改或当前状态不允许此操作，请刷新后重试"},
}

// fail answers with a JSON error. The error kinds say what was wrong, in
// both languages; anything else is logged and answered 503 without its
// text, so driver messages stay in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			writeJSON(w, k.status, map[string]any{"error": apiError{k.code, k.zh, err.Error()}})
			return
		}
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": apiError{"unavailable", "服务暂时不可用，请稍后重试",
		"a store or the broker did not answer; try again"}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// errNotJSON refuses a body that does not say it is JSON: a form posted
// by another site's page (which needs no CORS preflight) is never read.
var errNotJSON = errors.New("the body must be JSON (Content-Type: application/json)")

// isJSON reports whether the request's body says it is JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// clientAddr is the address of the client: the peer of the connection.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// decode reads a JSON body of at most 1 MiB; unknown fields are errors, so
// that a misspelt field is not silently ignored.
func decode(r *http.Request, v any) error {
	if r.ContentLength != 0 && !isJSON(r) {
		return errNotJSON
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v: %w", err, risk.ErrInvalid)
	}
	return nil
}

// queryTime reads a time filter: RFC 3339, or empty for none.
func queryTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339: %w", v, risk.ErrInvalid)
	}
	return t, nil
}

func queryInt(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", v, risk.ErrInvalid)
	}
	return n, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q: %w", r.PathValue("id"), risk.ErrInvalid)
	}
	return id, nil
}

// readyTimeout bounds each of /readyz's checks: a load balancer asks often.
const readyTimeout = 3 * time.Second

// ready answers /readyz: 200 when every check of Deps.Ready passes, 503
// naming those that fail. /healthz stays liveness: a replica whose
// database is away is alive but not ready. The errors go to the log only
// (they may name hosts).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	names := slices.Sorted(maps.Keys(s.Ready))
	failed := make([]bool, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := s.Ready[name](ctx); err != nil {
				failed[i] = true
				s.log.Warn("not ready", "check", name, "err", err)
			}
		})
	}
	wg.Wait()
	var b strings.Builder
	code := http.StatusOK
	for i, name := range names {
		status := "ok"
		if failed[i] {
			status, code = "failing", http.StatusServiceUnavailable
		}
		fmt.Fprintf(&b, "%s %s\n", name, status)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}
