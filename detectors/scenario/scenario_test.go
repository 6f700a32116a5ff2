package scenario_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/detectors/scenario"
	"riskwatch/detectors/surge"
	"riskwatch/pipeline/normalize"
)

func decoders(t testing.TB) map[risk.Source]func(kafka.Message) (risk.Event, error) {
	t.Helper()
	p, err := normalize.NewProtector(bytes.Repeat([]byte("scenario-test-key-"), 2))
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(p)
	return map[risk.Source]func(kafka.Message) (risk.Event, error){
		risk.SourceHotline: n.Hotline, risk.SourcePetition: n.Petition, risk.SourceGrid: n.Grid,
	}
}

// latest decodes a scenario and keeps the newest version of each record,
// as the events table does.
func latest(t testing.TB, s scenario.Scenario) map[risk.Evidence]risk.Event {
	t.Helper()
	dec := decoders(t)
	out := map[risk.Evidence]risk.Event{}
	for _, src := range risk.Sources {
		for i, m := range s.Messages[src] {
			e, err := dec[src](m)
			bad := slices.Contains(s.Bad[src], i)
			switch {
			case bad && err == nil:
				t.Fatalf("%s message %d is bad on purpose, but decodes: %s", src, i, m.Value)
			case bad && !errors.Is(err, risk.ErrInvalid):
				t.Fatalf("%s message %d: got %v, want an error wrapping ErrInvalid", src, i, err)
			case bad:
				continue
			case err != nil:
				t.Fatalf("%s message %d does not decode: %v\n%s", src, i, err, m.Value)
			}
			if string(m.Key) != e.ID {
				t.Fatalf("%s message %d: key %q, id %q", src, i, m.Key, e.ID)
			}
			k := risk.Evidence{Source: src, ID: e.ID}
			if old, ok := out[k]; !ok || e.Order() >= old.Order() {
				out[k] = e
			}
		}
	}
	return out
}

func small() scenario.Config {
	return scenario.Config{Seed: 7, Weeks: 5, Townships: 2, Scale: 0.5}
}

func TestDeterministic(t *testing.T) {
	a, b := scenario.Generate(small()), scenario.Generate(small())
	for _, src := range risk.Sources {
		if len(a.Messages[src]) != len(b.Messages[src]) {
			t.Fatalf("%s: %d messages, then %d", src, len(a.Messages[src]), len(b.Messages[src]))
		}
		for i := range a.Messages[src] {
			if !bytes.Equal(a.Messages[src][i].Value, b.Messages[src][i].Value) || !bytes.Equal(a.Messages[src][i].Key, b.Messages[src][i].Key) {
				t.Fatalf("%s message %d differs between two runs of one seed", src, i)
			}
		}
	}
	ja, _ := json.Marshal(a.Truth)
	jb, _ := json.Marshal(b.Truth)
	if !bytes.Equal(ja, jb) {
		t.Fatal("the truth differs between two runs of one seed")
	}
	cfg := small()
	cfg.Seed++
	c := scenario.Generate(cfg)
	if bytes.Equal(a.Messages[risk.SourceHotline][0].Value, c.Messages[risk.SourceHotline][0].Value) {
		t.Error("seeds 7 and 8 begin with the same message")
	}
	// The incidents of a seed do not move with the background's scale, but
	// for the rises of trend, planted last: a rise is relative to its
	// background.
	cfg = small()
	cfg.Scale = 0.2
	d := scenario.Generate(cfg)
	for i, in := range a.Truth.Incidents {
		if in.Detector == scenario.Trend {
			continue
		}
		if got := d.Truth.Incidents[i]; got.Kind != in.Kind || !got.KnowableAt.Equal(in.KnowableAt) {
			t.Errorf("incident %s: at scale 0.2 %s at %v, at 0.5 %s at %v", in.ID, got.Kind, got.KnowableAt, in.Kind, in.KnowableAt)
		}
	}
}

// TestDecodes: every message decodes but the bad ones, which are
// quarantined (ErrInvalid), about 0.5% of each feed; the records and the
// truth agree.
func TestDecodes(t *testing.T) {
	s := scenario.Generate(scenario.Config{Seed: 1})
	events := latest(t, s)
	got := scenario.Counts{}
	for k := range events {
		got[k.Source]++
	}
	for _, src := range risk.Sources {
		if got[src] != s.Truth.Records[src] {
			t.Errorf("%s: %d records decode, the truth says %d", src, got[src], s.Truth.Records[src])
		}
		if n, bad := len(s.Messages[src]), len(s.Bad[src]); n != s.Truth.Messages[src] || bad != s.Truth.Bad[src] || bad < 1 || float64(bad) > 0.01*float64(n) {
			t.Errorf("%s: %d messages, %d bad; the truth says %d and %d; want 0.5%%", src, n, bad, s.Truth.Messages[src], s.Truth.Bad[src])
		}
	}
	for _, in := range s.Truth.Incidents {
		for _, r := range in.Records {
			if _, ok := events[r]; !ok {
				t.Errorf("incident %s: record %s/%s is not in the messages", in.ID, r.Source, r.ID)
			}
		}
	}
}

// TestVolume: a county's traffic, busier on weekdays and in the day.
func TestVolume(t *testing.T) {
	s := scenario.Generate(scenario.Config{Seed: 2})
	events := latest(t, s)
	days := s.Truth.To.Sub(s.Truth.From).Hours() / 24
	perDay := map[risk.Source]float64{}
	for src, n := range s.Truth.Background {
		perDay[src] = float64(n) / days
	}
	want := map[risk.Source][2]float64{risk.SourceHotline: {250, 400}, risk.SourceGrid: {30, 60}, risk.SourcePetition: {3, 8}}
	for src, w := range want {
		if perDay[src] < w[0] || perDay[src] > w[1] {
			t.Errorf("%s: %.1f background records a day, want %v–%v", src, perDay[src], w[0], w[1])
		}
	}
	var weekday, weekend, day, night int
	versions := 0
	for _, e := range events {
		if e.Source != risk.SourceHotline {
			continue
		}
		versions += int(e.Version)
		local := e.OccurredAt.In(risk.CST)
		if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
		if h := local.Hour(); h >= 9 && h < 17 {
			day++
		} else if h < 6 {
			night++
		}
	}
	if float64(weekday)/5 < 1.2*float64(weekend)/2 {
		t.Errorf("hotline: %d on weekdays, %d on weekends: want weekdays busier", weekday, weekend)
	}
	if day < 10*night {
		t.Errorf("hotline: %d from 9 to 17, %d from 0 to 6: want the day far busier", day, night)
	}
	if r := float64(s.Truth.Messages[risk.SourceHotline]) / float64(s.Truth.Records[risk.SourceHotline]); r < 3 || r > 8 {
		t.Errorf("hotline: %.1f messages a work order, want 3–8 (a life of versions)", r)
	}
}

// TestIncidents: several incidents of every detector, knowable after the
// four weeks of history, each consistent with its records.
func TestIncidents(t *testing.T) {
	for _, cfg := range []scenario.Config{{Seed: 3}, small()} {
		s := scenario.Generate(cfg)
		events := latest(t, s)
		n := map[string]int{}
		for _, in := range s.Truth.Incidents {
			n[in.Detector]++
			if in.KnowableAt.Before(s.Truth.From.AddDate(0, 0, 28)) || !in.KnowableAt.Before(s.Truth.To) {
				t.Errorf("%s: knowable at %v, want after the first 4 weeks and before %v", in.ID, in.KnowableAt, s.Truth.To)
			}
			if in.Level.Rank() == 0 || len(in.Records) == 0 {
				t.Errorf("%s: level %q, %d records", in.ID, in.Level, len(in.Records))
			}
			if in.Detector == scenario.Trend {
				// A trend is knowable from the moment the published rule
				// holds on the records as the pipeline reads them.
				if !rising(events, in, in.KnowableAt) || rising(events, in, in.KnowableAt.Add(-time.Second)) {
					before, _ := weekly(events, in, in.KnowableAt.Add(-time.Second))
					then, _ := weekly(events, in, in.KnowableAt)
					t.Errorf("%s: the rule first holds at %v? weekly %v before, %v then", in.ID, in.KnowableAt, before, then)
				}
				continue
			}
			// The knowable time is a record's time (for overdue: a
			// record's deadline, a day before it for a reminder).
			found := false
			for _, r := range in.Records {
				e := events[r]
				at := e.OccurredAt
				if in.Detector == scenario.Overdue {
					at = e.Deadline
					if in.Reminder {
						at = at.Add(-24 * time.Hour)
					}
				}
				found = found || at.Equal(in.KnowableAt)
			}
			if !found {
				t.Errorf("%s (%s): knowable at %v is no record's time", in.ID, in.Kind, in.KnowableAt)
			}
			// A trend is matched by its scope: every record is in it.
			for _, r := range in.Records {
				if e := events[r]; in.Category != "" && (e.Category != in.Category || e.Region.Township() != in.Region) {
					t.Errorf("%s: record %s is %s in %s, want %s in %s", in.ID, r.ID, e.Category, e.Region.Township(), in.Category, in.Region)
				}
			}
		}
		for _, d := range scenario.Detectors {
			if n[d] < 2 {
				t.Errorf("seed %d: %d incidents of %s, want several", cfg.Seed, n[d], d)
			}
		}
		// Spot checks of what the detectors' rules read.
		for _, in := range s.Truth.Incidents {
			e := events[in.Records[len(in.Records)-1]]
			switch in.Kind {
			case "national":
				if e.RegisterLevel != "国家" {
					t.Errorf("%s: registered at %q", in.ID, e.RegisterLevel)
				}
			case "petition_unflagged":
				if !e.Collective || e.PetitionerCount < 5 {
					t.Errorf("%s: collective %v with %d petitioners", in.ID, e.Collective, e.PetitionerCount)
				}
			case "hotline_late", "hotline_extended", "grid_late", "petition_late", "due_soon":
				if e.Status == risk.StatusFinished || e.Deadline.IsZero() {
					t.Errorf("%s: status %s, deadline %v: want open with a deadline", in.ID, e.Status, e.Deadline)
				}
			}
		}
	}
}

// weekly counts the matters of in's township and category in the four
// weeks before at, oldest first, from the feeds whose history of the
// township and of the category reaches back to the first week (the rule of
// README's trend row); mine: some are in's own in the last week.
func weekly(events map[risk.Evidence]risk.Event, in scenario.Incident, at time.Time) (c []int, mine bool) {
	const week = 7 * 24 * time.Hour
	first := at.Add(-4 * week)
	since := map[string]time.Time{}
	for _, e := range events {
		if e.Region.Township() == "" {
			continue
		}
		for _, k := range []string{string(e.Source) + "/t/" + e.Region.Township(), string(e.Source) + "/c/" + e.Category} {
			if t, ok := since[k]; !ok || e.OccurredAt.Before(t) {
				since[k] = e.OccurredAt
			}
		}
	}
	c = make([]int, 4)
	for k, e := range events {
		age := at.Sub(e.OccurredAt) // the weeks are (at-(k+1)·week, at-k·week]
		if e.Deleted() || e.Region.Township() != in.Region || e.Category != in.Category || age < 0 || age >= 4*week ||
			since[string(e.Source)+"/t/"+in.Region].After(first) || since[string(e.Source)+"/c/"+in.Category].After(first) {
			continue
		}
		w := 3 - int(age/week)
		c[w]++
		mine = mine || w == 3 && slices.Contains(in.Records, k)
	}
	return c, mine
}

// rising is the rule of trend at its defaults on weekly.
func rising(events map[risk.Evidence]risk.Event, in scenario.Incident, at time.Time) bool {
	c, mine := weekly(events, in, at)
	base := max(float64(c[0]+c[1])/2, 1)
	return mine && float64(c[2]) >= 1.5*base && c[2] < c[3] && c[3] >= 5 && float64(c[3]) >= 1.5*base &&
		surge.BinomialTail(c[3], c[0]+c[1]+c[3], 1.0/3) < 1e-4
}

// TestTraps: the traps the issue lists are there, and are what they say.
func TestTraps(t *testing.T) {
	s := scenario.Generate(scenario.Config{Seed: 4})
	events := latest(t, s)
	kinds := map[string]scenario.Trap{}
	for _, tr := range s.Truth.Traps {
		kinds[tr.Kind] = tr
	}
	for _, k := range []string{"跳楼价", "跳楼大甩卖", "北京路", "北京烤鸭"} {
		tr, ok := kinds[k]
		if !ok || tr.Detector != scenario.ExtremeIntent || !bytes.Contains([]byte(events[tr.Records[0]].Text), []byte(k)) {
			t.Errorf("trap %s: %+v; want an extreme_intent trap whose text says %s", k, tr, k)
		}
	}
	power := kinds["power_cut"]
	towns := map[string]bool{}
	for _, r := range power.Records {
		towns[events[r].Region.Township()] = true
	}
	if power.Detector != scenario.Collective || len(power.Records) < 40 || len(towns) < 5 {
		t.Errorf("power cut trap: %s, %d records in %d townships; want a collective trap, many people, many townships", power.Detector, len(power.Records), len(towns))
	}
	surge := false
	for _, in := range s.Truth.Incidents {
		surge = surge || in.Detector == scenario.Surge && in.Kind == "power_cut"
	}
	if !surge {
		t.Error("the power cut is not planted as a surge")
	}
	del := kinds["deleted_grid_event"]
	if e := events[del.Records[1]]; !e.Deleted() || e.HeadCount < 10 {
		t.Errorf("deleted grid event: status %s, %d people; want deleted, a gathering's head count", e.Status, e.HeadCount)
	}
	five := kinds["delivered_five_times"]
	id := five.Records[1]
	count := map[string]int{}
	for _, m := range s.Messages[risk.SourceHotline] {
		if string(m.Key) == id.ID {
			count[string(m.Value)]++
		}
	}
	most := 0
	for _, n := range count {
		most = max(most, n)
	}
	if five.Detector != scenario.Repeat || most < 5 {
		t.Errorf("delivered five times: detector %s, one version delivered %d times", five.Detector, most)
	}
}
