package normalize

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
	"golang.org/x/text/encoding/simplifiedchinese"

	risk "riskwatch"
)

// The fuzz targets feed arbitrary values (and keys, and a charset header)
// to each decoder, seeded with every contract example line and its GBK form.
// Properties: no panic; an error wraps ErrInvalid; an event has an id, UTC
// times that are set, a known status or none, and only valid UTF-8.

func FuzzHotline(f *testing.F) {
	fuzzDecoder(f, "hotline", func(n *Normalizer) Decoder { return n.Hotline })
}
func FuzzPetition(f *testing.F) {
	fuzzDecoder(f, "petition", func(n *Normalizer) Decoder { return n.Petition })
}
func FuzzGrid(f *testing.F) { fuzzDecoder(f, "grid", func(n *Normalizer) Decoder { return n.Grid }) }

func fuzzDecoder(f *testing.F, feed string, dec func(*Normalizer) Decoder) {
	for _, line := range exampleLines(f, feed) {
		f.Add(line, []byte(""), "")
		if gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes(line); err == nil {
			f.Add(gbk, []byte("key"), "GBK")
		}
	}
	f.Add(with(feed, ""), []byte("x"), "utf-8")
	f.Add(with(feed, `"involvedCount":"约8人","petitionerCount":"十二","involvedNum":"8人","lng":"120.1","lat":29,"status":"重办","petitioners":[{"name":"王建国","phone":"+86 138 0571 2345","idNo":"330681830412543"}],"parties":[{"name":"赵**","phone":13805712345}],"content":"电话１３８０５７１２３４５，身份证33068119830412543x","regionCode":"33068","address":"杭州市下城区"`), []byte("x"), "")
	d := dec(New(testProtector(f)))
	f.Fuzz(func(t *testing.T, value, key []byte, charset string) {
		m := kafka.Message{Key: key, Value: value}
		if charset != "" {
			m.Headers = []kafka.Header{{Key: "charset", Value: []byte(charset)}}
		}
		ev, err := d(m)
		if err != nil {
			if !errors.Is(err, risk.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error %q is not valid UTF-8", err)
			}
			return
		}
		checkEvent(t, ev)
	})
}

var statuses = []risk.Status{"", risk.StatusOpen, risk.StatusInProgress, risk.StatusFinished, risk.StatusReopened, risk.StatusDeleted}

// checkEvent checks the guarantees every decoded event keeps.
func checkEvent(t *testing.T, ev risk.Event) {
	t.Helper()
	if ev.ID == "" {
		t.Fatal("event without ID")
	}
	if ev.UpdatedAt.IsZero() || ev.OccurredAt.IsZero() {
		t.Fatalf("UpdatedAt, OccurredAt = %v, %v; want both set", ev.UpdatedAt, ev.OccurredAt)
	}
	for name, tm := range map[string]time.Time{"UpdatedAt": ev.UpdatedAt, "OccurredAt": ev.OccurredAt,
		"AcceptedAt": ev.AcceptedAt, "Deadline": ev.Deadline, "FinishedAt": ev.FinishedAt} {
		if tm.Location() != time.UTC {
			t.Fatalf("%s = %v, not in UTC", name, tm)
		}
	}
	valid := false
	for _, s := range statuses {
		valid = valid || ev.Status == s
	}
	if !valid {
		t.Fatalf("Status %q is not a unified status", ev.Status)
	}
	if ev.Region.Known() && len(ev.Region.Code) != 12 {
		t.Fatalf("Region %q is not 12 digits", ev.Region.Code)
	}
	if ev.Satisfaction > 5 || ev.Urgency > 3 || ev.HeadCount < -1 || ev.PetitionerCount < -1 || (ev.Amount < 0 && ev.Amount != -1) {
		t.Fatalf("out of range: Satisfaction %d, Urgency %d, HeadCount %d, PetitionerCount %d, Amount %v",
			ev.Satisfaction, ev.Urgency, ev.HeadCount, ev.PetitionerCount, ev.Amount)
	}
	if (ev.Lng != 0 || ev.Lat != 0) && (ev.Lng < 73 || ev.Lng > 136 || ev.Lat < 3 || ev.Lat > 54) {
		t.Fatalf("Lng, Lat = %v, %v: outside China", ev.Lng, ev.Lat)
	}
	for field, s := range eventStrings(ev) {
		if !utf8.ValidString(s) {
			t.Fatalf("%s = %q is not valid UTF-8", field, s)
		}
	}
	for i, p := range ev.Persons {
		if !utf8.ValidString(p.Sealed) {
			t.Fatalf("Persons[%d].Sealed is not valid UTF-8", i)
		}
	}
	v := reflect.ValueOf(ev)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && !utf8.ValidString(f.String()) {
			t.Fatalf("%s is not valid UTF-8", v.Type().Field(i).Name)
		}
	}
}

// fuzzFields are the fields FuzzFields writes into a minimal record.
var fuzzFields = []string{
	"caseNo", "petitionNo", "eventId", "version", "updateTime", "callTime", "registerTime", "reportTime",
	"regionCode", "issueRegionCode", "gridCode", "address", "catalog", "contentClass", "bigType", "subType",
	"status", "form", "registerLevel", "urgency", "satisfaction", "resolved", "involvedCount", "involvedNum",
	"petitionerCount", "involvedAmount", "involvedMoney", "groupFlag", "repeatNum", "lng", "lat",
	"contactUser", "contactTel", "callerIdNo", "title", "content", "mainFacts", "mainRequest", "reply", "result",
	"petitioners", "parties", "deadline", "finishTime", "acceptTime", "handleDeadline",
}

// FuzzFields writes one fuzzed value into one field of a valid record of
// each feed, as a JSON string or as raw JSON, so that the fuzzer spends its
// time in the field logic rather than in the JSON parser.
func FuzzFields(f *testing.F) {
	for i := range fuzzFields {
		for _, v := range []string{"", "8人", "二十三", "13805712345", "１３８ ０５７１ ２３４５", "0575-87021234",
			"33068119830412543X", "2020-02-21T09:30:15.5+08:00", "1582248615000", "330681109", "王**", "匿名", "-1", "1e400", "nan"} {
			f.Add(uint8(i), v, true)
		}
	}
	f.Add(uint8(40), `[{"name":"王建国","phone":"138 0571 2345","idNo":"330681830412543"},1,null]`, false)
	f.Add(uint8(29), `120.4312`, false)
	n := New(testProtector(f))
	decs := []Decoder{n.Hotline, n.Petition, n.Grid}
	feeds := []string{"hotline", "petition", "grid"}
	f.Fuzz(func(t *testing.T, field uint8, value string, asString bool) {
		name := fuzzFields[int(field)%len(fuzzFields)]
		raw := value
		if asString {
			b, _ := json.Marshal(value)
			raw = string(b)
		}
		for i, d := range decs {
			ev, err := d(msg(with(feeds[i], strconv.Quote(name)+":"+raw)))
			if err != nil {
				if !errors.Is(err, risk.ErrInvalid) {
					t.Fatalf("%s: error %v does not wrap ErrInvalid", feeds[i], err)
				}
				continue
			}
			checkEvent(t, ev)
		}
	})
}
