package console

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
)

// queueLimit is the most rows the queue shows: beyond, filters narrow it.
const queueLimit = 500

// queueFilter is the queue's filter form, as the URL carries it.
type queueFilter struct {
	Level, Detector, Status, Desk, Region, Category, From, To string
}

func readQueueFilter(q url.Values) queueFilter {
	f := queueFilter{Level: q.Get("level"), Detector: q.Get("detector"), Status: q.Get("status"), Desk: q.Get("desk"),
		Region: strings.TrimSpace(q.Get("region")), Category: strings.TrimSpace(q.Get("category")), From: q.Get("from"), To: q.Get("to")}
	if !q.Has("status") {
		f.Status = "open" // the queue is the work still to do
	}
	if f.Status == "all" {
		f.Status = ""
	}
	return f
}

// query is the filter as a query string, for the rows' endpoint.
func (f queueFilter) query() string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("level", f.Level)
	set("detector", f.Detector)
	v.Set("status", cmp.Or(f.Status, "all"))
	set("desk", f.Desk)
	set("region", f.Region)
	set("category", f.Category)
	set("from", f.From)
	set("to", f.To)
	return v.Encode()
}

// day reads a date of the form (UTC+8); "" is no bound. to is inclusive:
// the bound is the next day's start.
func day(s string, next bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, risk.CST)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD: %w", s, risk.ErrInvalid)
	}
	if next {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

type queueData struct {
	Filter    queueFilter
	Query     string
	Rows      []queueRow
	Counts    []levelCount
	CountsCSV string
	Desks     []desk.Desk
	Detectors []struct{ ID, Name string }
	Levels    []risk.Level
	Statuses  []struct{ ID, Name string }
	Reasons   []struct{ ID, Name string }
	Full      bool // queueLimit rows: there may be more
}

type queueRow struct {
	desk.Alert
	DeskName string
}

type levelCount struct {
	Level risk.Level
	Count int
}

var alertStatuses = []struct{ ID, Name string }{
	{"open", "待审核"}, {"confirmed", "已确认"}, {"dismissed", "已排除"}, {"merged", "已并案"}, {"closed", "已关闭"}, {"withdrawn", "已撤回"}, {"all", "全部"},
}

// dismissReasons are risk.DismissReason's values in Chinese.
var dismissReasons = []struct{ ID, Name string }{
	{string(risk.DismissFalsePositive), "误报"}, {string(risk.DismissHandled), "已处理"}, {string(risk.DismissDuplicate), "重复"},
}

func statusName(s string) string {
	for _, x := range alertStatuses {
		if x.ID == s {
			return x.Name
		}
	}
	for _, x := range dismissReasons {
		if x.ID == s {
			return x.Name
		}
	}
	return s
}

func (s *Server) queuePages() {
	s.page("GET /queue", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.queue(r, v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "queue", "预警队列", "queue", d)
	})
	// The rows alone, for the page's script to swap in every few seconds.
	s.page("GET /queue/rows", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.queue(r, v.user)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return s.pages["queue"].ExecuteTemplate(w, "rows", d)
	})
}

// queue reads the queue through Review.Alerts as u: most severe first,
// newest first within a level (one query per level, until queueLimit).
func (s *Server) queue(r *http.Request, u desk.User) (queueData, error) {
	f := readQueueFilter(r.URL.Query())
	d := queueData{Filter: f, Query: f.query(), Detectors: detectorNames, Levels: levels, Statuses: alertStatuses, Reasons: dismissReasons}
	from, err := day(f.From, false)
	if err != nil {
		return d, err
	}
	to, err := day(f.To, true)
	if err != nil {
		return d, err
	}
	desks, err := s.Directory.DesksFor(r.Context(), u)
	if err != nil {
		return d, err
	}
	d.Desks = desks
	names := map[string]string{}
	for _, x := range desks {
		names[x.ID] = x.Name
	}
	for _, l := range levels {
		if f.Level != "" && f.Level != string(l) {
			continue
		}
		if len(d.Rows) >= queueLimit {
			d.Full = true
			break
		}
		list, next, err := s.Review.Alerts(r.Context(), u, desk.AlertFilter{Status: f.Status, Level: string(l), Detector: f.Detector,
			Desk: f.Desk, Category: f.Category, Region: f.Region, From: from, To: to, Limit: queueLimit - len(d.Rows)})
		if err != nil {
			return d, err
		}
		for _, a := range list {
			d.Rows = append(d.Rows, queueRow{a, names[a.Desk]})
		}
		d.Full = d.Full || next != ""
	}
	open, err := s.Stats.OpenAlerts(r.Context(), u)
	if err != nil {
		return d, err
	}
	var csv []string
	for _, l := range levels {
		d.Counts = append(d.Counts, levelCount{l, open[string(l)]})
		csv = append(csv, fmt.Sprintf("%s=%d", l, open[string(l)]))
	}
	d.CountsCSV = strings.Join(csv, ",")
	return d, nil
}
