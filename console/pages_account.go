package console

import (
	"errors"
	"net/http"

	risk "riskwatch"
	"riskwatch/desk"
)

// loginCookie is the login form's pre-session CSRF token (double submit):
// another site cannot sign a browser into an account of its choosing,
// because it can neither read this cookie nor set it.
const loginCookie = "rw_login"

type loginData struct {
	Next, Username, Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	next := localPath(r.URL.Query().Get("next"))
	if v, err := s.visitor(r); err == nil {
		http.Redirect(w, r, cmpNext(next, home(v.user.Role)), http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginData{Next: next})
}

// showLogin renders the login form with a fresh pre-session token.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: loginPath, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, r, status, "login", view{Title: "登录", CSRF: token, Data: d})
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	c, err := r.Cookie(loginCookie)
	want := ""
	if err == nil {
		want = c.Value
	}
	if err := checkForm(r, want); err != nil {
		if errors.Is(err, errCSRF) {
			s.showLogin(w, r, http.StatusForbidden, loginData{Next: localPath(r.FormValue("next")), Error: "登录页面已过期，请重新输入"})
			return
		}
		s.failPage(w, r, nil, err)
		return
	}
	next := localPath(r.PostForm.Get("next"))
	name := r.PostForm.Get("username")
	u, sess, err := s.Accounts.Login(r.Context(), name, r.PostForm.Get("password"), clientAddr(r))
	if err != nil {
		msg, status := "", http.StatusUnauthorized
		for _, k := range errorKinds {
			if errors.Is(err, k.err) {
				msg, status = k.zh, k.status
				break
			}
		}
		if msg == "" {
			s.log.Error("page login failed", "err", err)
			msg, status = "服务暂时不可用，请稍后重试", http.StatusServiceUnavailable
		}
		if errors.Is(err, desk.ErrUnauthenticated) {
			msg = "用户名或密码错误"
		}
		s.showLogin(w, r, status, loginData{Next: next, Username: name, Error: msg})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: loginPath, MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, cmpNext(next, home(u.Role)), http.StatusSeeOther)
}

// cmpNext is next unless it is the bare root, which sends a role home.
func cmpNext(next, home string) string {
	if next == "/" {
		return home
	}
	return next
}

// logoutPost ends the session. It needs the session's CSRF token: another
// site must not sign people out.
func (s *Server) logoutPost(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	v, err := s.visitor(r)
	switch {
	case err == nil:
		if err := checkForm(r, v.csrf); err != nil {
			s.failPage(w, r, &v, err)
			return
		}
		c, _ := r.Cookie(sessionCookie)
		if err := s.Accounts.Logout(r.Context(), c.Value); err != nil {
			s.failPage(w, r, &v, err)
			return
		}
	case !errors.Is(err, desk.ErrUnauthenticated):
		s.failPage(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	redirect(w, r, loginPath, flash{Text: "已退出登录"})
}

func (s *Server) accountPages() {
	s.page("GET /account", func(w http.ResponseWriter, r *http.Request, v visit) error {
		return s.show(w, r, v, "account", "我的账号", "account", nil)
	})
	s.page("POST /account/password", func(w http.ResponseWriter, r *http.Request, v visit) error {
		f := r.PostForm
		if f.Get("new") != f.Get("confirm") {
			redirect(w, r, "/account", flash{Text: "两次输入的新密码不一致", Bad: true})
			return nil
		}
		err := s.Accounts.ChangePassword(r.Context(), v.user, f.Get("old"), f.Get("new"))
		switch {
		case errors.Is(err, risk.ErrForbidden):
			redirect(w, r, "/account", flash{Text: "原密码错误", Bad: true})
			return nil
		case errors.Is(err, desk.ErrLocked), errors.Is(err, desk.ErrThrottled), errors.Is(err, desk.ErrBusy):
			redirect(w, r, "/account", flash{Text: "尝试过于频繁，请稍后再试", Bad: true})
			return nil
		case err != nil:
			return failed(w, r, "/account", err)
		}
		// Every session of the user ended with the change: sign this
		// browser in again with the new password, so only the others end.
		_, sess, err := s.Accounts.Login(r.Context(), v.user.Username, f.Get("new"), clientAddr(r))
		if err != nil {
			redirect(w, r, loginPath, flash{Text: "密码已修改，请用新密码登录"})
			return nil
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", Expires: sess.Expires,
			HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
		redirect(w, r, "/account", flash{Text: "密码已修改"})
		return nil
	})
}
