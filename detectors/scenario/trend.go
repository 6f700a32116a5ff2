package scenario

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/detectors/surge"
	"riskwatch/pipeline/normalize"
)

// The trend rule as the README publishes it (detectors.TrendConfig's
// defaults): per township and unified category, the matters of the last
// four 7-day weeks; the baseline is the median of the first two (at least
// 1); each later week is at least trendMinRatio times the baseline, the
// last is the highest, holds trendMinLast matters or more, and is beyond
// chance over the first two at one rate (each of their matters falls in it
// with probability 1/3) under trendTail. A feed counts in a series once its
// history of the township and of the category reaches back to the first
// week compared.
const (
	trendWeeks    = 4
	trendTail     = 1e-4
	trendMinLast  = 5
	trendMinRatio = 1.5
)

const week = 7 * 24 * time.Hour

// series is a township and unified category: what trend counts.
type series struct{ township, category string }

// seriesOf is the series r is in as the pipeline decodes its newest
// version (township "" when it is in no township); counted is false for a
// deleted record and one in no township.
func (g *gen) seriesOf(r *rec) (s series, counted bool) {
	d, ok := g.series[r]
	if !ok {
		if g.decode == nil {
			g.decode = decoders(g.cfg.Seed)
		}
		id := r.prefix + strings.Repeat("0", r.width-1) + "1" // ids are given at the end; any well-formed one decodes the same
		v, err := json.Marshal(r.snaps[len(r.snaps)-1].val.withID(id))
		if err != nil {
			panic(fmt.Sprintf("scenario: marshal: %v", err)) // the types are ours
		}
		e, err := g.decode[r.src](kafka.Message{Key: []byte(id), Value: v})
		if err != nil {
			panic(fmt.Sprintf("scenario: own %s record does not decode: %v", r.src, err))
		}
		d = decoded{series{e.Region.Township(), e.Category}, e.Deleted()}
		g.series[r] = d
	}
	return d.series, d.township != "" && !d.deleted
}

// decoded is what trend reads of a record.
type decoded struct {
	series
	deleted bool
}

// decoders are the pipeline's, so that the truth counts what the detector
// will see. The people are invented: any key protects them; one drawn from
// the seed keeps the package pure.
func decoders(seed uint64) map[risk.Source]normalize.Decoder {
	r := rand.New(rand.NewPCG(seed, 7))
	key := make([]byte, 32)
	for i := 0; i < len(key); i += 8 {
		binary.LittleEndian.PutUint64(key[i:], r.Uint64())
	}
	p, err := normalize.NewProtector(key)
	if err != nil {
		panic(fmt.Sprintf("scenario: protector: %v", err))
	}
	n := normalize.New(p)
	return map[risk.Source]normalize.Decoder{risk.SourceHotline: n.Hotline, risk.SourcePetition: n.Petition, risk.SourceGrid: n.Grid}
}

// rise plants a rise in one township and category on top of its own
// traffic: b, the series' weekly matters over the first four weeks (the
// history), grows by 0, b/4, b+5 and 2b+16 calls in four consecutive weeks,
// the last in the incident span. A rise is relative: 10 more calls a week
// is a trend where there were 2, noise where there were 40.
func (g *gen) rise(t *township, cat *catalog, category string, level risk.Level, kind, what string, texts []string) {
	end := g.incTo()
	// The rise ends once the detector has its four weeks of history (the
	// incidents' span begins after four weeks): before, nobody can tell a
	// rise from the weeks before the data.
	lo := g.incFrom().Add(9 * 24 * time.Hour)
	if lo.Before(end) {
		end = g.when(lo, end, false)
	}
	s := series{t.code, category}
	n := 0
	for _, r := range g.recs {
		if got, ok := g.seriesOf(r); ok && got == s && r.at.Before(g.from.Add(trendWeeks*week)) {
			n++
		}
	}
	b := float64(n) / trendWeeks
	weekly := []int{0, int(math.Ceil(b / 4)), int(math.Ceil(b)) + 5, int(math.Ceil(2*b)) + 16}
	var recs []*rec
	for k, n := range weekly {
		hi := end.Add(-time.Duration(len(weekly)-1-k) * week)
		lo := later(hi.Add(-week), g.from)
		if k == len(weekly)-1 {
			lo = later(lo, g.incFrom())
		}
		for range n {
			tw, v, region := g.inTown(t)()
			r := g.hotline(call{at: g.when(lo, hi, true), town: tw, vil: v, region: region, caller: g.newPerson(false), cat: cat,
				content: g.fill(pick(g.r, texts), t, v)})
			if got, ok := g.seriesOf(r); !ok || got != s {
				panic(fmt.Sprintf("scenario: a call of the %s rise decodes as %v, not %v", kind, got, s))
			}
			recs = append(recs, r)
		}
	}
	p := g.incident(Trend, kind, level, t.code, fmt.Sprintf("%s (about %.0f a week before)", what, b), time.Time{}, recs...)
	p.Category = category
	// Where the background happens to be busy in the first weeks compared,
	// the rise goes on until it shows: more calls in its last two weeks, two
	// in the last for one in the week before, so the last stays the highest.
	// Only traps are planted after it, none in the categories of a rise:
	// settleTrends will find the same. In a small scenario a feed's history
	// of the category may begin too late for any rise to show: then it is a
	// trap, and trend must stay silent.
	for i := 0; g.knowable(p).IsZero(); i++ {
		if i == 60 {
			g.incidents = slices.DeleteFunc(g.incidents, func(q *planted) bool { return q == p })
			g.trap(Trend, kind, "a rise where the feeds' history is too short to compare: "+what, p.recs...)
			return
		}
		hi := end.Add(-time.Duration(i%3/2) * week) // i%3 == 2: the week before the last
		tw, v, region := g.inTown(t)()
		p.recs = append(p.recs, g.hotline(call{at: g.when(later(hi.Add(-week), g.incFrom().Add(-time.Duration(i%3/2)*week)), hi, true), town: tw, vil: v, region: region,
			caller: g.newPerson(false), cat: cat, content: g.fill(pick(g.r, texts), t, v)}))
	}
}

// settleTrends sets when each planted rise becomes knowable, from every
// record generated (see knowable). rise saw to it that each does.
func (g *gen) settleTrends() {
	for _, p := range g.incidents {
		if p.Detector != Trend {
			continue
		}
		if p.KnowableAt = g.knowable(p); p.KnowableAt.IsZero() {
			panic(fmt.Sprintf("scenario: seed %d: the %s rise never becomes significant", g.cfg.Seed, p.Kind)) // a bug of rise
		}
	}
}

// knowable is when the rise p becomes knowable, from the records generated
// so far, background and planted: the first moment the published rule (see
// trendWeeks) holds on the weeks before it with a matter of the rise in the
// last; zero if none does. The weekly counts change only when a matter
// comes or crosses from one week into the next, so those moments are the
// only ones to try.
func (g *gen) knowable(p *planted) time.Time {
	type feedKey struct {
		src  risk.Source
		what string
	}
	since := map[feedKey]time.Time{} // a feed's first matter of a township, of a category
	s := series{p.Region, p.Category}
	var recs []*rec
	for _, r := range g.recs {
		got, counted := g.seriesOf(r)
		if got.township == "" {
			continue
		}
		// Where a feed's history begins: deleted matters count.
		for _, k := range []feedKey{{r.src, "t" + got.township}, {r.src, "c" + got.category}} {
			if t, ok := since[k]; !ok || r.at.Before(t) {
				since[k] = r.at
			}
		}
		if counted && got == s {
			recs = append(recs, r)
		}
	}
	ours := map[*rec]bool{}
	for _, r := range p.recs {
		ours[r] = true
	}
	// The weeks before a moment at are (at-(k+1)·week, at-k·week]: a
	// matter counts from its own time on and moves a week back every week.
	// A feed counts from when its history reaches back four weeks.
	var moments []time.Time
	for _, r := range recs {
		for k := range trendWeeks + 1 {
			moments = append(moments, r.at.Add(time.Duration(k)*week))
		}
	}
	for _, src := range risk.Sources { // and a feed's history comes to cover the weeks
		for _, k := range []feedKey{{src, "t" + s.township}, {src, "c" + s.category}} {
			if t, ok := since[k]; ok {
				moments = append(moments, t.Add(trendWeeks*week))
			}
		}
	}
	slices.SortFunc(moments, time.Time.Compare)
	for _, at := range moments {
		first := at.Add(-trendWeeks * week)
		if first.Before(g.from) || !at.Before(g.to) {
			continue
		}
		c := make([]int, trendWeeks) // oldest first
		mine := false
		for _, r := range recs {
			age := at.Sub(r.at)
			if age < 0 || age >= trendWeeks*week {
				continue
			}
			if since[feedKey{r.src, "t" + s.township}].After(first) || since[feedKey{r.src, "c" + s.category}].After(first) {
				continue // the feed's history is too short to compare
			}
			w := trendWeeks - 1 - int(age/week)
			c[w]++
			mine = mine || w == trendWeeks-1 && ours[r]
		}
		if mine && trendRule(c) {
			return at
		}
	}
	return time.Time{}
}

// trendRule is the rule of trendWeeks on weekly counts, oldest first.
func trendRule(c []int) bool {
	h := len(c) / 2
	first := slices.Sorted(slices.Values(c[:h]))
	base := float64(first[h/2])
	if h%2 == 0 {
		base = float64(first[h/2-1]+first[h/2]) / 2
	}
	base = max(base, 1)
	last := c[len(c)-1]
	for _, v := range c[h : len(c)-1] {
		if float64(v) < trendMinRatio*base || v >= last {
			return false
		}
	}
	n := last
	for _, v := range c[:h] {
		n += v
	}
	return last >= trendMinLast && float64(last) >= trendMinRatio*base && surge.BinomialTail(last, n, 1/float64(h+1)) < trendTail
}
