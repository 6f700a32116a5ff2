package console

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
)

// The console's pages: server-rendered html/template over the same desk
// methods as the API, called with the signed-in user, so a page is never a
// way around the authorization matrix.

//go:embed web/templates/*.html
var templateFiles embed.FS

//go:embed web/static
var staticFiles embed.FS

// pageHeaders are sent with every page and asset. No inline script or
// style anywhere: styles are CSS classes, behaviour is /static/console.js.
var pageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"X-Content-Type-Options": "nosniff",
}

func setPageHeaders(w http.ResponseWriter) {
	for k, v := range pageHeaders {
		w.Header().Set(k, v)
	}
}

// pages holds one template per page, each parsed with the shared layout.
type pages map[string]*template.Template

func parsePages() pages {
	// The layout and the partials (_*.html) are in every page's set.
	base := template.Must(template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "web/templates/layout.html", "web/templates/_*.html"))
	names, err := fs.Glob(templateFiles, "web/templates/*.html")
	if err != nil {
		panic(err)
	}
	out := pages{}
	for _, name := range names {
		file := path.Base(name)
		if file == "layout.html" || strings.HasPrefix(file, "_") {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFiles, name))
		out[strings.TrimSuffix(file, ".html")] = t
	}
	return out
}

// view is what every page's template gets: the layout's parts and the
// page's own data in Data.
type view struct {
	Title string
	Nav   string // the menu entry to mark as current
	User  *desk.User
	CSRF  string
	Flash flash
	Data  any
}

// visit is a signed-in page request: the user and the session's CSRF
// token, which every form carries.
type visit struct {
	user desk.User
	csrf string
}

// loginPath is where a missing or expired session is sent.
const loginPath = "/login"

// formCSRF is the hidden field of every form that changes something.
const formCSRF = "_csrf"

// page registers a page for signed-in browsers. Pages read the session
// cookie only (no bearer tokens: a page is for a person), and every unsafe
// request carries the session's CSRF token in the form field _csrf.
func (s *Server) page(pattern string, h func(http.ResponseWriter, *http.Request, visit) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		w.Header().Set("Cache-Control", "no-store") // pages carry personal data
		v, err := s.visitor(r)
		if errors.Is(err, desk.ErrUnauthenticated) {
			next := "/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, loginPath+"?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			err = checkForm(r, v.csrf)
		}
		if err == nil {
			err = h(w, r, v)
		}
		if err != nil {
			s.failPage(w, r, &v, err)
		}
	})
}

func (s *Server) visitor(r *http.Request) (visit, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return visit{}, desk.ErrUnauthenticated
	}
	u, csrf, err := s.Accounts.SessionUser(r.Context(), c.Value)
	return visit{user: u, csrf: csrf}, err
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// checkForm reads an urlencoded form of at most maxForm and compares its
// _csrf with want in constant time.
func checkForm(r *http.Request, want string) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return fmt.Errorf("form body of type %q: %w", ct, errCSRF)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("form: %v: %w", err, risk.ErrInvalid)
	}
	if !sameToken(r.PostForm.Get(formCSRF), want) {
		return errCSRF
	}
	return nil
}

// render writes a page with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t := s.pages[name]
	if t == nil {
		panic("console: no template " + name)
	}
	if v.Flash.Text == "" {
		v.Flash = takeFlash(w, r)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "页面生成出错", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// show renders a signed-in page with status 200.
func (s *Server) show(w http.ResponseWriter, r *http.Request, v visit, name, title, nav string, data any) error {
	s.render(w, r, http.StatusOK, name, view{Title: title, Nav: nav, User: &v.user, CSRF: v.csrf, Data: data})
	return nil
}

// errorPage is the data of the refusal, not-found and failure pages.
type errorPage struct {
	Status  int
	Message string
}

// failPage answers a page's error. Refused and not found share one page
// (id="refused"): desk answers "not found" for what the caller may not see,
// so that a page never tells whether another desk's case exists.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	status, msg := http.StatusServiceUnavailable, "服务暂时不可用，请稍后重试"
	switch {
	case errors.Is(err, errCSRF):
		status, msg = http.StatusForbidden, "页面已过期或来源不明，请返回重新操作"
	case errors.Is(err, risk.ErrForbidden):
		status, msg = http.StatusForbidden, "无权查看或进行此操作"
	case errors.Is(err, risk.ErrNotFound):
		status, msg = http.StatusNotFound, "未找到，或不在您的管辖范围内"
	case errors.Is(err, risk.ErrInvalid):
		status, msg = http.StatusBadRequest, "请求内容有误"
	case errors.Is(err, risk.ErrConflict):
		status, msg = http.StatusConflict, "该记录已被他人修改或当前状态不允许此操作，请刷新后重试"
	default:
		s.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	pv := view{Title: msg, Data: errorPage{status, msg}}
	if v != nil && v.user.Username != "" {
		pv.User, pv.CSRF = &v.user, v.csrf
	}
	s.render(w, r, status, "error", pv)
}

// flash is a one-time message shown after a redirect.
type flash struct {
	Text string
	Bad  bool // an error, not a confirmation
}

const flashCookie = "rw_flash"

// redirect answers a form post with a redirect (post/redirect/get) and a
// message for the next page.
func redirect(w http.ResponseWriter, r *http.Request, to string, f flash) {
	if f.Text != "" {
		v := "0"
		if f.Bad {
			v = "1"
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v + base64.RawURLEncoding.EncodeToString([]byte(f.Text)), Path: "/",
			HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// takeFlash reads and clears the flash message. It is rendered escaped like
// any text, so a forged cookie can at most show words.
func takeFlash(w http.ResponseWriter, r *http.Request) flash {
	c, err := r.Cookie(flashCookie)
	if err != nil || len(c.Value) < 2 {
		return flash{}
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	text, err := base64.RawURLEncoding.DecodeString(c.Value[1:])
	if err != nil || len(text) > 500 {
		return flash{}
	}
	return flash{Text: string(text), Bad: c.Value[0] == '1'}
}

// failed turns a refused change into a message on the page it came from:
// invalid input and conflicts are the user's to fix; anything else is
// returned for the error page.
func failed(w http.ResponseWriter, r *http.Request, back string, err error) error {
	switch {
	case errors.Is(err, risk.ErrInvalid):
		redirect(w, r, back, flash{Text: "请求内容有误：" + plainReason(err), Bad: true})
	case errors.Is(err, risk.ErrConflict):
		redirect(w, r, back, flash{Text: "该记录已被他人修改或当前状态不允许此操作", Bad: true})
	default:
		return err
	}
	return nil
}

// plainReason is the first part of an error for a person: desk's messages
// say what was wrong with the input (they never carry personal data: text
// is masked before checks).
func plainReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i > 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// localPath returns next when it is a path on this server, else "/": a
// login link never sends anyone to another site.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// pageRoutes registers the console's pages and assets.
func (s *Server) pageRoutes() {
	static, err := fs.Sub(staticFiles, "web/static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.loginPost)
	s.mux.HandleFunc("POST /logout", s.logoutPost)
	s.page("GET /{$}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		http.Redirect(w, r, home(v.user.Role), http.StatusSeeOther)
		return nil
	})
	s.accountPages()
	s.queuePages()
	s.alertPages()
	s.casePages()
	s.dashboardPages()
	s.adminPages()
}

// home is where a role starts.
func home(r desk.Role) string {
	switch r {
	case desk.RoleMediator:
		return "/inbox"
	case desk.RoleLeader:
		return "/dashboard"
	}
	return "/queue"
}

// notFoundPage answers a GET of a path that is neither a page nor the API.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	var v *visit
	if got, err := s.visitor(r); err == nil {
		v = &got
	}
	s.failPage(w, r, v, fmt.Errorf("no page %s: %w", r.URL.Path, risk.ErrNotFound))
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// templateFuncs are the helpers templates use. Times are shown in UTC+8.
var templateFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(risk.CST).Format("2006-01-02 15:04")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.In(risk.CST).Format("2006-01-02 15:04")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(risk.CST).Format("2006-01-02")
	},
	"levelName":    levelName,
	"sourceName":   sourceName,
	"detectorName": detectorName,
	"roleName":     roleName,
	"personRole":   personRoleName,
	"recordStatus": recordStatusName,
	"statusName":   statusName,
	"noteKind":     noteKindName,
	"auditName":    auditName,
	"num": func(f float64) string {
		if f == float64(int64(f)) {
			return fmt.Sprint(int64(f))
		}
		return fmt.Sprintf("%.3g", f)
	},
}

var levelNames = map[risk.Level]string{risk.LevelRed: "红", risk.LevelOrange: "橙", risk.LevelYellow: "黄", risk.LevelBlue: "蓝"}

func levelName(l risk.Level) string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return string(l)
}

// levels lists the levels, most severe first.
var levels = []risk.Level{risk.LevelRed, risk.LevelOrange, risk.LevelYellow, risk.LevelBlue}

func sourceName(s risk.Source) string {
	switch s {
	case "hotline":
		return "12345热线"
	case "petition":
		return "信访"
	case "grid":
		return "网格"
	}
	return string(s)
}

// detectorNames are the detectors' ids (stable, part of every alert) in
// Chinese, in the catalogue's order.
var detectorNames = []struct{ ID, Name string }{
	{"extreme_intent", "极端言行"}, {"collective", "群体性风险"}, {"skip_level", "越级"}, {"repeat", "重复诉求"},
	{"convergence", "多渠道汇聚"}, {"surge", "突增"}, {"trend", "趋势上升"}, {"overdue", "超期"},
}

func detectorName(id string) string {
	for _, d := range detectorNames {
		if d.ID == id {
			return d.Name
		}
	}
	return id
}

// personRoleNames are the roles pipeline/normalize gives the persons of a record.
var personRoleNames = map[string]string{"caller": "来电人", "petitioner": "信访人", "party": "当事人"}

func personRoleName(r string) string {
	if n, ok := personRoleNames[r]; ok {
		return n
	}
	return r
}

// recordStatusNames are the upstream statuses as pipeline/normalize folds them.
var recordStatusNames = map[string]string{"open": "在办", "in_progress": "办理中", "finished": "办结", "reopened": "重办", "deleted": "已删除"}

func recordStatusName(s string) string {
	if n, ok := recordStatusNames[s]; ok {
		return n
	}
	return s
}

func roleName(r desk.Role) string {
	switch r {
	case desk.RoleAdmin:
		return "管理员"
	case desk.RoleReviewer:
		return "中心审核员"
	case desk.RoleMediator:
		return "调解员"
	case desk.RoleLeader:
		return "领导"
	}
	return string(r)
}
