package normalize

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// testSecret is a fixed key for tests only.
var testSecret = []byte("riskwatch-test-secret-0123456789abcdef")

func testProtector(tb testing.TB) *Protector {
	tb.Helper()
	p, err := NewProtector(testSecret)
	if err != nil {
		tb.Fatalf("NewProtector: %v", err)
	}
	return p
}

// examplesDir is the contract examples, beside the checkout in CI too.
const examplesDir = "../../../shared/contracts/examples"

// exampleLines returns the lines of examples/<feed>.jsonl, numbered from 1
// as in an editor.
func exampleLines(tb testing.TB, feed string) map[int][]byte {
	tb.Helper()
	path := filepath.Join(examplesDir, feed+".jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read contract examples: %v (the shared/contracts folder must sit beside the checkout: /work/shared next to /work/main)", err)
	}
	lines := make(map[int][]byte)
	for i, l := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		lines[i+1] = l
	}
	return lines
}

// decoders returns the decoder of each feed.
func decoders(n *Normalizer) map[string]Decoder {
	return map[string]Decoder{"hotline": n.Hotline, "petition": n.Petition, "grid": n.Grid}
}

func msg(value []byte) kafka.Message { return kafka.Message{Value: value} }

func utc(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatalf("bad test time %q: %v", s, err)
	}
	return t
}

// eventStrings returns every string of an event a user or a log may see:
// all fields, tags, warnings and persons, but not the sealed boxes.
func eventStrings(ev risk.Event) map[string]string {
	s := map[string]string{
		"ID": ev.ID, "GridCode": ev.GridCode, "Region": ev.Region.Code, "Category": ev.Category,
		"RawCategory": ev.RawCategory, "Kind": ev.Kind, "Status": string(ev.Status), "RawStatus": ev.RawStatus,
		"Channel": ev.Channel, "HandleUnit": ev.HandleUnit, "RegisterOrg": ev.RegisterOrg,
		"RegisterLevel": ev.RegisterLevel, "Title": ev.Title, "Text": ev.Text, "Reply": ev.Reply,
		"Address": ev.Address,
	}
	for i, t := range ev.Tags {
		s["Tags"+string(rune('0'+i))] = t
	}
	for i, w := range ev.Warnings {
		s["Warnings["+string(rune('0'+i%10))+"]"] += w + "\n"
	}
	for i, p := range ev.Persons {
		k := "Persons[" + string(rune('0'+i%10)) + "]."
		s[k+"Role"] += p.Role
		s[k+"Name"] += p.Name
		s[k+"Phone"] += p.Phone
		s[k+"PhoneKey"] += p.PhoneKey
		s[k+"IDKey"] += p.IDKey
	}
	return s
}

// withoutSeals returns ev with the sealed boxes cleared: they differ on every
// decode (random nonces).
func withoutSeals(ev risk.Event) risk.Event {
	ps := make([]risk.Person, len(ev.Persons))
	for i, p := range ev.Persons {
		p.Sealed = ""
		ps[i] = p
	}
	ev.Persons = ps
	return ev
}
