// Package normalize turns one Kafka message of an upstream feed (hotline work
// orders, petitions, grid events; see shared/contracts) into one risk.Event
// version. Its decoders are pure functions of the message: no I/O, no clock,
// safe for concurrent use, and table-tested on the contract examples.
//
// A message that cannot become an event (no id, no time to order its
// versions, not a JSON object, not decodable text) gives an error wrapping
// risk.ErrInvalid, which the pipeline quarantines with the error text as the
// reason. A message with a bad field that is not essential still becomes an
// event: the field is left empty (or -1 for counts) and Event.Warnings says
// what was dropped or guessed.
//
// Personal data never leaves this package in clear: names and phone numbers
// are masked for display, phone and ID numbers become keyed hashes that link
// a person across feeds, the clear values are sealed for the few who may
// contact the person, and numbers dictated into free text are masked. Errors
// and warnings name the bad field but never quote a personal value.
package normalize

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"
	"golang.org/x/text/encoding/simplifiedchinese"

	risk "riskwatch"
	"riskwatch/pipeline/subject"
)

// Decoder turns one message of a feed into one event version. It is pure and
// safe for concurrent use. An error always wraps risk.ErrInvalid: the caller
// quarantines the message with the error text as the reason and never
// retries it. A partially valid record returns a nil error and the Event with
// the bad field empty and a line in Event.Warnings.
type Decoder func(kafka.Message) (risk.Event, error)

// Normalizer holds what the decoders share: the Protector for personal
// data. Its methods Hotline, Petition and Grid are Decoders.
type Normalizer struct {
	p *Protector
}

// New returns a Normalizer that protects personal data with p, which must
// not be nil: without it persons could not be linked or sealed.
func New(p *Protector) *Normalizer {
	if p == nil {
		panic("normalize.New: nil Protector")
	}
	return &Normalizer{p: p}
}

// maxPersons bounds the persons kept from one record: a petition signed by
// hundreds still counts them all in PetitionerCount and Collective.
const maxPersons = 100

// maxNamesMasked bounds the names of a record's persons masked in its text.
const maxNamesMasked = 16

// state is the reusable memory of one decode: the JSON parser, whose buffer
// holds the strings of the message, and the buffers the event is built in.
// It goes back to the pool when the decode returns, so nothing in the
// returned Event may point into it.
type state struct {
	parser fastjson.Parser
	out    []byte   // the event's strings, end to end; copied once into one string by finish
	refs   []strRef // which field each stretch of out becomes
	tmp    []byte   // scratch: seal plaintext and ciphertext
	names  [][]byte // clear names of the record's persons, in the parser's buffer: masked in its text too
}

var states = sync.Pool{New: func() any { return new(state) }}

// maxPooled keeps one huge message from pinning its buffers in the pool.
const maxPooled = 1 << 20

func getState() *state { return states.Get().(*state) }

func (st *state) release() {
	if cap(st.out) > maxPooled || cap(st.tmp) > maxPooled {
		st.out, st.tmp = nil, nil
	}
	clear(st.names) // they point into the parser's buffer
	st.out, st.refs, st.tmp, st.names = st.out[:0], st.refs[:0], st.tmp[:0], st.names[:0]
	states.Put(st)
}

// strField names a string field of the event, or of one of its persons.
// The fields from fRawCategory to fAddress are as sent, and get the names
// of the record's persons masked.
type strField uint8

const (
	fID strField = iota
	fGridCode
	fRegion // parsed by finish into Event.Region
	fRawCategory
	fKind
	fRawStatus
	fChannel
	fHandleUnit
	fRegisterOrg
	fTitle
	fText
	fReply
	fAddress
	fPersonName
	fPersonPhone
	fPersonPhoneKey
	fPersonIDKey
	fPersonSealed
)

// strRef is a stretch of state.out that becomes a field.
type strRef struct {
	field      strField
	person     int32
	start, end int32
}

// rec is the state of decoding one message: the event being built, and
// what finish needs to complete it.
type rec struct {
	feed string // hotline, petition or grid: the prefix of errors
	ev   risk.Event
	st   *state

	regionField   string // the field the region code came from; "" for grid events
	regionCode    []byte
	regionAddress []byte
	gridRegion    bool // the region is the first 12 digits of GridCode
}

func newRec(src risk.Source, st *state) rec {
	return rec{feed: string(src), st: st, ev: risk.Event{Source: src, HeadCount: -1, PetitionerCount: -1, Amount: -1}}
}

func (r *rec) warn(s string) { r.ev.Warnings = append(r.ev.Warnings, s) }

func (r *rec) warnf(format string, args ...any) {
	r.ev.Warnings = append(r.ev.Warnings, fmt.Sprintf(format, args...))
}

// invalid returns the error that quarantines the message.
func (r *rec) invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", r.feed, fmt.Sprintf(format, args...), risk.ErrInvalid)
}

// keep copies b into the event's string block as field f. Personal numbers
// are masked in every field but the record's identity (its id and grid
// code): a phone number sent as a status or in an address is still a phone
// number.
func (r *rec) keep(f strField, b []byte) {
	if len(b) == 0 {
		return
	}
	start := len(r.st.out)
	if f == fID || f == fGridCode {
		r.st.out = append(r.st.out, b...)
	} else {
		r.appendMasked(b)
	}
	r.ref(f, -1, start)
}

// appendMasked appends b to the string block with personal numbers masked.
func (r *rec) appendMasked(b []byte) {
	if out, masked := maskNumbers(r.st.out, b); masked {
		r.st.out = out
	} else {
		r.st.out = append(r.st.out, b...)
	}
}

// ref records that out[start:] is field f.
func (r *rec) ref(f strField, p, start int) {
	if len(r.st.out) > start {
		r.st.refs = append(r.st.refs, strRef{field: f, person: int32(p), start: int32(start), end: int32(len(r.st.out))})
	}
}

// keepKnown sets a field that takes a few known words to the canonical copy
// of b, so that it costs nothing; an unknown word is copied and reported.
func (r *rec) keepKnown(f strField, dst *string, known map[string]string, b []byte) bool {
	if s, ok := known[string(b)]; ok {
		*dst = s
		return true
	}
	r.keep(f, b)
	return false
}

// keepText copies free text as field f, the parts joined by line breaks,
// with personal numbers masked (and, by finish, the names of the record's
// persons).
func (r *rec) keepText(f strField, parts ...[]byte) {
	start := len(r.st.out)
	for _, p := range parts {
		if len(trimSpace(p)) == 0 {
			continue
		}
		if len(r.st.out) > start {
			r.st.out = append(r.st.out, '\n')
		}
		r.appendMasked(p)
	}
	r.ref(f, -1, start)
}

// finish makes the event's strings, all in one allocation, and its region.
func (r *rec) finish() (risk.Event, error) {
	var all string
	if len(r.st.out) > 0 {
		all = string(r.st.out)
	}
	ev := &r.ev
	region := ""
	for _, x := range r.st.refs {
		s := all[x.start:x.end]
		if x.field >= fRawCategory && x.field <= fAddress {
			s = r.maskNames(s)
		}
		var p *risk.Person
		if x.person >= 0 {
			p = &ev.Persons[x.person]
		}
		switch x.field {
		case fID:
			ev.ID = s
		case fGridCode:
			ev.GridCode = s
		case fRegion:
			region = s
		case fRawCategory:
			ev.RawCategory = s
		case fKind:
			ev.Kind = s
		case fRawStatus:
			ev.RawStatus = s
		case fChannel:
			ev.Channel = s
		case fHandleUnit:
			ev.HandleUnit = s
		case fRegisterOrg:
			ev.RegisterOrg = s
		case fTitle:
			ev.Title = s
		case fText:
			ev.Text = s
		case fReply:
			ev.Reply = s
		case fAddress:
			ev.Address = s
		case fPersonName:
			p.Name = s
		case fPersonPhone:
			p.Phone = s
		case fPersonPhoneKey:
			p.PhoneKey = s
		case fPersonIDKey:
			p.IDKey = s
		case fPersonSealed:
			p.Sealed = s
		}
	}
	// A value quoted in a warning may be the name of one of the record's
	// persons, sent in the wrong field.
	for i, w := range ev.Warnings {
		ev.Warnings[i] = r.maskNames(w)
	}
	if r.gridRegion {
		// gridCode was checked to be 14 or 15 digits; its first 12 digits
		// are the village.
		reg, err := risk.ParseRegion(ev.GridCode[:12])
		if err != nil {
			return risk.Event{}, r.invalid("gridCode %s: no such province", quote([]byte(ev.GridCode)))
		}
		ev.Region = reg
	} else {
		r.resolveRegion(region)
	}
	// Not the address: it is often where the caller lives, not what the
	// matter is about.
	ev.Subjects = subject.Extract(ev.Region.Township(), ev.Region.Village(), ev.Title, ev.Text)
	return r.ev, nil
}

// maskNames masks in s the names of the record's persons: callers name
// themselves in their content, and petitioners in their facts.
func (r *rec) maskNames(s string) string {
	for _, name := range r.st.names {
		if strings.Contains(s, string(name)) {
			s = strings.ReplaceAll(s, string(name), string(appendMaskName(nil, name)))
		}
	}
	return s
}

// object decodes the message value into a JSON object, which lives in the
// state's parser.
func (r *rec) object(m kafka.Message) (*fastjson.Object, error) {
	body, err := r.payload(m)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimPrefix(body, []byte("\uFEFF")) // a BOM from editors on the legacy gateways
	if len(trimSpace(body)) == 0 {
		return nil, r.invalid("value is empty")
	}
	v, err := r.st.parser.ParseBytes(body)
	if err != nil {
		// fastjson's error quotes the input, which may hold personal data.
		return nil, r.invalid("value is not valid JSON (truncated or malformed)")
	}
	o, err := v.Object()
	if err != nil {
		return nil, r.invalid("value is not a JSON object (%s)", v.Type())
	}
	return o, nil
}

// payload returns the message value as UTF-8, decoding the GBK family by the
// charset header, or without one when the value is not UTF-8 but is clean
// GB18030.
func (r *rec) payload(m kafka.Message) ([]byte, error) {
	v := m.Value
	var cs []byte
	for _, h := range m.Headers {
		if len(h.Key) == len("charset") && bytes.EqualFold([]byte(h.Key), []byte("charset")) {
			cs = trimSpace(h.Value)
		}
	}
	switch {
	case isGBCharset(cs):
		if !ascii(v) && utf8.Valid(v) {
			// GBK text of any length is almost never valid UTF-8: the
			// header is stale and decoding would garble the text.
			r.warnf("charset header %s but the value is UTF-8; read as UTF-8", quote(cs))
			return v, nil
		}
		out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(v)
		if err != nil {
			return nil, r.invalid("value is not %s", quote(cs))
		}
		if bytes.Contains(out, []byte("\uFFFD")) {
			r.warnf("value has bytes that are not %s; replaced by U+FFFD", quote(cs))
		}
		return out, nil
	case len(cs) == 0 || bytes.EqualFold(cs, []byte("utf-8")) || bytes.EqualFold(cs, []byte("utf8")):
		if utf8.Valid(v) {
			return v, nil
		}
		if len(cs) == 0 {
			if out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(v); err == nil && !bytes.Contains(out, []byte("\uFFFD")) {
				r.warn("value is not UTF-8 and has no charset header; decoded as GB18030")
				return out, nil
			}
		}
		return nil, r.invalid("value is not valid UTF-8")
	default:
		if utf8.Valid(v) {
			r.warnf("unknown charset header %s; value read as UTF-8", quote(cs))
			return v, nil
		}
		return nil, r.invalid("value in unsupported charset %s", quote(cs))
	}
}

func isGBCharset(cs []byte) bool {
	for _, name := range [...]string{"gbk", "gb2312", "gb18030", "cp936", "gb-2312", "gb_2312-80", "x-gbk"} {
		if bytes.EqualFold(cs, []byte(name)) {
			return true
		}
	}
	return false
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// setID keeps the record id and warns when the Kafka key names another
// record: the body's id is kept, the key only spreads messages over
// partitions.
func (r *rec) setID(field string, id []byte, m kafka.Message) {
	r.keep(fID, id)
	if k := trimSpace(m.Key); len(k) > 0 && !bytes.Equal(k, id) {
		r.warnf("kafka key %s differs from %s; kept %s", quote(k), field, field)
	}
}

// region notes the division code and the address the region will be
// resolved from when the event's strings are made.
func (r *rec) region(field string, code *fastjson.Value, address []byte) {
	r.regionField, r.regionAddress = field, address
	c := r.code(field, code)
	if len(c) == 0 {
		return
	}
	r.regionCode = c
	// Pad 6 and 9 digits to the 12 that ParseRegion would make, so that the
	// Region shares the event's string block.
	start := len(r.st.out)
	r.st.out = append(r.st.out, c...)
	if (len(c) == 6 || len(c) == 9) && isDigits(c) {
		r.st.out = append(r.st.out, "000000"[:12-len(c)]...)
	}
	r.ref(fRegion, -1, start)
}

// resolveRegion sets the region from the division code or, failing that,
// from the gazetteer names in the address.
func (r *rec) resolveRegion(code string) {
	if code != "" {
		reg, err := risk.ParseRegion(code)
		if err == nil {
			r.ev.Region = reg
			return
		}
		r.warnf("%s %s: not a 6, 9 or 12-digit region code", r.regionField, quote(r.regionCode))
	}
	if reg, ok := regionFromAddress(r.regionAddress); ok {
		r.ev.Region = reg
		r.warn("region inferred from address")
		return
	}
	if code == "" {
		r.warnf("%s missing and no known place in the address; region unknown", r.regionField)
	} else {
		r.warn("no known place in the address; region unknown")
	}
}

// where names the fields of one person in warnings: a top-level field
// (contactTel) or an element of a list (petitioners[1].phone).
type where struct {
	list                  string
	i                     int
	name, phone, idNumber string
}

func (w where) field(f string) string {
	if w.list == "" {
		return f
	}
	return fmt.Sprintf("%s[%d].%s", w.list, w.i, f)
}

// personal reads a personal field of a person: a string, or a number
// written without quotes (a phone or an ID number), by its digits as sent,
// since an 18-digit ID does not survive a float64. The bytes may live in the
// parser's buffer. A warning names the field only.
func (r *rec) personal(at where, field string, v *fastjson.Value) []byte {
	if absent(v) {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return v.GetStringBytes()
	case fastjson.TypeNumber:
		if b := v.MarshalTo(nil); isDigits(b) {
			return b
		}
	}
	r.warnf("%s is a JSON %s, want a string; dropped", at.field(field), v.Type())
	return nil
}

// persons adds the persons of a list field (petitioners, parties), the
// first being the main one, and returns how many were listed.
func (n *Normalizer) persons(r *rec, field, role string, v *fastjson.Value) int {
	if absent(v) {
		return 0
	}
	list, err := v.Array()
	if err != nil {
		r.warnf("%s is a JSON %s, want an array; dropped", field, v.Type())
		return 0
	}
	if len(list) > 0 {
		r.ev.Persons = make([]risk.Person, 0, min(len(list), maxPersons))
	}
	for i, e := range list {
		if i == maxPersons {
			r.warnf("%s: kept the first %d of %d", field, maxPersons, len(list))
			break
		}
		at := where{list: field, i: i, name: "name", phone: "phone", idNumber: "idNo"}
		o, err := e.Object()
		if err != nil {
			r.warnf("%s[%d] is a JSON %s, want an object; dropped", field, i, e.Type())
			continue
		}
		var name, phone, id *fastjson.Value
		o.Visit(func(k []byte, v *fastjson.Value) {
			switch string(k) {
			case "name":
				name = v
			case "phone":
				phone = v
			case "idNo":
				id = v
			}
		})
		n.addPerson(r, role, at, r.personal(at, at.name, name), r.personal(at, at.phone, phone), r.personal(at, at.idNumber, id))
	}
	return len(list)
}

// addPerson adds a Person built from clear values in the parser's buffer:
// masked name and phone, keyed hashes of the normalised numbers, and the
// clear values sealed. Warnings name the field, never the value.
func (n *Normalizer) addPerson(r *rec, role string, at where, name, phone, idNo []byte) {
	name, phone, idNo = trimSpace(name), trimSpace(phone), trimSpace(idNo)
	i := len(r.ev.Persons)
	r.ev.Persons = append(r.ev.Persons, risk.Person{Role: role})
	p := &r.ev.Persons[i]
	st := r.st
	switch classifyName(name) {
	case nameClear:
		start := len(st.out)
		st.out = appendMaskName(st.out, name)
		r.ref(fPersonName, i, start)
		// A one-character or two-letter "name" would mask ordinary words;
		// the bound keeps a petition signed by hundreds linear.
		if utf8.RuneCount(name) >= 2 && len(name) >= 4 && len(st.names) < maxNamesMasked {
			st.names = append(st.names, name)
		}
	case nameMasked:
		start := len(st.out)
		st.out = appendMaskName(st.out, name)
		r.ref(fPersonName, i, start)
		p.Anonymous = true
	case nameAnonymous:
		p.Anonymous = true
		name = nil // nothing personal to seal
	}
	keyed := false
	if len(phone) > 0 {
		var buf [phoneMaxDigits]byte
		if d, ok := normalizePhone(buf[:0], phone); ok {
			start := len(st.out)
			st.out = appendMaskPhone(st.out, d)
			r.ref(fPersonPhone, i, start)
			start = len(st.out)
			st.out = n.p.appendKey(st.out, domainPhone, d)
			r.ref(fPersonPhoneKey, i, start)
			keyed = true
		} else if bytes.IndexByte(phone, '*') >= 0 || bytes.Contains(phone, []byte("＊")) {
			r.warnf("%s: masked upstream; no key", at.field(at.phone))
		} else {
			r.warnf("%s: not a usable phone number; no key", at.field(at.phone))
		}
	}
	if len(idNo) > 0 {
		var id [18]byte
		switch ok, checked := normalizeID(&id, idNo); {
		case !ok:
			r.warnf("%s: not a resident ID number (length or birth date); no key", at.field(at.idNumber))
		case !checked:
			r.warnf("%s: check digit wrong; keyed as written", at.field(at.idNumber))
			fallthrough
		default:
			start := len(st.out)
			st.out = n.p.appendKey(st.out, domainID, id[:])
			r.ref(fPersonIDKey, i, start)
			keyed = true
		}
	}
	if len(name) == 0 && !keyed {
		p.Anonymous = true
	}
	if len(name)+len(phone)+len(idNo) > 0 {
		start := len(st.out)
		st.out = n.p.appendSeal(st.out, &st.tmp, name, phone, idNo)
		r.ref(fPersonSealed, i, start)
	}
}

// maxQuoted bounds a value quoted in a warning or an error.
const maxQuoted = 64

// quote quotes a string value of a field that is not personal, for a
// warning or an error. It is still masked and bounded: a field of the wrong
// kind may hold anything, even a phone number.
func quote(b []byte) string {
	if len(b) > maxQuoted {
		return fmt.Sprintf("(%d bytes)", len(b))
	}
	if out, changed := maskNumbers(nil, b); changed {
		b = out
	}
	return fmt.Sprintf("%q", b)
}

// quoteValue shows a JSON value of a field that is not personal: a string
// quoted, anything else as its JSON text, masked and bounded the same way.
func quoteValue(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeString {
		return quote(v.GetStringBytes())
	}
	b := v.MarshalTo(nil)
	if len(b) > maxQuoted {
		return fmt.Sprintf("(%d bytes of JSON %s)", len(b), v.Type())
	}
	if out, changed := maskNumbers(nil, b); changed {
		b = out
	}
	return string(b)
}

func internSet(words ...string) map[string]string {
	m := make(map[string]string, len(words))
	for _, w := range words {
		m[w] = w
	}
	return m
}

func internKeys[V any](m map[string]V) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = k
	}
	return out
}

// status sets Status and RawStatus from a status word or code; an unknown
// one keeps the record with an empty Status.
func (r *rec) status(field string, v *fastjson.Value, statuses map[string]risk.Status, words map[string]string) {
	b := r.code(field, v)
	if len(b) == 0 {
		r.warnf("%s missing; status unknown", field)
		return
	}
	st, ok := statuses[string(b)]
	r.keepKnown(fRawStatus, &r.ev.RawStatus, words, b)
	if !ok {
		r.warnf("%s %s: unknown; status left empty", field, quote(b))
		return
	}
	r.ev.Status = st
}
