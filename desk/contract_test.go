package desk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	risk "riskwatch"
	"riskwatch/desk"
)

// The published contracts (deploy/contracts/) cannot drift from the code:
// their examples are what the desks queue for a fixed alert, their field
// tables name exactly the payloads' fields, and the cases contract lists
// every event type the desks publish.
func TestPublishedContracts(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	w := risk.Window{Start: at("2020-03-02 08:00"), End: at("2020-03-02 09:00")}
	alert := risk.Alert{
		Labels:   risk.Labels{"detector": "hotline_surge", "region": "330681109", "category": "劳资纠纷"},
		Window:   w,
		Level:    risk.LevelOrange,
		Summary:  "枫桥镇劳资纠纷来电激增：1小时内7件，平时约1.2件",
		Numbers:  map[string]float64{"observed": 7, "expected": 1.2, "p_value": 0.0004},
		Evidence: []risk.Evidence{{Source: risk.SourceHotline, ID: "ZJSX12345-20200302-00017"}, {Source: risk.SourceHotline, ID: "ZJSX12345-20200302-00021"}},
		Seen:     at("2020-03-02 08:52"),
	}
	if _, err := f.Review.Record(ctx, []risk.Alert{alert}); err != nil {
		t.Fatal(err)
	}
	if err := f.Review.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic string
		typ   any
	}{{desk.TopicAlerts, desk.AlertEvent{}}, {desk.TopicCases, desk.Event{}}} {
		doc, err := os.ReadFile(filepath.Join("..", "deploy", "contracts", c.topic+".md"))
		if err != nil {
			t.Fatal(err)
		}
		queued := f.queued(t, c.topic)
		if len(queued) == 0 {
			t.Fatalf("nothing queued for %s", c.topic)
		}
		example := jsonBlock(t, doc)
		if canonical(example) != canonical([]byte(queued[0])) {
			t.Errorf("%s: the contract's example is not what the code publishes for it:\n doc: %s\ncode: %s", c.topic, canonical(example), canonical([]byte(queued[0])))
		}
		// The example decodes into the payload's type without a field
		// the type lacks.
		dec := json.NewDecoder(bytes.NewReader(example))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(reflect.TypeOf(c.typ)).Interface()); err != nil {
			t.Errorf("%s: example: %v", c.topic, err)
		}
		if got, want := tableFields(doc), jsonFields(reflect.TypeOf(c.typ)); !slices.Equal(got, want) {
			t.Errorf("%s: the contract's field table names %v, the payload has %v", c.topic, got, want)
		}
		if !strings.Contains(string(doc), "`"+desk.HeaderContractVersion+": "+desk.ContractVersion+"`") {
			t.Errorf("%s: the contract does not give its version %s", c.topic, desk.ContractVersion)
		}
	}

	doc, err := os.ReadFile(filepath.Join("..", "deploy", "contracts", desk.TopicCases+".md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range publishedTypes(t) {
		if !strings.Contains(string(doc), "`"+typ+"`") {
			t.Errorf("event type %s is published but not in the cases contract", typ)
		}
	}
}

// jsonBlock is the first ```json block of a document.
func jsonBlock(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no ```json example")
	}
	return m[1]
}

// tableFields are the field names in the first column of the document's
// field table: | `name` | …
func tableFields(doc []byte) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllSubmatch(doc, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return out
}

// jsonFields are the JSON names of a struct's fields.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// publishedTypes are the event types the desks' code publishes: the
// literal ones, and case.<action> for each action that only moves a case
// at its desk (an escalation is case.escalated).
func publishedTypes(t *testing.T) []string {
	t.Helper()
	types := map[string]bool{}
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`Event\{Type: "([a-z_.]+)",`).FindAllSubmatch(src, -1) {
			types[string(m[1])] = true
		}
	}
	src, err := os.ReadFile(filepath.Join("..", "case.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`Act\w+ +CaseAction = "(\w+)"`).FindAllSubmatch(src, -1) {
		if a := risk.CaseAction(m[1]); a != risk.ActEscalate {
			types["case."+string(a)] = true
		}
	}
	if len(types) < 10 {
		t.Fatalf("found only %v in the code", types)
	}
	var out []string
	for typ := range types {
		out = append(out, typ)
	}
	slices.Sort(out)
	return out
}
