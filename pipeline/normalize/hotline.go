package normalize

import (
	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"

	risk "riskwatch"
)

// hotlineFields are the fields of a work order (contracts/hotline.md),
// collected in one pass over the object.
type hotlineFields struct {
	caseNo, version, updateTime, callTime, channel, contactUser, contactTel, callerIDNo,
	appealType, catalog, title, content, address, regionCode, urgency, handleUnit, deadline,
	status, finishTime, reply, satisfaction, resolved, involvedCount, involvedAmount *fastjson.Value
}

func (f *hotlineFields) set(k []byte, v *fastjson.Value) {
	switch string(k) {
	case "caseNo":
		f.caseNo = v
	case "version":
		f.version = v
	case "updateTime":
		f.updateTime = v
	case "callTime":
		f.callTime = v
	case "channel":
		f.channel = v
	case "contactUser":
		f.contactUser = v
	case "contactTel":
		f.contactTel = v
	case "callerIdNo":
		f.callerIDNo = v
	case "appealType":
		f.appealType = v
	case "catalog":
		f.catalog = v
	case "title":
		f.title = v
	case "content":
		f.content = v
	case "address":
		f.address = v
	case "regionCode":
		f.regionCode = v
	case "urgency":
		f.urgency = v
	case "handleUnit":
		f.handleUnit = v
	case "deadline":
		f.deadline = v
	case "status":
		f.status = v
	case "finishTime":
		f.finishTime = v
	case "reply":
		f.reply = v
	case "satisfaction":
		f.satisfaction = v
	case "resolved":
		f.resolved = v
	case "involvedCount":
		f.involvedCount = v
	case "involvedAmount":
		f.involvedAmount = v
	}
}

// hotlineStatuses maps the work-order life cycle to the unified status.
var hotlineStatuses = map[string]risk.Status{
	"受理": risk.StatusOpen,
	"派单": risk.StatusInProgress, "签收": risk.StatusInProgress, "办理中": risk.StatusInProgress,
	"退单": risk.StatusInProgress, "延期": risk.StatusInProgress,
	"办结": risk.StatusFinished, "回访": risk.StatusFinished, "归档": risk.StatusFinished,
	"重办": risk.StatusReopened,
}

var (
	hotlineStatusWords = internKeys(hotlineStatuses)
	appealTypes        = internSet("咨询", "求助", "投诉", "举报", "建议", "意见", "表扬")
	hotlineChannels    = internSet("电话", "网站", "微信", "App", "领导信箱", "转办")
	hotlineUrgency     = map[string]uint8{"一般": 1, "普通": 1, "紧急": 2, "特急": 3}
	// Satisfaction on the petition scale, 1 very satisfied … 5 very dissatisfied.
	satisfactionWords = map[string]uint8{"非常满意": 1, "很满意": 1, "满意": 2, "基本满意": 3, "不满意": 4, "非常不满意": 5, "很不满意": 5}
)

// Hotline decodes a 12345 hotline work order (topic hotline.workorders). It
// is a Decoder.
func (n *Normalizer) Hotline(m kafka.Message) (risk.Event, error) {
	st := getState()
	defer st.release()
	r := newRec(risk.SourceHotline, st)
	o, err := r.object(m)
	if err != nil {
		return risk.Event{}, err
	}
	var f hotlineFields
	o.Visit(f.set)

	ev := &r.ev
	id, err := r.idField("caseNo", f.caseNo)
	if err != nil {
		return risk.Event{}, err
	}
	if ev.UpdatedAt, err = r.mustTime("updateTime", f.updateTime); err != nil {
		return risk.Event{}, err
	}
	if ev.OccurredAt, err = r.mustTime("callTime", f.callTime); err != nil {
		return risk.Event{}, err
	}
	r.setID("caseNo", id, m)
	ev.Version = r.version(f.version)

	address := r.text("address", f.address)
	r.region("regionCode", f.regionCode, address)
	r.keep(fAddress, address)

	catalog := r.text("catalog", f.catalog)
	r.keep(fRawCategory, catalog)
	if len(trimSpace(catalog)) == 0 {
		r.warn("catalog missing; category 其他")
	}
	ev.Category = category(catalog, '/')

	if b := r.code("appealType", f.appealType); len(b) > 0 {
		if !r.keepKnown(fKind, &ev.Kind, appealTypes, b) {
			r.warnf("appealType %s: unknown; kept as sent", quote(b))
		}
	} else {
		r.warn("appealType missing")
	}
	r.keepKnown(fChannel, &ev.Channel, hotlineChannels, r.code("channel", f.channel))

	r.status("status", f.status, hotlineStatuses, hotlineStatusWords)
	if b := r.code("urgency", f.urgency); len(b) > 0 {
		if ev.Urgency = hotlineUrgency[string(b)]; ev.Urgency == 0 {
			r.warnf("urgency %s: unknown; dropped", quote(b))
		}
	}
	r.keep(fHandleUnit, r.code("handleUnit", f.handleUnit))
	ev.Deadline = r.optTime("deadline", f.deadline)
	ev.FinishedAt = r.optTime("finishTime", f.finishTime)

	if b := r.code("satisfaction", f.satisfaction); len(b) > 0 {
		if ev.Satisfaction = satisfactionWords[string(b)]; ev.Satisfaction == 0 {
			r.warnf("satisfaction %s: unknown; dropped", quote(b))
		}
	}
	resolved := r.code("resolved", f.resolved)
	switch string(resolved) {
	case "", "已解决", "部分解决":
	case "未解决":
		ev.AnswerRejected = true
	default:
		r.warnf("resolved %s: unknown; dropped", quote(resolved))
	}
	ev.AnswerRejected = ev.AnswerRejected || ev.Satisfaction >= 4 || ev.RawStatus == "重办"

	ev.HeadCount = r.count("involvedCount", f.involvedCount)
	ev.Amount = r.amount("involvedAmount", f.involvedAmount)

	// The caller is always there, if only as an anonymous one.
	ev.Persons = make([]risk.Person, 0, 1)
	at := where{name: "contactUser", phone: "contactTel", idNumber: "callerIdNo"}
	n.addPerson(&r, "caller", at,
		r.personal(at, at.name, f.contactUser), r.personal(at, at.phone, f.contactTel), r.personal(at, at.idNumber, f.callerIDNo))

	title, content := r.text("title", f.title), r.text("content", f.content)
	if len(trimSpace(content)) == 0 {
		r.warn("content missing")
	}
	ev.Tags = tags(catalog, title, content)
	r.keepText(fTitle, title)
	r.keepText(fText, content)
	r.keepText(fReply, r.text("reply", f.reply))
	return r.finish()
}
