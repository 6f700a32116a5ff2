package normalize

import (
	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"

	risk "riskwatch"
)

// petitionFields are the fields of a petition (contracts/petition.md).
type petitionFields struct {
	petitionNo, version, updateTime, registerTime, form, registerOrg, registerLevel,
	petitioners, petitionerCount, involvedCount, involvedAmount, groupFlag, repeatFlag, repeatNum,
	overLevelFlag, contentClass, issueRegionCode, address, mainFacts, mainRequest, status,
	acceptTime, deadline, finishTime, satisfaction *fastjson.Value
}

func (f *petitionFields) set(k []byte, v *fastjson.Value) {
	switch string(k) {
	case "petitionNo":
		f.petitionNo = v
	case "version":
		f.version = v
	case "updateTime":
		f.updateTime = v
	case "registerTime":
		f.registerTime = v
	case "form":
		f.form = v
	case "registerOrg":
		f.registerOrg = v
	case "registerLevel":
		f.registerLevel = v
	case "petitioners":
		f.petitioners = v
	case "petitionerCount":
		f.petitionerCount = v
	case "involvedCount":
		f.involvedCount = v
	case "involvedAmount":
		f.involvedAmount = v
	case "groupFlag":
		f.groupFlag = v
	case "repeatFlag":
		f.repeatFlag = v
	case "repeatNum":
		f.repeatNum = v
	case "overLevelFlag":
		f.overLevelFlag = v
	case "contentClass":
		f.contentClass = v
	case "issueRegionCode":
		f.issueRegionCode = v
	case "address":
		f.address = v
	case "mainFacts":
		f.mainFacts = v
	case "mainRequest":
		f.mainRequest = v
	case "status":
		f.status = v
	case "acceptTime":
		f.acceptTime = v
	case "deadline":
		f.deadline = v
	case "finishTime":
		f.finishTime = v
	case "satisfaction":
		f.satisfaction = v
	}
}

var petitionStatuses = map[string]risk.Status{
	"登记": risk.StatusOpen, "受理": risk.StatusOpen,
	"交办": risk.StatusInProgress, "办理中": risk.StatusInProgress,
	"不予受理": risk.StatusFinished, "答复": risk.StatusFinished, "办结": risk.StatusFinished, "归档": risk.StatusFinished,
	"复查": risk.StatusReopened, "复核": risk.StatusReopened,
}

var (
	petitionStatusWords = internKeys(petitionStatuses)
	// petitionForms are the 信访形式 words and, by code, the same words.
	petitionForms     = internSet("来信", "来访", "网上", "电话", "其他")
	petitionFormCodes = map[string]string{"1": "来信", "2": "来访", "3": "电话", "4": "网上", "5": "其他"}
	// registerLevels maps how offices write their level to the five levels.
	registerLevels = map[string]string{
		"乡镇": "乡镇", "乡镇级": "乡镇", "乡": "乡镇", "镇": "乡镇", "街道": "乡镇",
		"县": "县", "县级": "县", "区": "县", "县区": "县", "县(市、区)": "县", "县（市、区）": "县",
		"市": "市", "市级": "市", "地市": "市", "设区市": "市",
		"省": "省", "省级": "省",
		"国家": "国家", "国家级": "国家", "中央": "国家",
	}
	registerOrgs = internSet("诸暨市信访局", "绍兴市信访局", "浙江省信访局", "国家信访局")
)

// collectiveSize is the upstream rule for a collective petition (集体访):
// five or more petitioners.
const collectiveSize = 5

// Petition decodes a petition (topic petition.cases). It is a Decoder.
func (n *Normalizer) Petition(m kafka.Message) (risk.Event, error) {
	st := getState()
	defer st.release()
	r := newRec(risk.SourcePetition, st)
	o, err := r.object(m)
	if err != nil {
		return risk.Event{}, err
	}
	var f petitionFields
	o.Visit(f.set)

	ev := &r.ev
	id, err := r.idField("petitionNo", f.petitionNo)
	if err != nil {
		return risk.Event{}, err
	}
	if ev.UpdatedAt, err = r.mustTime("updateTime", f.updateTime); err != nil {
		return risk.Event{}, err
	}
	if ev.OccurredAt, err = r.mustTime("registerTime", f.registerTime); err != nil {
		return risk.Event{}, err
	}
	r.setID("petitionNo", id, m)
	ev.Version = r.version(f.version)

	address := r.text("address", f.address) // not in the contract; some offices send it
	r.region("issueRegionCode", f.issueRegionCode, address)
	r.keep(fAddress, address)

	class := r.text("contentClass", f.contentClass)
	r.keep(fRawCategory, class)
	if len(trimSpace(class)) == 0 {
		r.warn("contentClass missing; category 其他")
	}
	ev.Category = category(class, '_')

	r.form(f.form)
	r.status("status", f.status, petitionStatuses, petitionStatusWords)
	r.keepKnown(fRegisterOrg, &ev.RegisterOrg, registerOrgs, r.code("registerOrg", f.registerOrg))
	if b := r.code("registerLevel", f.registerLevel); len(b) > 0 {
		if ev.RegisterLevel = registerLevels[string(b)]; ev.RegisterLevel == "" {
			r.warnf("registerLevel %s: unknown; dropped", quote(b))
		}
	} else {
		r.warn("registerLevel missing")
	}
	ev.AcceptedAt = r.optTime("acceptTime", f.acceptTime)
	ev.Deadline = r.optTime("deadline", f.deadline)
	ev.FinishedAt = r.optTime("finishTime", f.finishTime)

	if word, ok := satisfactionWord(f.satisfaction); ok {
		ev.Satisfaction = word // some offices send the words of the hotline scale
	} else if s, ok := r.integer("satisfaction", f.satisfaction, 1, 5); ok {
		ev.Satisfaction = uint8(s)
	}
	ev.AnswerRejected = ev.Status == risk.StatusReopened || ev.Satisfaction >= 4

	ev.PetitionerCount = r.count("petitionerCount", f.petitionerCount)
	ev.HeadCount = r.count("involvedCount", f.involvedCount)
	ev.Amount = r.amount("involvedAmount", f.involvedAmount)
	ev.Repeat = r.flag("repeatFlag", f.repeatFlag)
	if k, ok := r.integer("repeatNum", f.repeatNum, 0, 1<<16-1); ok {
		ev.RepeatNum = uint16(k)
	}
	ev.SkipLevel = r.flag("overLevelFlag", f.overLevelFlag)

	listed := n.persons(&r, "petitioners", "petitioner", f.petitioners)
	// Upstream sets groupFlag by hand and forgets it: count for ourselves.
	ev.Collective = r.flag("groupFlag", f.groupFlag) || ev.PetitionerCount >= collectiveSize || listed >= collectiveSize

	facts, request := r.text("mainFacts", f.mainFacts), r.text("mainRequest", f.mainRequest)
	if len(trimSpace(facts)) == 0 {
		r.warn("mainFacts missing")
	}
	ev.Tags = tags(class, facts, request)
	r.keepText(fText, facts, request)
	return r.finish()
}

// satisfactionWord reads a satisfaction sent as a word (满意 …).
func satisfactionWord(v *fastjson.Value) (uint8, bool) {
	if absent(v) || v.Type() != fastjson.TypeString {
		return 0, false
	}
	s, ok := satisfactionWords[string(trimSpace(v.GetStringBytes()))]
	return s, ok
}

// form sets Kind and Channel from the 信访形式, a word or its code.
func (r *rec) form(v *fastjson.Value) {
	b := r.code("form", v)
	if len(b) == 0 {
		r.warn("form missing")
		return
	}
	w, ok := petitionForms[string(b)]
	if !ok {
		w, ok = petitionFormCodes[string(b)]
	}
	if !ok {
		r.warnf("form %s: unknown; kept as channel", quote(b))
		r.keep(fChannel, b)
		return
	}
	r.ev.Kind, r.ev.Channel = w, w
}
