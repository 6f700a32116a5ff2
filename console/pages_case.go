package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
)

type inboxData struct {
	Rows  []inboxRow
	Desks []desk.Desk
	Desk  string
	Mine  bool
}

type inboxRow struct {
	desk.Case
	DeskName string
	Badges   []badge
	urgency  int
}

// badge is a mark on a case: 将到期, 超期, 黄牌, 红牌.
type badge struct{ Class, Text string }

// dueSoon is how close a deadline must be for 将到期. The desks' clock
// counts a working day; the page, without the calendar, a day.
const dueSoon = 24 * time.Hour

// badges are a case's marks and its urgency: red card, yellow card,
// overdue, due soon, in that order.
func badges(k desk.Case, now time.Time) ([]badge, int) {
	var out []badge
	urgency := 0
	switch k.Card {
	case "red":
		out, urgency = append(out, badge{"b-red", "红牌"}), 4
	case "yellow":
		out, urgency = append(out, badge{"b-yellow", "黄牌"}), 3
	}
	if !k.Status.Open() || k.Paused {
		return out, urgency
	}
	switch {
	case now.After(k.DueAt):
		out, urgency = append(out, badge{"b-overdue", "超期"}), max(urgency, 2)
	case k.DueAt.Sub(now) < dueSoon:
		out, urgency = append(out, badge{"b-soon", "将到期"}), max(urgency, 1)
	}
	return out, urgency
}

func (s *Server) casePages() {
	s.page("GET /inbox", func(w http.ResponseWriter, r *http.Request, v visit) error {
		q := r.URL.Query()
		d := inboxData{Desk: q.Get("desk"), Mine: q.Get("mine") == "1"}
		list, err := s.Cases.Cases(r.Context(), v.user, desk.CaseFilter{Status: "open", Desk: d.Desk, Mine: d.Mine, Limit: 500})
		if err != nil {
			return err
		}
		if d.Desks, err = s.Directory.DesksFor(r.Context(), v.user); err != nil {
			return err
		}
		names := map[string]string{}
		for _, x := range d.Desks {
			names[x.ID] = x.Name
		}
		now := time.Now()
		for _, k := range list {
			b, u := badges(k, now)
			d.Rows = append(d.Rows, inboxRow{Case: k, DeskName: names[k.Desk], Badges: b, urgency: u})
		}
		slices.SortStableFunc(d.Rows, func(a, b inboxRow) int {
			if a.urgency != b.urgency {
				return b.urgency - a.urgency
			}
			if ra, rb := a.Level.Rank(), b.Level.Rank(); ra != rb {
				return rb - ra
			}
			return a.DueAt.Compare(b.DueAt)
		})
		return s.show(w, r, v, "inbox", "案件", "inbox", d)
	})
	s.page("GET /cases/{id}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.caseDetail(r, v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "case", "案件", "inbox", d)
	})
	s.page("POST /cases/{id}/act", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, version, err := idVersion(r)
		if err != nil {
			return err
		}
		a := risk.CaseAction(r.PostForm.Get("action"))
		reason := r.PostForm.Get("reason")
		if a == risk.ActEscalate && strings.TrimSpace(reason) == "" {
			redirect(w, r, casePath(id), flash{Text: "上交须写明理由", Bad: true})
			return nil
		}
		k, err := s.Cases.Act(r.Context(), v.user, id, version, a, reason)
		if errors.Is(err, risk.ErrConflict) {
			return s.conflict(w, r, v, version)
		}
		if err != nil {
			return failed(w, r, casePath(id), err)
		}
		redirect(w, r, casePath(id), flash{Text: fmt.Sprintf("已%s，案件现为%s", actionNames[a], k.StatusName)})
		return nil
	})
	s.page("POST /cases/{id}/assign", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, version, err := idVersion(r)
		if err != nil {
			return err
		}
		who := r.PostForm.Get("mediator")
		_, err = s.Cases.Assign(r.Context(), v.user, id, version, who)
		if errors.Is(err, risk.ErrConflict) {
			return s.conflict(w, r, v, version)
		}
		if err != nil {
			return failed(w, r, casePath(id), err)
		}
		redirect(w, r, casePath(id), flash{Text: "已指派给 " + who})
		return nil
	})
	s.page("POST /cases/{id}/clock", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, version, err := idVersion(r)
		if err != nil {
			return err
		}
		var text string
		if r.PostForm.Get("pause") == "1" {
			why := r.PostForm.Get("why")
			if strings.TrimSpace(why) == "" {
				redirect(w, r, casePath(id), flash{Text: "暂停计时须写明等待的事项", Bad: true})
				return nil
			}
			_, err = s.Cases.Pause(r.Context(), v.user, id, version, why)
			text = "已暂停计时"
		} else {
			_, err = s.Cases.Resume(r.Context(), v.user, id, version)
			text = "已恢复计时"
		}
		if errors.Is(err, risk.ErrConflict) {
			return s.conflict(w, r, v, version)
		}
		if err != nil {
			return failed(w, r, casePath(id), err)
		}
		redirect(w, r, casePath(id), flash{Text: text})
		return nil
	})
	s.page("POST /cases/{id}/note", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if _, err := s.Cases.AddNote(r.Context(), v.user, id, r.PostForm.Get("kind"), r.PostForm.Get("body")); err != nil {
			return failed(w, r, casePath(id), err)
		}
		redirect(w, r, casePath(id)+"#notes", flash{Text: "已记录"})
		return nil
	})
	s.page("POST /cases/{id}/outcome", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, version, err := idVersion(r)
		if err != nil {
			return err
		}
		o := desk.Outcome{Agreement: r.PostForm.Get("agreement")}
		if a := strings.TrimSpace(r.PostForm.Get("amount")); a != "" {
			if o.Amount, err = strconv.ParseFloat(a, 64); err != nil || o.Amount < 0 {
				redirect(w, r, casePath(id), flash{Text: "金额须为不小于零的数字", Bad: true})
				return nil
			}
		}
		_, err = s.Cases.SetOutcome(r.Context(), v.user, id, version, o)
		if errors.Is(err, risk.ErrConflict) {
			return s.conflict(w, r, v, version)
		}
		if err != nil {
			return failed(w, r, casePath(id), err)
		}
		redirect(w, r, casePath(id), flash{Text: "已登记调解结果"})
		return nil
	})
	// A reveal answers with the page itself, the contact in it: a contact
	// never travels in a redirect, a cookie or a URL. desk audits it.
	s.page("POST /cases/{id}/reveal", func(w http.ResponseWriter, r *http.Request, v visit) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		key := r.PostForm.Get("key")
		c, err := s.Cases.Reveal(r.Context(), v.user, id, key)
		if err != nil {
			return err
		}
		d, err := s.caseDetail(r, v.user)
		if err != nil {
			return err
		}
		d.Revealed = map[string]*desk.Contact{key: &c}
		return s.show(w, r, v, "case", "案件", "inbox", d)
	})
}

func casePath(id int64) string { return "/cases/" + strconv.FormatInt(id, 10) }

func idVersion(r *http.Request) (int64, int, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, 0, err
	}
	version, err := strconv.Atoi(r.PostForm.Get("version"))
	if err != nil {
		return 0, 0, fmt.Errorf("version %q: %w", r.PostForm.Get("version"), risk.ErrInvalid)
	}
	return id, version, nil
}

// actionNames are the case actions as buttons say them.
var actionNames = map[risk.CaseAction]string{
	risk.ActAccept: "受理", risk.ActStart: "开始调解", risk.ActSettle: "调解成功", risk.ActTerminate: "调解终止",
	risk.ActRefer: "诉调对接", risk.ActEscalate: "上交", risk.ActReopen: "重新受理",
}

var noteKinds = []struct{ ID, Name string }{{"note", "备注"}, {"contact", "联系记录"}, {"progress", "进展"}}

func noteKindName(k string) string {
	for _, x := range noteKinds {
		if x.ID == k {
			return x.Name
		}
	}
	return k
}

type caseData struct {
	Case      desk.Case
	DeskName  string
	Badges    []badge
	Actions   []caseAction
	Escalate  bool // 上交 is a move the status allows
	NoteKinds []struct{ ID, Name string }
	Revealed  map[string]*desk.Contact
	CanReveal bool
	Members   []string // the desk's mediators, when the visitor may assign the case
	CanPause  bool     // the clock may be paused or resumed by the visitor
	Conflict  *conflictData
}

type caseAction struct {
	Action risk.CaseAction
	Name   string
}

// conflictData is what changed a case since the version a person worked
// from: the case as it is now is the page, these the latest entries.
type conflictData struct {
	Yours   int
	Entries []desk.AuditEntry
}

func (s *Server) caseDetail(r *http.Request, u desk.User) (caseData, error) {
	id, err := pathID(r)
	if err != nil {
		return caseData{}, err
	}
	k, err := s.Cases.Case(r.Context(), u, id)
	if err != nil {
		return caseData{}, err
	}
	d := caseData{Case: k, NoteKinds: noteKinds, CanReveal: u.Role == desk.RoleMediator && k.Mediator == u.Username} // as desk.Cases.Reveal allows
	d.Badges, _ = badges(k, time.Now())
	for _, a := range risk.CaseActions() {
		if _, err := k.Status.Apply(a); err != nil {
			continue
		}
		if a == risk.ActEscalate {
			d.Escalate = true
			continue
		}
		d.Actions = append(d.Actions, caseAction{a, actionNames[a]})
	}
	// Who may pause is who may mediate (desk.Cases.Pause): offered when start is.
	d.CanPause = k.Status.Open() && s.Cases.CanPause() && u.Role != desk.RoleLeader
	if desks, err := s.Directory.DesksFor(r.Context(), u); err == nil {
		for _, x := range desks {
			if x.ID != k.Desk {
				continue
			}
			d.DeskName = x.Name
			// Reviewers hand cases out; a desk's heads assign within it (desk.Cases.Assign).
			if k.Status.Open() && (u.Role == desk.RoleReviewer || u.Role == desk.RoleAdmin || slices.Contains(x.Heads, u.Username)) {
				d.Members = x.Members
			}
		}
	}
	return d, nil
}

// conflict shows the case as it is now, with what changed since the
// version the person worked from, instead of overwriting it.
func (s *Server) conflict(w http.ResponseWriter, r *http.Request, v visit, yours int) error {
	d, err := s.caseDetail(r, v.user)
	if err != nil {
		return err
	}
	c := &conflictData{Yours: yours}
	if entries, err := s.Audit.Entries(r.Context(), v.user, desk.AuditFilter{Case: d.Case.ID, Limit: 5}); err == nil {
		c.Entries = entries
	}
	d.Conflict = c
	s.render(w, r, http.StatusConflict, "case", view{Title: "案件", Nav: "inbox", User: &v.user, CSRF: v.csrf, Data: d})
	return nil
}

// auditNames are the audit log's actions in Chinese, for the conflict
// notice; others show their code.
var auditNames = map[string]string{
	"case.create": "立案", "case.accept": "受理", "case.start": "开始调解", "case.settle": "调解成功", "case.terminate": "调解终止",
	"case.refer": "诉调对接", "case.escalate": "上交", "case.reopen": "重新受理", "case.assign": "指派", "case.note": "记录",
	"case.pause": "暂停计时", "case.resume": "恢复计时", "case.card": "督办", "case.evidence": "新证据", "party.reveal": "查看联系方式",
	"alert.confirm": "确认预警", "alert.merge": "并案", "case.outcome": "登记结果", "case.due_soon": "将到期提醒",
	"alert.route": "分派", "alert.dismiss": "排除", "alert.join": "并入在办案件", "alert.withdraw": "撤回（证据已删除）",
}

func auditName(a string) string {
	if n, ok := auditNames[a]; ok {
		return n
	}
	return a
}
