package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/desk/robot"
)

// routes registers the JSON API of the desks. Every endpoint is in
// openapi.yaml; a test keeps the two in step.
func (s *Server) routes() {
	// Alerts and their review.
	s.handle("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		q := r.URL.Query()
		f := desk.AlertFilter{Status: q.Get("status"), Level: q.Get("level"), Detector: q.Get("detector"), Desk: q.Get("desk"),
			Category: q.Get("category"), Region: q.Get("region"), After: q.Get("cursor")}
		var err error
		if f.From, err = queryTime(q.Get("from")); err != nil {
			return err
		}
		if f.To, err = queryTime(q.Get("to")); err != nil {
			return err
		}
		if f.Limit, err = queryInt(q.Get("limit")); err != nil {
			return err
		}
		list, next, err := s.Review.Alerts(r.Context(), u, f)
		if err != nil {
			return err
		}
		if list == nil {
			list = []desk.Alert{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": list, "next_cursor": next})
		return nil
	})
	s.handle("GET /api/v1/alerts/{key}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		a, err := s.Review.GetAlert(r.Context(), u, r.PathValue("key"))
		return reply(w, a, err)
	})
	s.handle("GET /api/v1/alerts/{key}/related", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		alerts, cases, err := s.Review.Related(r.Context(), u, r.PathValue("key"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": nonNil(alerts), "cases": nonNil(cases)})
		return nil
	})
	s.handle("GET /api/v1/alerts/{key}/route", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		a, err := s.Review.GetAlert(r.Context(), u, r.PathValue("key"))
		if err != nil {
			return err
		}
		route, err := s.Directory.PreviewRoute(r.Context(), u, desk.Scope{Detector: a.Detector, Level: a.Level, Region: a.Region})
		return reply(w, route, err)
	})
	s.handle("POST /api/v1/alerts/{key}/confirm", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct{ Note, Desk string }
		if err := decodeOptional(r, &in); err != nil {
			return err
		}
		k, err := s.Review.Confirm(r.Context(), u, r.PathValue("key"), in.Desk, in.Note)
		return replyStatus(w, http.StatusCreated, k, err)
	})
	s.handle("POST /api/v1/alerts/{key}/dismiss", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Reason risk.DismissReason
			Note   string
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		a, err := s.Review.Dismiss(r.Context(), u, r.PathValue("key"), in.Reason, in.Note)
		return reply(w, a, err)
	})
	s.handle("POST /api/v1/alerts/{key}/merge", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct{ Case int64 }
		if err := decode(r, &in); err != nil {
			return err
		}
		k, err := s.Review.Merge(r.Context(), u, r.PathValue("key"), in.Case)
		return reply(w, k, err)
	})
	s.handle("GET /api/v1/alerts/{key}/records", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		a, err := s.Review.GetAlert(r.Context(), u, r.PathValue("key"))
		if err != nil {
			return err
		}
		return s.replyRecords(w, r, a.Evidence)
	})
	s.handle("GET /api/v1/records/history", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		if err := mayReadRecords(u); err != nil {
			return err
		}
		q := r.URL.Query()
		region, err := regionOf(u, q.Get("region"))
		if err != nil {
			return err
		}
		before, err := queryTime(q.Get("before"))
		if err != nil {
			return err
		}
		limit, err := queryInt(q.Get("limit"))
		if err != nil {
			return err
		}
		if s.Records == nil {
			return errNoClickHouse
		}
		list, err := s.Records.History(r.Context(), region, q.Get("person"), q.Get("subject"), before, limit)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"records": nonNil(list)})
		return nil
	})
	s.handle("POST /api/v1/route-preview", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in desk.Scope
		if err := decode(r, &in); err != nil {
			return err
		}
		route, err := s.Directory.PreviewRoute(r.Context(), u, in)
		return reply(w, route, err)
	})

	// Cases.
	s.handle("GET /api/v1/cases", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		q := r.URL.Query()
		limit, err := queryInt(q.Get("limit"))
		if err != nil {
			return err
		}
		list, err := s.Cases.Cases(r.Context(), u, desk.CaseFilter{Status: q.Get("status"), Desk: q.Get("desk"), Mine: q.Get("mine") == "true", Limit: limit})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"cases": nonNil(list)})
		return nil
	})
	s.handle("GET /api/v1/cases/{id}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		k, err := s.Cases.Case(r.Context(), u, id)
		return reply(w, k, err)
	})
	s.handle("GET /api/v1/cases/{id}/records", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		refs, err := s.Cases.Evidence(r.Context(), u, id)
		if err != nil {
			return err
		}
		return s.replyRecords(w, r, refs)
	})
	s.handle("PUT /api/v1/cases/{id}/outcome", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Version   int
			Agreement string
			Amount    float64
		}
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		k, err := s.Cases.SetOutcome(r.Context(), u, id, in.Version, desk.Outcome{Agreement: in.Agreement, Amount: in.Amount})
		return reply(w, k, err)
	})
	s.handle("POST /api/v1/cases/{id}/actions", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Action  risk.CaseAction
			Version int
			Reason  string
		}
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		k, err := s.Cases.Act(r.Context(), u, id, in.Version, in.Action, in.Reason)
		return reply(w, k, err)
	})
	s.handle("POST /api/v1/cases/{id}/assign", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Mediator string
			Version  int
		}
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		k, err := s.Cases.Assign(r.Context(), u, id, in.Version, in.Mediator)
		return reply(w, k, err)
	})
	s.handle("POST /api/v1/cases/{id}/notes", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct{ Kind, Body string }
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		n, err := s.Cases.AddNote(r.Context(), u, id, in.Kind, in.Body)
		return replyStatus(w, http.StatusCreated, n, err)
	})
	s.handle("POST /api/v1/cases/{id}/pause", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Version int
			Why     string
		}
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		k, err := s.Cases.Pause(r.Context(), u, id, in.Version, in.Why)
		return reply(w, k, err)
	})
	s.handle("POST /api/v1/cases/{id}/resume", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct{ Version int }
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		k, err := s.Cases.Resume(r.Context(), u, id, in.Version)
		return reply(w, k, err)
	})
	s.handle("POST /api/v1/cases/{id}/parties/{key}/reveal", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		c, err := s.Cases.Reveal(r.Context(), u, id, r.PathValue("key"))
		if err == nil {
			w.Header().Set("Cache-Control", "no-store")
		}
		return reply(w, c, err)
	})

	// Desks, people, the audit log and the figures.
	s.handle("GET /api/v1/desks", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		list, err := s.Directory.DesksFor(r.Context(), u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"desks": nonNil(list)})
		return nil
	})
	s.handle("PUT /api/v1/desks/{id}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		// A desk as the store shows it, except that robots may carry their
		// secret (which the store never shows).
		var body struct {
			desk.Desk
			Webhooks []struct {
				Kind   robot.Kind `json:"kind"`
				URL    string     `json:"url"`
				Secret string     `json:"secret"`
			} `json:"webhooks"`
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		in := body.Desk
		in.Webhooks = nil
		for _, h := range body.Webhooks {
			in.Webhooks = append(in.Webhooks, robot.Webhook{Kind: h.Kind, URL: h.URL, Secret: h.Secret})
		}
		if in.ID == "" {
			in.ID = r.PathValue("id")
		}
		if in.ID != r.PathValue("id") {
			return fmt.Errorf("desk id %q in the body, %q in the path: %w", in.ID, r.PathValue("id"), risk.ErrInvalid)
		}
		d, err := s.Directory.SaveDesk(r.Context(), u, in)
		return reply(w, d, err)
	})
	s.handle("DELETE /api/v1/desks/{id}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		if err := s.Directory.DeleteDesk(r.Context(), u, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.handle("POST /api/v1/desks/reload", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		if u.Role != desk.RoleAdmin {
			return fmt.Errorf("%s may not reload the desk directory: %w", u.Role, risk.ErrForbidden)
		}
		if s.Reload == nil {
			return fmt.Errorf("serve runs without a desk directory file (-desks): %w", risk.ErrInvalid)
		}
		n, err := s.Reload(r.Context(), &u)
		return reply(w, map[string]int{"desks": n}, err)
	})
	s.handle("GET /api/v1/users", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		list, err := s.Accounts.Users(r.Context(), u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": nonNil(list)})
		return nil
	})
	s.handle("POST /api/v1/users", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Username     string    `json:"username"`
			DisplayName  string    `json:"display_name"`
			Role         desk.Role `json:"role"`
			Jurisdiction string    `json:"jurisdiction"`
			Password     string    `json:"password"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		made, err := s.Accounts.AddUser(r.Context(), &u, desk.User{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role, Jurisdiction: in.Jurisdiction}, in.Password)
		return replyStatus(w, http.StatusCreated, made, err)
	})
	s.handle("PATCH /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in desk.UserChange
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		made, err := s.Accounts.UpdateUser(r.Context(), u, id, in)
		return reply(w, made, err)
	})
	s.handle("POST /api/v1/users/{id}/tokens", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		var in struct {
			Name string
			Days int // life; 0 for the configured default
		}
		id, err := idAndBody(r, &in)
		if err != nil {
			return err
		}
		token, err := s.Accounts.CreateToken(r.Context(), &u, id, in.Name, time.Duration(in.Days)*24*time.Hour)
		if err == nil {
			w.Header().Set("Cache-Control", "no-store")
		}
		return replyStatus(w, http.StatusCreated, map[string]string{"token": token}, err)
	})
	s.handle("GET /api/v1/tokens", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		list, err := s.Accounts.Tokens(r.Context(), u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": nonNil(list)})
		return nil
	})
	s.handle("DELETE /api/v1/tokens/{id}", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := s.Accounts.RevokeToken(r.Context(), &u, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.handle("GET /api/v1/audit", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		q := r.URL.Query()
		f := desk.AuditFilter{Alert: q.Get("alert"), Actor: q.Get("actor")}
		var err error
		var n int
		if n, err = queryInt(q.Get("case")); err != nil {
			return err
		}
		f.Case = int64(n)
		if n, err = queryInt(q.Get("after")); err != nil {
			return err
		}
		f.After = int64(n)
		if f.Limit, err = queryInt(q.Get("limit")); err != nil {
			return err
		}
		list, err := s.Audit.Entries(r.Context(), u, f)
		if err != nil {
			return err
		}
		// The next page asks for entries after (older than) the last one.
		var next int64
		if len(list) > 0 && len(list) == min(cmp.Or(f.Limit, 200), 500) {
			next = list[len(list)-1].ID
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": nonNil(list), "next_after": next})
		return nil
	})
	s.handle("GET /api/v1/notifications", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		q := r.URL.Query()
		before, err := queryInt(q.Get("before"))
		if err != nil {
			return err
		}
		limit, err := queryInt(q.Get("limit"))
		if err != nil {
			return err
		}
		list, err := s.Outbox.Notices(r.Context(), u, q.Get("desk"), int64(before), limit)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"notifications": nonNil(list)})
		return nil
	})
	s.handle("GET /api/v1/figures", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		f, err := s.Stats.Figures(r.Context(), u)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		if q.Get("from") == "" && q.Get("to") == "" {
			return reply(w, f, nil)
		}
		// A period's figures too: the same function as the briefs'.
		from, to, err := queryRange(q.Get("from"), q.Get("to"), 7*24*time.Hour)
		if err != nil {
			return err
		}
		p, err := s.Stats.Period(r.Context(), u, u.Jurisdiction, from, to)
		return reply(w, struct {
			desk.Figures
			Period desk.PeriodFigures `json:"period"`
		}{f, p}, err)
	})
	s.handle("GET /api/v1/briefs", s.getBrief)
	s.handle("GET /api/v1/briefs/stored", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		list, err := s.storedBriefs(r.Context(), u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"briefs": list})
		return nil
	})
	s.handle("GET /api/v1/briefs/stored/{region}/{kind}/{from}", s.getStoredBrief)
	s.handle("GET /api/v1/figures/detectors", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		q := r.URL.Query()
		from, to, err := queryRange(q.Get("from"), q.Get("to"), 28*24*time.Hour)
		if err != nil {
			return err
		}
		list, err := s.Stats.Detectors(r.Context(), u, from, to, cmp.Or(q.Get("step"), "week"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"detectors": nonNil(list)})
		return nil
	})

	// Matters: the leaders' charts, aggregates only.
	s.handle("GET /api/v1/matters/series", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		region, from, to, err := s.matterQuery(r, u)
		if err != nil {
			return err
		}
		list, err := s.Matters.Series(r.Context(), region, from, to, cmp.Or(r.URL.Query().Get("step"), "day"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"region": region, "from": from, "to": to, "series": nonNil(list)})
		return nil
	})
	s.handle("GET /api/v1/matters/places", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		region, from, to, err := s.matterQuery(r, u)
		if err != nil {
			return err
		}
		limit, err := queryInt(r.URL.Query().Get("limit"))
		if err != nil {
			return err
		}
		list, err := s.Matters.Places(r.Context(), region, from, to, cmp.Or(r.URL.Query().Get("level"), "township"), limit)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"region": region, "from": from, "to": to, "places": nonNil(list)})
		return nil
	})

	// The quarantine's reasons: the pipeline's health, like ingest/stats.
	s.handle("GET /api/v1/ingest/quarantine/reasons", func(w http.ResponseWriter, r *http.Request, u desk.User) error {
		if u.Role != desk.RoleAdmin && u.Role != desk.RoleReviewer {
			return fmt.Errorf("%s may not read the pipeline's health: %w", u.Role, risk.ErrForbidden)
		}
		if s.Quarantine == nil {
			return errNoClickHouse
		}
		list, err := s.Quarantine.Reasons(r.Context(), r.URL.Query().Get("topic"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"reasons": nonNil(list)})
		return nil
	})

	// The caller's own account.
	s.handle("POST /api/v1/me/password", s.changePassword)
}

// getBrief makes a leaders' brief on demand: of the region asked (the
// caller's jurisdiction by default) for the period holding at (by default
// the last complete one), as JSON, HTML or Markdown.
func (s *Server) getBrief(w http.ResponseWriter, r *http.Request, u desk.User) error {
	if err := mayReadFigures(u); err != nil {
		return err
	}
	q := r.URL.Query()
	region, err := regionOf(u, q.Get("region"))
	if err != nil {
		return err
	}
	kind, format := cmp.Or(q.Get("period"), "week"), cmp.Or(q.Get("format"), "json")
	if !slices.Contains(brief.Formats, format) {
		return fmt.Errorf("format %q: want json, html or markdown: %w", format, risk.ErrInvalid)
	}
	var p brief.Period
	if at := q.Get("at"); at != "" {
		day, err := time.ParseInLocation(time.DateOnly, at, risk.CST)
		if err != nil {
			return fmt.Errorf("at %q: want YYYY-MM-DD: %w", at, risk.ErrInvalid)
		}
		p, err = brief.PeriodAt(kind, day)
		if err != nil {
			return err
		}
	} else {
		cur, err := brief.PeriodAt(kind, time.Now())
		if err != nil {
			return err
		}
		p = cur.Previous()
	}
	if s.Briefs == nil {
		return errNoClickHouse
	}
	b, err := s.Briefs.Make(r.Context(), u, region, p)
	if err != nil {
		return err
	}
	if format == "json" {
		return reply(w, b, nil)
	}
	var buf bytes.Buffer
	if err := brief.Write(&buf, b, format); err != nil {
		return err
	}
	if format == "html" {
		// A document of its own: its inline style, no script, nothing fetched.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	} else {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	}
	_, err = buf.WriteTo(w)
	return err
}

// storedBriefs lists the briefs made on schedule of the regions inside
// u's jurisdiction, for the roles that read figures.
func (s *Server) storedBriefs(ctx context.Context, u desk.User) ([]brief.Stored, error) {
	if err := mayReadFigures(u); err != nil {
		return nil, err
	}
	if s.Stored == nil {
		return nil, errNoStore
	}
	return s.Stored.List(ctx, u.Jurisdiction, 0)
}

// getStoredBrief answers a brief made on schedule as it was printed then:
// the region's (inside the caller's jurisdiction), of the kind, for the
// period starting on the day from (UTC+8).
func (s *Server) getStoredBrief(w http.ResponseWriter, r *http.Request, u desk.User) error {
	if err := mayReadFigures(u); err != nil {
		return err
	}
	region := r.PathValue("region")
	if _, err := regionOf(u, region); err != nil {
		return err
	}
	from, err := time.ParseInLocation(time.DateOnly, r.PathValue("from"), risk.CST)
	if err != nil {
		return fmt.Errorf("from %q: want YYYY-MM-DD: %w", r.PathValue("from"), risk.ErrInvalid)
	}
	if s.Stored == nil {
		return errNoStore
	}
	html, err := s.Stored.HTML(r.Context(), region, r.PathValue("kind"), from)
	if err != nil {
		return err
	}
	// A document of its own, as getBrief's.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, err = io.WriteString(w, html)
	return err
}

// errNoClickHouse answers the endpoints that read ClickHouse when serve
// runs without it: 503, like a store that does not answer.
var errNoClickHouse = errors.New("no ClickHouse configured for records")

// errNoStore answers the stored briefs' endpoints when serve has no store
// of briefs: 503.
var errNoStore = errors.New("no store of briefs configured")

// replyRecords answers the stored records of refs, masked.
func (s *Server) replyRecords(w http.ResponseWriter, r *http.Request, refs []risk.Evidence) error {
	if s.Records == nil {
		return errNoClickHouse
	}
	list, err := s.Records.Records(r.Context(), refs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": nonNil(list)})
	return nil
}

// mayReadRecords lets in the roles that read alerts: the records are their
// evidence. Leaders read aggregates only; mediators read the records of
// their cases (GET /api/v1/cases/{id}/records).
func mayReadRecords(u desk.User) error {
	if u.Role != desk.RoleAdmin && u.Role != desk.RoleReviewer {
		return fmt.Errorf("%s may not read records: %w", u.Role, risk.ErrForbidden)
	}
	return nil
}

// mayReadFigures lets in the roles that read figures.
func mayReadFigures(u desk.User) error {
	if u.Role != desk.RoleAdmin && u.Role != desk.RoleReviewer && u.Role != desk.RoleLeader {
		return fmt.Errorf("%s may not read figures: %w", u.Role, risk.ErrForbidden)
	}
	return nil
}

// regionOf is the region a query names, the caller's jurisdiction when it
// names none. One outside the jurisdiction is refused (403) without
// looking anything up.
func regionOf(u desk.User, region string) (string, error) {
	if region == "" {
		return u.Jurisdiction, nil
	}
	if !strings.HasPrefix(region, u.Jurisdiction) {
		return "", fmt.Errorf("region %s is outside your jurisdiction %s: %w", region, u.Jurisdiction, risk.ErrForbidden)
	}
	return region, nil
}

// matterQuery reads the region and time range of a matters query, for the
// roles that read figures: by default the last 28 days of the jurisdiction.
func (s *Server) matterQuery(r *http.Request, u desk.User) (string, time.Time, time.Time, error) {
	if err := mayReadFigures(u); err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	q := r.URL.Query()
	region, err := regionOf(u, q.Get("region"))
	if err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	from, to, err := queryRange(q.Get("from"), q.Get("to"), 28*24*time.Hour)
	if err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	if s.Matters == nil {
		return "", time.Time{}, time.Time{}, errNoClickHouse
	}
	return region, from, to, nil
}

// queryRange reads a time range: to defaults to now, from to span before to.
func queryRange(fromQ, toQ string, span time.Duration) (time.Time, time.Time, error) {
	from, err := queryTime(fromQ)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, err := queryTime(toQ)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-span)
	}
	return from, to, nil
}

// changePassword changes the caller's own password. Every session of the
// user ends; a browser is signed in again at once with the new password (a
// new cookie and CSRF token), so only its other sessions end.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, u desk.User) error {
	var in struct{ Old, New string }
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.Accounts.ChangePassword(r.Context(), u, in.Old, in.New); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	if _, err := r.Cookie(sessionCookie); err != nil {
		w.WriteHeader(http.StatusNoContent) // a machine's token: nothing to renew
		return nil
	}
	_, sess, err := s.Accounts.Login(r.Context(), u.Username, in.New, clientAddr(r))
	if err != nil {
		// Changed, but not signed in again (throttled, busy): sign in anew.
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]any{"csrf": sess.CSRF, "expires": sess.Expires})
	return nil
}

// idAndBody reads the {id} of the path and the JSON body.
func idAndBody(r *http.Request, v any) (int64, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, err
	}
	return id, decode(r, v)
}

func reply(w http.ResponseWriter, v any, err error) error {
	return replyStatus(w, http.StatusOK, v, err)
}

func replyStatus(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// decodeOptional reads a JSON body that may be empty.
func decodeOptional(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("request body: %v: %w", err, risk.ErrInvalid)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !isJSON(r) {
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v: %w", err, risk.ErrInvalid)
	}
	return nil
}
