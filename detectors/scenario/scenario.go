// Package scenario makes weeks of realistic traffic of the three feeds for
// one county, 诸暨市 and its townships, in the exact message formats of
// shared/contracts, with incidents planted for every detector, traps that
// must not raise alerts, and the ground truth to score the detectors
// against (Truth.Score, on a detectors.Backtest). It is pure: no I/O, no
// clock; the same Config gives the same Scenario, byte for byte.
//
// Background traffic is a seasonal Poisson process (busier on weekdays and
// in office hours) handled in time, by people who appear once (a few call
// twice, or reach a second feed weeks later: near misses). So every risk in
// the data is one that was planted, and an alert on background is a false
// one.
package scenario

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline/normalize"
)

// Detector names, as detectors.All names them: part of the truth.
const (
	ExtremeIntent = "extreme_intent"
	Repeat        = "repeat"
	SkipLevel     = "skip_level"
	Overdue       = "overdue"
	Collective    = "collective"
	Surge         = "surge"
	Convergence   = "convergence"
	Trend         = "trend"
)

// Detectors lists the detectors incidents are planted for.
var Detectors = []string{ExtremeIntent, Repeat, SkipLevel, Overdue, Collective, Surge, Convergence, Trend}

// Config says what to generate. The zero value of a field means its default.
type Config struct {
	Seed uint64 `json:"seed"`
	// Weeks of traffic; default 10, at least 5. Incidents come after the
	// first 4 weeks, which surge and trend need as history.
	Weeks int `json:"weeks"`
	// Townships that carry traffic, the contracts' four first (枫桥镇,
	// 暨阳街道, 陶朱街道, 店口镇); default all 10, at least 2.
	Townships int `json:"townships"`
	// Scale of the background: 1 is a county's, ≈ 320 hotline orders, 45
	// grid events and 5 petitions a day over all 10 townships, less in
	// proportion with fewer townships.
	Scale float64 `json:"scale"`
	// Start is the first day, 00:00 in UTC+8; default Monday 2025-10-13,
	// after the National Day holidays (holidays are not modelled).
	Start time.Time `json:"start"`
}

func (c Config) withDefaults() Config {
	if c.Weeks == 0 {
		c.Weeks = 10
	}
	c.Weeks = min(max(c.Weeks, 5), 12)
	if c.Townships == 0 {
		c.Townships = len(townships)
	}
	c.Townships = min(max(c.Townships, 2), len(townships))
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 10, 13, 0, 0, 0, 0, risk.CST)
	}
	return c
}

// Scenario is the generated traffic and its truth.
type Scenario struct {
	// Messages of each feed in publication order: Key is the record's id,
	// Value its JSON. Topic is left empty for the producer to set.
	Messages map[risk.Source][]kafka.Message
	// At holds, per feed, when each message of Messages is published: a
	// replay (Replay) keeps to it.
	At map[risk.Source][]time.Time
	// Bad holds, per feed, the indexes in Messages of the messages that are
	// bad on purpose (truncated JSON, an empty id, a time that cannot be
	// parsed): the pipeline must quarantine them, and store every other.
	Bad   map[risk.Source][]int
	Truth Truth
}

// Truth is what was planted, as truth.json holds it.
type Truth struct {
	Config    Config     `json:"config"`
	From      time.Time  `json:"from"` // every record is raised in [From, To)
	To        time.Time  `json:"to"`
	Townships []Township `json:"townships"`
	Records   Counts     `json:"records"`     // distinct records of each feed, bad messages aside
	Messages  Counts     `json:"messages"`    // messages of each feed: versions, duplicates and bad ones
	Bad       Counts     `json:"quarantined"` // messages bad on purpose
	// Background counts the records in no incident (traps included): the
	// base of the false-alert rate.
	Background Counts     `json:"background"`
	Incidents  []Incident `json:"incidents"`
	Traps      []Trap     `json:"traps"`
}

// Counts is a number per feed.
type Counts map[risk.Source]int

// Total is the sum over the feeds.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Township is a township that carries traffic.
type Township struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Incident is a planted risk that a detector must raise.
type Incident struct {
	ID       string `json:"id"`
	Detector string `json:"detector"`
	Kind     string `json:"kind"` // the pattern, e.g. power_cut, three_feeds
	// Level is the least level the detector's documented rule gives it.
	Level  risk.Level `json:"level"`
	Region string     `json:"region"` // township (or village) code
	// Category is the unified category of a trend, whose alerts name no
	// records: they match an incident by region and category, from
	// KnowableAt on.
	Category string          `json:"category,omitempty"`
	What     string          `json:"what"`
	Records  []risk.Evidence `json:"records"`
	Since    time.Time       `json:"since"` // when its first record was raised
	// KnowableAt is the event time from which the incident can be found:
	// the record that crossed the detector's threshold (the 3rd matter of a
	// repeat, the 5th call of a surge hour, the record in a second feed),
	// the record itself (extreme intent, skip-level, collective), or for
	// overdue the deadline (24 hours before it for a 将到期 reminder), for a
	// trend the first moment the published rule holds on every record of
	// its township and category, background included, with a matter of the
	// rise in the last week (a matter's time, or a week boundary passing).
	KnowableAt time.Time `json:"knowable_at"`
	// Reminder says the incident is to be told to the desk that owns the
	// matter, not queued for review (将到期, a routine order late): only a
	// reminder (risk.Alert.Reminder) finds it.
	Reminder bool `json:"reminder,omitempty"`
}

// Trap is a set of records that must not raise an alert of Detector.
type Trap struct {
	ID       string          `json:"id"`
	Detector string          `json:"detector"`
	Kind     string          `json:"kind"`
	What     string          `json:"what"`
	Records  []risk.Evidence `json:"records"`
}

// rec is one upstream record and its versions, before it has an id: ids
// are numbered per day in the order records were raised, once all exist.
type rec struct {
	src    risk.Source
	n      int       // creation order, to break ties
	at     time.Time // when the matter was raised
	prefix string    // the id without its number
	width  int
	id     string
	snaps  []snap
	extra  map[int]int // version index → further deliveries of it
	due    time.Time   // the deadline of its last version, as written
}

type snap struct {
	upd time.Time
	val interface{ withID(string) any }
}

func (r *rec) ref() risk.Evidence { return risk.Evidence{Source: r.src, ID: r.id} }

type gen struct {
	r         *rand.Rand
	aside     *rand.Rand // draws whose number depends on what the background drew (newPerson, reporter)
	lastDay   *rand.Rand // which background orders are answered on their last day: a stream of its own, so the rest stays put; nil while planting
	cfg       Config
	from, to  time.Time
	towns     []*township
	recs      []*rec
	used      map[string]bool // phone and ID numbers given out
	workers   map[string]worker
	incidents []*planted
	traps     []*trapped
	callers   []recent         // background callers who may call once more
	series    map[*rec]decoded // what trend reads of each record (seriesOf)
	decode    map[risk.Source]normalize.Decoder
}

type planted struct {
	Incident
	recs []*rec
}

type trapped struct {
	Trap
	recs []*rec
}

func (g *gen) add(r *rec) {
	r.n = len(g.recs)
	g.recs = append(g.recs, r)
}

// Generate makes the scenario of cfg. Background and incidents draw from
// separate streams of the seed, so the incidents of a seed stay where they
// are whatever the background's scale.
func Generate(cfg Config) Scenario {
	cfg = cfg.withDefaults()
	g := &gen{
		cfg:     cfg,
		from:    cfg.Start.UTC(),
		to:      cfg.Start.AddDate(0, 0, 7*cfg.Weeks).UTC(),
		used:    map[string]bool{},
		workers: map[string]worker{},
		series:  map[*rec]decoded{},
	}
	for i := range cfg.Townships {
		g.towns = append(g.towns, &townships[i])
	}
	g.lastDay = rand.New(rand.NewPCG(cfg.Seed, 3))
	g.aside = rand.New(rand.NewPCG(cfg.Seed, 4))
	g.r = rand.New(rand.NewPCG(cfg.Seed, 1))
	g.background()
	g.lastDay = nil
	g.r = rand.New(rand.NewPCG(cfg.Seed, 2))
	g.plant()
	g.settleTrends()
	return g.finish()
}

// message is one delivery of a version, bad ones included.
type message struct {
	at  time.Time // published
	n   int
	msg kafka.Message
	bad bool
}

func (g *gen) finish() Scenario {
	// Number the records per day (per month for petitions), in the order
	// they were raised.
	slices.SortStableFunc(g.recs, func(a, b *rec) int {
		return cmp.Or(cmp.Compare(a.src, b.src), a.at.Compare(b.at), cmp.Compare(a.n, b.n))
	})
	seq := map[string]int{}
	for _, r := range g.recs {
		seq[r.prefix]++
		r.id = fmt.Sprintf("%s%0*d", r.prefix, r.width, seq[r.prefix])
	}

	s := Scenario{Messages: map[risk.Source][]kafka.Message{}, At: map[risk.Source][]time.Time{}, Bad: map[risk.Source][]int{}}
	t := &s.Truth
	t.Config, t.From, t.To = g.cfg, g.from, g.to
	t.Records, t.Messages, t.Bad, t.Background = Counts{}, Counts{}, Counts{}, Counts{}
	for _, tw := range g.towns {
		t.Townships = append(t.Townships, Township{tw.code, tw.name})
	}
	inIncident := map[*rec]bool{}
	for _, p := range g.incidents {
		p.Records = refs(p.recs)
		p.Since = slices.MinFunc(p.recs, func(a, b *rec) int { return a.at.Compare(b.at) }).at
		t.Incidents = append(t.Incidents, p.Incident)
		for _, r := range p.recs {
			inIncident[r] = true
		}
	}
	for _, p := range g.traps {
		p.Records = refs(p.recs)
		t.Traps = append(t.Traps, p.Trap)
	}

	feeds := map[risk.Source][]message{}
	n := 0
	deliver := func(src risk.Source, at time.Time, m kafka.Message, bad bool) {
		feeds[src] = append(feeds[src], message{at: at, n: n, msg: m, bad: bad})
		n++
	}
	for _, r := range g.recs {
		t.Records[r.src]++
		if !inIncident[r] {
			t.Background[r.src]++
		}
		for i, sn := range r.snaps {
			value, err := json.Marshal(sn.val.withID(r.id))
			if err != nil {
				panic(fmt.Sprintf("scenario: marshal %s: %v", r.id, err)) // the types are ours
			}
			m := kafka.Message{Key: []byte(r.id), Value: value}
			at := sn.upd.Add(between(g.r, 0, 20*time.Second))
			deliver(r.src, at, m, false)
			// Delivery is at least once: now and then a version comes
			// again, sometimes after a newer one.
			again := r.extra[i]
			if g.r.IntN(100) == 0 {
				again++
			}
			for range again {
				at = at.Add(between(g.r, time.Second, 3*time.Hour))
				deliver(r.src, at, m, false)
			}
		}
	}
	for _, src := range risk.Sources {
		good := feeds[src]
		for range max(1, (len(good)+100)/200) { // 0.5%
			at, m := g.spoil(src, good[g.r.IntN(len(good))])
			deliver(src, at, m, true)
		}
		ms := feeds[src]
		slices.SortStableFunc(ms, func(a, b message) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.n, b.n)) })
		for i, m := range ms {
			s.Messages[src] = append(s.Messages[src], m.msg)
			s.At[src] = append(s.At[src], m.at)
			if m.bad {
				s.Bad[src] = append(s.Bad[src], i)
				t.Bad[src]++
			}
		}
		t.Messages[src] = len(ms)
	}
	return s
}

func refs(rs []*rec) []risk.Evidence {
	out := make([]risk.Evidence, len(rs))
	for i, r := range rs {
		out[i] = r.ref()
	}
	return out
}

// spoil makes a bad message of the kinds the contracts list out of a good
// one: truncated in transit, an empty id, or an updateTime no one can read.
// The good message was delivered too, so nothing of the record is lost.
func (g *gen) spoil(src risk.Source, m message) (time.Time, kafka.Message) {
	at := m.at.Add(between(g.r, time.Second, 10*time.Minute))
	v := m.msg.Value
	switch g.r.IntN(3) {
	case 0:
		cut := len(v)/3 + g.r.IntN(len(v)/2)
		for cut > 0 && v[cut]&0xC0 == 0x80 { // cut between characters, as a torn write does
			cut--
		}
		return at, kafka.Message{Key: m.msg.Key, Value: slices.Clone(v[:cut])}
	}
	var fields map[string]any
	if err := json.Unmarshal(v, &fields); err != nil {
		panic(fmt.Sprintf("scenario: own message: %v", err))
	}
	key := m.msg.Key
	if g.r.IntN(2) == 0 {
		fields[idField[src]], key = "", nil
	} else {
		fields["updateTime"] = pick(g.r, []string{"not a time", "2025-13-45 25:61:00", "昨天下午", "0000-00-00 00:00:00"})
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(fmt.Sprintf("scenario: marshal: %v", err))
	}
	return at, kafka.Message{Key: key, Value: b}
}

var idField = map[risk.Source]string{risk.SourceHotline: "caseNo", risk.SourcePetition: "petitionNo", risk.SourceGrid: "eventId"}
