package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/desk/robot"
	"riskwatch/pipeline"
)

// adminOnly refuses anyone but an administrator before any read; the desk
// methods below check again, with the jurisdiction.
func adminOnly(u desk.User) error {
	if u.Role != desk.RoleAdmin {
		return fmt.Errorf("%s may not administer: %w", u.Role, risk.ErrForbidden)
	}
	return nil
}

type adminDesksData struct {
	Desks     []adminDesk
	CanReload bool
}

// adminDesk is a desk as the page shows it: robots by kind and host only,
// whether a 加签 secret is set, never the URL (it carries the access
// token) nor the secret.
type adminDesk struct {
	desk.Desk
	Robots []robotView
}

type robotView struct {
	Kind, Host string
	Signed     bool
}

func robotViews(hooks []robot.Webhook) []robotView {
	var out []robotView
	for _, h := range hooks {
		host := "—"
		if u, err := url.Parse(h.URL); err == nil {
			host = u.Host
		}
		out = append(out, robotView{Kind: string(h.Kind), Host: host, Signed: h.Secret != ""})
	}
	return out
}

// deskForm is the desk being edited ("new": one being made).
type deskForm struct {
	adminDesk
	New    bool
	Tiers  []risk.Tier
	stored []robot.Webhook
}

// editDesk is the desk of the path as its administrator may see it.
func (s *Server) editDesk(r *http.Request, u desk.User) (deskForm, error) {
	if err := adminOnly(u); err != nil {
		return deskForm{}, err
	}
	id := r.PathValue("id")
	f := deskForm{Tiers: risk.Tiers, New: id == "new"}
	if f.New {
		f.Tier = risk.TierVillage
		return f, nil
	}
	desks, err := s.Directory.DesksFor(r.Context(), u)
	if err != nil {
		return deskForm{}, err
	}
	for _, x := range desks {
		if x.ID == id {
			f.Desk, f.Robots, f.stored = x, robotViews(x.Webhooks), x.Webhooks
			f.Webhooks = nil
			return f, nil
		}
	}
	return deskForm{}, fmt.Errorf("desk %q: %w", id, risk.ErrNotFound)
}

// names splits a list typed with commas, 、 or spaces.
func names(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == '，' || r == '、' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
}

type adminUsersData struct {
	Users    []desk.User
	Tokens   []desk.Token
	Roles    []desk.Role
	NewToken string // shown once, right after it was made
	TokenFor string
}

type pipelineData struct {
	Feeds      []pipeline.FeedStats
	HaveQuar   bool
	Quarantine map[string][]pipeline.ReasonCount // by topic
}

func (s *Server) adminPages() {
	s.page("GET /admin", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if err := adminOnly(v.user); err != nil {
			return err
		}
		http.Redirect(w, r, "/admin/desks", http.StatusSeeOther)
		return nil
	})
	s.page("GET /admin/desks", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if err := adminOnly(v.user); err != nil {
			return err
		}
		desks, err := s.Directory.DesksFor(r.Context(), v.user)
		if err != nil {
			return err
		}
		d := adminDesksData{CanReload: s.Reload != nil}
		for _, x := range desks {
			ad := adminDesk{Desk: x, Robots: robotViews(x.Webhooks)}
			ad.Webhooks = nil
			d.Desks = append(d.Desks, ad)
		}
		return s.show(w, r, v, "admin_desks", "处置单位", "admin", d)
	})
	s.page("GET /admin/desks/{id}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.editDesk(r, v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "admin_desk", "编辑处置单位", "admin", d)
	})
	s.page("POST /admin/desks/{id}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.editDesk(r, v.user)
		if err != nil {
			return err
		}
		f := r.PostForm
		id := d.ID
		if d.New {
			id = strings.TrimSpace(f.Get("id"))
		}
		x := desk.Desk{ID: id, Name: strings.TrimSpace(f.Get("name")), Tier: risk.Tier(f.Get("tier")), Region: strings.TrimSpace(f.Get("region")),
			Members: names(f.Get("members")), Heads: names(f.Get("heads")), Hours: strings.TrimSpace(f.Get("hours"))}
		// Robots are kept by index (their URLs never reach the page; the
		// desk keeps each one's secret), and one may be added.
		for i, h := range d.stored {
			if f.Get("keep"+strconv.Itoa(i)) == "1" {
				x.Webhooks = append(x.Webhooks, robot.Webhook{Kind: h.Kind, URL: h.URL})
			}
		}
		if u := strings.TrimSpace(f.Get("robot_url")); u != "" {
			x.Webhooks = append(x.Webhooks, robot.Webhook{Kind: robot.Kind(f.Get("robot_kind")), URL: u, Secret: strings.TrimSpace(f.Get("robot_secret"))})
		}
		if _, err := s.Directory.SaveDesk(r.Context(), v.user, x); err != nil {
			return failed(w, r, r.URL.Path, err) // back to the form
		}
		redirect(w, r, "/admin/desks", flash{Text: "已保存 " + x.Name})
		return nil
	})
	s.page("POST /admin/desks/reload", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if err := adminOnly(v.user); err != nil {
			return err
		}
		if s.Reload == nil {
			redirect(w, r, "/admin/desks", flash{Text: "未配置单位目录文件（-desks）", Bad: true})
			return nil
		}
		n, err := s.Reload(r.Context(), &v.user)
		if err != nil {
			return failed(w, r, "/admin/desks", err)
		}
		redirect(w, r, "/admin/desks", flash{Text: fmt.Sprintf("已重新载入 %d 个单位", n)})
		return nil
	})
	s.page("GET /admin/users", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.adminUsers(r, v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "admin_users", "用户与令牌", "admin", d)
	})
	s.page("POST /admin/users", func(w http.ResponseWriter, r *http.Request, v visit) error {
		f := r.PostForm
		u := desk.User{Username: strings.TrimSpace(f.Get("username")), DisplayName: strings.TrimSpace(f.Get("display_name")),
			Role: desk.Role(f.Get("role")), Jurisdiction: strings.TrimSpace(f.Get("jurisdiction"))}
		if _, err := s.Accounts.AddUser(r.Context(), &v.user, u, f.Get("password")); err != nil {
			return failed(w, r, "/admin/users", err)
		}
		redirect(w, r, "/admin/users", flash{Text: "已添加用户 " + u.Username})
		return nil
	})
	s.page("POST /admin/users/{id}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var ch desk.UserChange
		if role := desk.Role(r.PostForm.Get("role")); role != "" {
			ch.Role = &role
		}
		switch r.PostForm.Get("disabled") {
		case "1":
			t := true
			ch.Disabled = &t
		case "0":
			f := false
			ch.Disabled = &f
		}
		if _, err := s.Accounts.UpdateUser(r.Context(), v.user, id, ch); err != nil {
			return failed(w, r, "/admin/users", err)
		}
		redirect(w, r, "/admin/users", flash{Text: "已保存"})
		return nil
	})
	// A new token is shown once, on the answer to its post: never in a
	// redirect, a cookie or a log.
	s.page("POST /admin/users/{id}/tokens", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		days, _ := strconv.Atoi(r.PostForm.Get("days"))
		token, err := s.Accounts.CreateToken(r.Context(), &v.user, id, strings.TrimSpace(r.PostForm.Get("name")), time.Duration(days)*24*time.Hour)
		if err != nil {
			return failed(w, r, "/admin/users", err)
		}
		d, err := s.adminUsers(r, v.user)
		if err != nil {
			return err
		}
		d.NewToken = token
		for _, u := range d.Users {
			if u.ID == id {
				d.TokenFor = u.Username
			}
		}
		return s.show(w, r, v, "admin_users", "用户与令牌", "admin", d)
	})
	s.page("POST /admin/tokens/{id}/revoke", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := s.Accounts.RevokeToken(r.Context(), &v.user, id); err != nil {
			return failed(w, r, "/admin/users", err)
		}
		redirect(w, r, "/admin/users", flash{Text: "令牌已吊销"})
		return nil
	})
	s.page("GET /admin/detectors", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if err := adminOnly(v.user); err != nil {
			return err
		}
		var list []DetectorSetting
		if s.Detectors != nil {
			list = s.Detectors.Settings()
		}
		return s.show(w, r, v, "admin_detectors", "预警模型设置", "admin", struct {
			Have     bool
			Settings []DetectorSetting
		}{s.Detectors != nil, list})
	})
	s.page("GET /admin/pipeline", func(w http.ResponseWriter, r *http.Request, v visit) error {
		if err := adminOnly(v.user); err != nil {
			return err
		}
		d := pipelineData{HaveQuar: s.Quarantine != nil, Quarantine: map[string][]pipeline.ReasonCount{}}
		if s.Ingest != nil {
			feeds, err := s.Ingest.Stats(r.Context())
			if err != nil {
				return err
			}
			d.Feeds = feeds
		}
		if s.Quarantine != nil {
			for _, f := range d.Feeds {
				reasons, err := s.Quarantine.Reasons(r.Context(), f.Topic)
				if err != nil {
					return err
				}
				d.Quarantine[f.Topic] = reasons
			}
		}
		return s.show(w, r, v, "admin_pipeline", "数据接入", "admin", d)
	})
}

func (s *Server) adminUsers(r *http.Request, u desk.User) (adminUsersData, error) {
	if err := adminOnly(u); err != nil {
		return adminUsersData{}, err
	}
	users, err := s.Accounts.Users(r.Context(), u)
	if err != nil {
		return adminUsersData{}, err
	}
	tokens, err := s.Accounts.Tokens(r.Context(), u)
	if err != nil {
		return adminUsersData{}, err
	}
	return adminUsersData{Users: users, Tokens: tokens, Roles: []desk.Role{desk.RoleReviewer, desk.RoleMediator, desk.RoleLeader, desk.RoleAdmin}}, nil
}

// DetectorSetting is one detector's settings in force, as the
// administration page lists them.
type DetectorSetting struct {
	Detector string
	Schedule string        // cron, UTC+8
	Window   time.Duration // event time one run reads
	Timeout  time.Duration
	Values   []SettingValue // the tuning in force, by name
}

// SettingValue is one named setting.
type SettingValue struct{ Name, Value string }

// detectorSettings lists the detectors' settings in force (read-only).
type detectorSettings interface {
	Settings() []DetectorSetting
}
