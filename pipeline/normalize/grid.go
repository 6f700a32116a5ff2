package normalize

import (
	"math"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"

	risk "riskwatch"
)

// gridFields are the fields of a grid event (contracts/grid.md) that the
// event keeps. gridName, reporterId, reporterName and happenTime have no
// place in risk.Event and are not read.
type gridFields struct {
	eventID, version, updateTime, gridCode, reportTime, bigType, subType, source, content,
	address, lng, lat, involvedNum, involvedMoney, urgency, parties, status, handleDeadline,
	finishTime, result, selfResolved *fastjson.Value
}

func (f *gridFields) set(k []byte, v *fastjson.Value) {
	switch string(k) {
	case "eventId":
		f.eventID = v
	case "version":
		f.version = v
	case "updateTime":
		f.updateTime = v
	case "gridCode":
		f.gridCode = v
	case "reportTime":
		f.reportTime = v
	case "bigType":
		f.bigType = v
	case "subType":
		f.subType = v
	case "source":
		f.source = v
	case "content":
		f.content = v
	case "address":
		f.address = v
	case "lng":
		f.lng = v
	case "lat":
		f.lat = v
	case "involvedNum":
		f.involvedNum = v
	case "involvedMoney":
		f.involvedMoney = v
	case "urgency":
		f.urgency = v
	case "parties":
		f.parties = v
	case "status":
		f.status = v
	case "handleDeadline":
		f.handleDeadline = v
	case "finishTime":
		f.finishTime = v
	case "result":
		f.result = v
	case "selfResolved":
		f.selfResolved = v
	}
}

// gridStatuses maps the status codes and their words.
var gridStatuses = map[string]risk.Status{
	"00": risk.StatusOpen, "受理": risk.StatusOpen,
	"01": risk.StatusInProgress, "上报未分流": risk.StatusInProgress,
	"02": risk.StatusInProgress, "上报已分流": risk.StatusInProgress,
	"05": risk.StatusInProgress, "挂起": risk.StatusInProgress,
	"07": risk.StatusInProgress, "反馈": risk.StatusInProgress,
	"03": risk.StatusFinished, "结案待评": risk.StatusFinished,
	"04": risk.StatusFinished, "结束": risk.StatusFinished,
	"06": risk.StatusDeleted, "已删除": risk.StatusDeleted,
}

var (
	gridStatusWords = internKeys(gridStatuses)
	gridUrgency     = map[string]uint8{"低": 1, "03": 1, "中": 2, "02": 2, "高": 3, "01": 3}
	gridSources     = internSet("巡查发现", "群众反映", "热线转入", "视频感知")
)

// gridKind is the Kind of every grid event.
const gridKind = "网格上报"

// Grid decodes a grid-governance event (topic grid.events). It is a Decoder.
func (n *Normalizer) Grid(m kafka.Message) (risk.Event, error) {
	st := getState()
	defer st.release()
	r := newRec(risk.SourceGrid, st)
	o, err := r.object(m)
	if err != nil {
		return risk.Event{}, err
	}
	var f gridFields
	o.Visit(f.set)

	ev := &r.ev
	id, err := r.idField("eventId", f.eventID)
	if err != nil {
		return risk.Event{}, err
	}
	if ev.UpdatedAt, err = r.mustTime("updateTime", f.updateTime); err != nil {
		return risk.Event{}, err
	}
	if ev.OccurredAt, err = r.mustTime("reportTime", f.reportTime); err != nil {
		return risk.Event{}, err
	}
	if err = r.gridCode(f.gridCode); err != nil {
		return risk.Event{}, err
	}
	r.setID("eventId", id, m)
	ev.Version = r.version(f.version)
	ev.Kind = gridKind

	big, sub := r.code("bigType", f.bigType), r.code("subType", f.subType)
	if len(big) == 0 && len(sub) == 0 {
		r.warn("bigType and subType missing; category 其他")
	}
	start := len(st.out)
	r.appendMasked(big)
	if len(sub) > 0 {
		st.out = append(st.out, '/')
		r.appendMasked(sub)
	}
	r.ref(fRawCategory, -1, start)
	ev.Category = gridCategory(big, sub)
	r.keepKnown(fChannel, &ev.Channel, gridSources, r.code("source", f.source))

	r.status("status", f.status, gridStatuses, gridStatusWords)
	if b := r.code("urgency", f.urgency); len(b) > 0 {
		if ev.Urgency = gridUrgency[string(b)]; ev.Urgency == 0 {
			r.warnf("urgency %s: unknown; dropped", quote(b))
		}
	}
	ev.Deadline = r.optTime("handleDeadline", f.handleDeadline)
	ev.FinishedAt = r.optTime("finishTime", f.finishTime)
	ev.HeadCount = r.count("involvedNum", f.involvedNum)
	ev.Amount = r.amount("involvedMoney", f.involvedMoney)
	ev.SelfResolved = r.flag("selfResolved", f.selfResolved)
	r.keep(fAddress, r.text("address", f.address))
	r.coords(f.lng, f.lat)
	n.persons(&r, "parties", "party", f.parties)

	content := r.text("content", f.content)
	if len(trimSpace(content)) == 0 {
		r.warn("content missing")
	}
	ev.Tags = tags(big, sub, content)
	r.keepText(fText, content)
	r.keepText(fReply, r.text("result", f.result))
	return r.finish()
}

// gridCode keeps GridCode; its first 12 digits become the Region when the
// event is finished. A grid code is essential: without it the event belongs
// to no grid and no village.
func (r *rec) gridCode(v *fastjson.Value) error {
	if absent(v) {
		return r.invalid("gridCode missing")
	}
	b := r.code("gridCode", v)
	if len(b) == 0 {
		return r.invalid("gridCode is empty")
	}
	if (len(b) != 14 && len(b) != 15) || !isDigits(b) {
		return r.invalid("gridCode %s: want a 12-digit village code and a 2-3 digit grid number", quote(b))
	}
	r.keep(fGridCode, b)
	r.gridRegion = true
	return nil
}

// coords sets Lng and Lat when they are a point in China; a missing pair is
// silent, a bad one (0,0 or a fix outside China) is dropped with a warning.
// Values are not quoted: a point may be someone's home.
func (r *rec) coords(lng, lat *fastjson.Value) {
	if absent(lng) && absent(lat) {
		return
	}
	x, okx := coord(lng)
	y, oky := coord(lat)
	switch {
	case !okx || !oky:
		r.warn("lng/lat: not a pair of numbers; dropped")
	case x == 0 && y == 0:
		r.warn("lng/lat: 0,0 is no fix; dropped")
	case x < 73 || x > 136 || y < 3 || y > 54:
		r.warn("lng/lat: outside China; dropped")
	default:
		r.ev.Lng, r.ev.Lat = x, y
	}
}

func coord(v *fastjson.Value) (float64, bool) {
	if absent(v) {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case fastjson.TypeString:
		s := trimSpace(v.GetStringBytes())
		f, _, ok := readNumber(s, true)
		return f, ok && len(s) > 0 && isDecimal(s)
	}
	return 0, false
}
