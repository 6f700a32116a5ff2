package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

type alertData struct {
	Alert     desk.Alert
	DeskName  string
	Figures   []figure
	Words     []string
	Timeline  []timelineEntry
	Contexts  []timelineEntry // the matched words in their records' context
	HaveRecs  bool            // Deps.Records is wired
	History   []timelineEntry
	Related   []desk.Alert
	Cases     []desk.Case
	Desks     []desk.Desk
	Reasons   []struct{ ID, Name string }
	CanReview bool
	Log       []logEntry // what became of the alert, newest first
}

// logEntry is one audit entry about an alert, with its reason.
type logEntry struct {
	desk.AuditEntry
	Reason string
}

// figure is one of Alert.Numbers with its label.
type figure struct {
	Label string
	Value float64
}

// timelineEntry is an evidence or history record on the page; Text is
// cut into segments so that matched words are marked while every part is
// still escaped by the template.
type timelineEntry struct {
	Ref    risk.Evidence
	Record *pipeline.Record
	Text   []segment
}

type segment struct {
	Text string
	Mark bool
}

// numberLabels are the Chinese labels of the figures detectors put in
// Alert.Numbers; an unknown one shows its name.
var numberLabels = map[string]string{
	"observed": "观测值", "expected": "期望值", "baseline": "基线", "ratio": "倍数", "excess": "超出", "p": "显著性 p 值",
	"score": "得分", "z": "z 值", "persons": "涉及人数", "people": "人数", "head_count": "涉及人数", "petitioners": "信访人数",
	"matters": "事项数", "reports": "上报数", "petitions": "信访件数", "channels": "渠道数", "last_week": "上周件数",
	"usual": "通常水平", "matches": "命中词数", "from_rank": "原层级", "to_rank": "现层级", "jump": "跨越层级",
	"hours_late": "超期小时数", "late": "超期天数", "soon": "将到期", "statutory": "法定期限（天）", "rejected_answer": "不满意答复",
	"upstream_flag": "上游越级标记", "trend": "趋势统计量", "test": "检验统计量", "days": "天数", "count": "件数",
}

func (s *Server) alertPages() {
	s.page("GET /alerts/{key}", func(w http.ResponseWriter, r *http.Request, v visit) error {
		d, err := s.alertDetail(r, v.user)
		if err != nil {
			return err
		}
		return s.show(w, r, v, "alert", "预警详情", "queue", d)
	})
	s.page("POST /alerts/{key}/confirm", func(w http.ResponseWriter, r *http.Request, v visit) error {
		key := r.PathValue("key")
		back := cmpLocal(r.PostForm.Get("next"), "/alerts/"+key)
		deskID, note := r.PostForm.Get("desk"), r.PostForm.Get("note")
		if deskID == r.PostForm.Get("routed") {
			deskID = "" // the routed desk, as the rule chose it
		}
		k, err := s.Review.Confirm(r.Context(), v.user, key, deskID, note)
		if err != nil {
			return failed(w, r, back, err)
		}
		msg := fmt.Sprintf("已确认，案件 #%d 已交%s", k.ID, k.Desk)
		// From the queue's keyboard triage, back to the queue; otherwise to
		// the new case.
		if next := r.PostForm.Get("next"); next != "" {
			redirect(w, r, localPath(next), flash{Text: msg})
			return nil
		}
		redirect(w, r, "/cases/"+strconv.FormatInt(k.ID, 10), flash{Text: msg})
		return nil
	})
	s.page("POST /alerts/{key}/dismiss", func(w http.ResponseWriter, r *http.Request, v visit) error {
		key := r.PathValue("key")
		back := cmpLocal(r.PostForm.Get("next"), "/alerts/"+key)
		if _, err := s.Review.Dismiss(r.Context(), v.user, key, risk.DismissReason(r.PostForm.Get("reason")), r.PostForm.Get("note")); err != nil {
			return failed(w, r, back, err)
		}
		redirect(w, r, cmpLocal(r.PostForm.Get("next"), "/queue"), flash{Text: "已排除：" + statusName(r.PostForm.Get("reason"))})
		return nil
	})
	s.page("POST /alerts/{key}/merge", func(w http.ResponseWriter, r *http.Request, v visit) error {
		key := r.PathValue("key")
		id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("case")), "#"), 10, 64)
		if err != nil {
			redirect(w, r, "/alerts/"+key, flash{Text: "请填写案件编号", Bad: true})
			return nil
		}
		k, err := s.Review.Merge(r.Context(), v.user, key, id)
		if err != nil {
			return failed(w, r, "/alerts/"+key, err)
		}
		redirect(w, r, "/cases/"+strconv.FormatInt(k.ID, 10), flash{Text: fmt.Sprintf("已并入案件 #%d", k.ID)})
		return nil
	})
}

// cmpLocal is next when it is a local path, else def.
func cmpLocal(next, def string) string {
	if next == "" {
		return def
	}
	return localPath(next)
}

func (s *Server) alertDetail(r *http.Request, u desk.User) (alertData, error) {
	ctx := r.Context()
	a, err := s.Review.GetAlert(ctx, u, r.PathValue("key"))
	if err != nil {
		return alertData{}, err
	}
	d := alertData{Alert: a, Reasons: dismissReasons, HaveRecs: s.Records != nil, Words: a.Words,
		CanReview: u.Role == desk.RoleReviewer && a.Status == "open"}
	for name, val := range a.Numbers {
		d.Figures = append(d.Figures, figure{cmp.Or(numberLabels[name], name), val})
	}
	sort.Slice(d.Figures, func(i, j int) bool { return d.Figures[i].Label < d.Figures[j].Label })
	if d.Related, d.Cases, err = s.Review.Related(ctx, u, a.Key); err != nil {
		return d, err
	}
	if d.Desks, err = s.Directory.DesksFor(ctx, u); err != nil {
		return d, err
	}
	log, err := s.Audit.Entries(ctx, u, desk.AuditFilter{Alert: a.Key, Limit: 20})
	if err != nil {
		return d, err
	}
	for _, e := range log {
		var detail struct {
			Reason any `json:"reason"`
		}
		json.Unmarshal(e.Detail, &detail)
		reason, _ := detail.Reason.(string) // a route's reason, a dismissal's, a withdrawal's
		d.Log = append(d.Log, logEntry{AuditEntry: e, Reason: statusName(reason)})
	}
	for _, x := range d.Desks {
		if x.ID == a.Desk {
			d.DeskName = x.Name
		}
	}
	if s.Records == nil {
		for _, e := range a.Evidence {
			d.Timeline = append(d.Timeline, timelineEntry{Ref: e})
		}
		return d, nil
	}
	recs, err := s.Records.Records(ctx, a.Evidence)
	if err != nil {
		return d, err
	}
	d.Timeline = entries(recs, a.Words)
	for _, e := range d.Timeline {
		if c := around(e.Text, 30); c != nil && len(d.Contexts) < 10 {
			d.Contexts = append(d.Contexts, timelineEntry{Ref: e.Ref, Text: c})
		}
	}
	hist, err := s.Records.History(ctx, a.Region, a.Person, a.Subject, a.WindowStart, 50)
	if err != nil {
		return d, err
	}
	in := map[risk.Evidence]bool{}
	for _, e := range a.Evidence {
		in[e] = true
	}
	hist = slices.DeleteFunc(hist, func(x pipeline.Record) bool { return in[risk.Evidence{Source: x.Source, ID: x.ID}] })
	d.History = entries(hist, a.Words)
	return d, nil
}

// entries orders records in time and marks the words in their texts.
func entries(recs []pipeline.Record, words []string) []timelineEntry {
	slices.SortStableFunc(recs, func(a, b pipeline.Record) int { return a.OccurredAt.Compare(b.OccurredAt) })
	out := make([]timelineEntry, len(recs))
	for i := range recs {
		out[i] = timelineEntry{Ref: risk.Evidence{Source: recs[i].Source, ID: recs[i].ID}, Record: &recs[i], Text: mark(recs[i].Text, words)}
	}
	return out
}

// mark cuts text into plain and matched segments, longest word first at
// each position.
func mark(text string, words []string) []segment {
	ws := slices.Clone(words)
	ws = slices.DeleteFunc(ws, func(w string) bool { return w == "" })
	if len(ws) == 0 {
		return []segment{{Text: text}}
	}
	slices.SortFunc(ws, func(a, b string) int { return len(b) - len(a) })
	var out []segment
	plain := 0
	for i := 0; i < len(text); {
		hit := ""
		for _, w := range ws {
			if strings.HasPrefix(text[i:], w) {
				hit = w
				break
			}
		}
		if hit == "" {
			i++
			continue
		}
		if plain < i {
			out = append(out, segment{Text: text[plain:i]})
		}
		out = append(out, segment{Text: hit, Mark: true})
		i += len(hit)
		plain = i
	}
	if plain < len(text) {
		out = append(out, segment{Text: text[plain:]})
	}
	return out
}

// around is the first marked segment with up to n characters either side;
// nil when nothing is marked.
func around(segs []segment, n int) []segment {
	for i, sg := range segs {
		if !sg.Mark {
			continue
		}
		out := []segment{sg}
		if i > 0 {
			r := []rune(segs[i-1].Text)
			out = append([]segment{{Text: string(r[max(0, len(r)-n):])}}, out...)
		}
		if i+1 < len(segs) {
			r := []rune(segs[i+1].Text)
			out = append(out, segment{Text: string(r[:min(n, len(r))]), Mark: segs[i+1].Mark})
		}
		return out
	}
	return nil
}
