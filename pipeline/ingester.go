// Package pipeline consumes the upstream feeds from Kafka, normalises each
// message into a risk.Event and writes events and rejected messages to
// ClickHouse, committing offsets only after ClickHouse acknowledged them.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline/normalize"
)

const (
	// shutdownGrace is how long the batches in hand may still be written
	// once Run's context is cancelled.
	shutdownGrace = 10 * time.Second
	// maxMonthsPerInsert bounds the partitions (months of the time raised)
	// one insert touches: ClickHouse refuses more than 100 by default.
	maxMonthsPerInsert = 50
)

// Decoder turns one message into one event version. An error wrapping
// risk.ErrInvalid sends the message to quarantine; any other error, or a
// panic, is a bug in the decoder and is treated the same way, so that it
// cannot stop a feed.
type Decoder func(kafka.Message) (risk.Event, error)

// fetcher is what the ingester needs of its consumer-group reader
// (*GroupReader).
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
	// Claim reports whether partition p is held, and under which claim.
	// Between FetchMessage returning a message and the next FetchMessage,
	// it reports the claim the message was read under or that p is lost.
	Claim(p int) (claim int64, held bool)
	// Rewind makes the next messages fetched start again at the last commit.
	Rewind()
}

// sink stores a batch. Each call is one insert; a failed call stored nothing
// the retry would not store again.
type sink interface {
	WriteEvents(ctx context.Context, events []Stored) error
	WriteRejected(ctx context.Context, rejects []Rejected) error
	WriteWatermarks(ctx context.Context, marks []Watermark) error
}

// Stored is an event with the place of its message on the topic.
type Stored struct {
	risk.Event
	Topic     string
	Partition int
	Offset    int64
	raw       raw // for the quarantine, should ClickHouse refuse the row
}

// raw is what rejected_events keeps of a message.
type raw struct {
	key, value []byte
	headers    []kafka.Header
}

// Rejected is a message that could not be decoded, validated or stored.
type Rejected struct {
	Source    risk.Source
	Topic     string
	Partition int
	Offset    int64
	Key       string
	Sealed    string // the raw value, sealed: it may hold personal data
	Headers   []kafka.Header
	Reason    string
}

// Watermark says how far ingestion of one partition has got.
type Watermark struct {
	Topic      string
	Partition  int
	NextOffset int64     // every offset before it is stored
	EventTime  time.Time // newest updateTime stored from this partition, or the clock while it is idle and caught up
}

// Ingester runs one feed: fetch → decode → batch → write → commit. A batch is
// committed only after ClickHouse has stored it, so a crash or an outage
// replays messages and never loses one; the tables fold the replays away.
type Ingester struct {
	source risk.Source
	in     fetcher
	out    sink
	decode Decoder
	seal   func([]byte) string
	cfg    Config
	log    *slog.Logger
	m      *metrics
	now    func() time.Time   // the wall clock: which times are plausible, where idle watermarks go
	parts  map[int]*partState // per partition; the writer's alone
}

// partState is what the ingester knows of a partition under one claim.
type partState struct {
	claim  int64
	mark   Watermark // last written
	caught bool      // its last stored batch reached the end of the partition
}

// NewIngester returns an ingester of one feed. seal encrypts the raw value of
// a rejected message, which may hold personal data.
func NewIngester(source risk.Source, in fetcher, out sink, decode Decoder, seal func([]byte) string, m *Metrics, cfg Config, log *slog.Logger) *Ingester {
	return &Ingester{
		source: source, in: in, out: out, decode: decode, seal: seal, cfg: cfg,
		log:   log.With("component", "pipeline", "source", source),
		m:     m.forSource(source),
		now:   time.Now,
		parts: map[int]*partState{},
	}
}

// Run consumes until ctx is cancelled or the reader fails.
//
// One batch is written while the next one fills; when the writer falls
// behind (ClickHouse slow or down) the reader stops fetching, so memory stays
// bounded by two batches and the reader's queue. A write that fails for a
// reason of the server is retried with backoff for as long as ctx lives; a
// row ClickHouse refuses for what it holds is quarantined, and the rest of
// its batch stored.
//
// Batches are committed in order, each only after it is stored. On cancel,
// Run keeps writing the batches in hand for up to 10 seconds; a batch it
// could not store then is abandoned, and no later batch is committed, so the
// next consumer starts at the first message not stored.
//
// A panic in a decoder quarantines its message. A panic anywhere else in the
// loops is recovered and logged; Run then rewinds the reader to the last
// commit and starts again, committing nothing it had not stored.
func (g *Ingester) Run(ctx context.Context) error {
	wait := g.cfg.RetryMin
	for {
		err := g.run(ctx)
		var p *panicked
		if !errors.As(err, &p) {
			return err
		}
		g.m.panics.Inc()
		g.log.Error("ingester panicked; restarting from the last commit", "err", p)
		g.in.Rewind()
		g.parts = map[int]*partState{}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		wait = min(2*wait, g.cfg.RetryMax)
	}
}

// run runs the two loops until ctx is cancelled, the reader fails or one of
// them panics (a *panicked error), and returns after both have.
func (g *Ingester) run(ctx context.Context) error {
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	full := make(chan *batch) // unbuffered: one batch written, one filling
	done := make(chan error, 1)
	go func() { done <- g.writeLoop(ctx, abort, full) }()
	err := guard(func() error { return g.readLoop(ctx, full) })
	if err != nil {
		abort(err)
	}
	close(full)
	return errors.Join(err, <-done)
}

func (g *Ingester) readLoop(ctx context.Context, full chan<- *batch) error {
	b := &batch{}
	hand := func() bool {
		select {
		case full <- b:
			b = &batch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		deadline := time.Now().Add(g.cfg.IdleMark)
		if b.size() > 0 {
			deadline = b.opened.Add(g.cfg.MaxBatchAge)
		}
		fctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := g.in.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			if b.size() > 0 {
				full <- b // the writer drains until full is closed: it takes this last one
			}
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			// A full batch to flush, or an empty one: the idle feed's
			// heartbeat, which advances the watermarks of caught-up partitions.
			if !hand() {
				return nil
			}
			continue
		default:
			return fmt.Errorf("fetch from %s: %w", g.source, err)
		}
		claim, held := g.in.Claim(msg.Partition)
		if !held {
			continue // lost since it was read: its new holder reads it again
		}
		if c, ok := b.claim[msg.Partition]; ok && c != claim {
			// Lost and held again since the batch began: a batch reads each
			// partition under one claim.
			if !hand() {
				return nil
			}
		}
		g.add(b, msg, claim)
		if b.size() >= g.cfg.MaxBatchRows || b.bytes >= g.cfg.MaxBatchBytes {
			if !hand() {
				return nil
			}
		}
	}
}

func (g *Ingester) add(b *batch, msg kafka.Message, claim int64) {
	if b.size() == 0 {
		b.opened = time.Now()
	}
	b.bytes += len(msg.Value) + len(msg.Key)
	b.track(msg, claim)
	e, err := g.decodeOne(msg)
	if err == nil {
		err = g.believe(&e)
	}
	if err != nil {
		level := slog.LevelWarn
		if !errors.Is(err, risk.ErrInvalid) {
			level = slog.LevelError // a decoder bug; the message is quarantined all the same
		}
		// A reason may quote a value of the message: its numbers are masked
		// like the records' text, in the log and in the quarantine.
		reason := normalize.MaskText(err.Error())
		g.log.Log(context.Background(), level, "message rejected", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", reason)
		b.rejects = append(b.rejects, Rejected{
			Source: g.source, Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
			Key: string(msg.Key), Sealed: g.seal(msg.Value), Headers: msg.Headers, Reason: reason,
		})
		return
	}
	if len(e.Warnings) > 0 {
		g.m.warnings.Add(float64(len(e.Warnings)))
	}
	b.events = append(b.events, Stored{
		Event: e, Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
		raw: raw{key: msg.Key, value: msg.Value, headers: msg.Headers},
	})
	if e.UpdatedAt.After(b.last[msg.Partition]) {
		b.last[msg.Partition] = e.UpdatedAt
	}
}

// decodeOne decodes msg, turning a panic of the decoder into an error.
func (g *Ingester) decodeOne(msg kafka.Message) (e risk.Event, err error) {
	defer func() {
		if v := recover(); v != nil {
			g.m.panics.Inc()
			err = fmt.Errorf("decoder panic: %w", recovered(v))
		}
	}()
	return g.decode(msg)
}

// believe refuses an event whose updateTime cannot be true: later than the
// clock plus MaxSkew, or before Earliest. Such a time would hold the
// watermark of its partition in the future, or store a version nothing can
// order. A time raised later than the clock plus MaxSkew is set to the
// updateTime, with a warning on the row.
func (g *Ingester) believe(e *risk.Event) error {
	latest := g.now().Add(g.cfg.MaxSkew)
	switch {
	case e.UpdatedAt.After(latest):
		return fmt.Errorf("updateTime %s is later than the clock plus %v (pipeline.max-skew): %w",
			e.UpdatedAt.UTC().Format(time.RFC3339), g.cfg.MaxSkew, risk.ErrInvalid)
	case e.UpdatedAt.Before(g.cfg.Earliest):
		return fmt.Errorf("updateTime %s is before %s (pipeline.earliest): %w",
			e.UpdatedAt.UTC().Format(time.RFC3339), g.cfg.Earliest.UTC().Format(time.RFC3339), risk.ErrInvalid)
	}
	if e.OccurredAt.After(latest) {
		e.Warnings = append(e.Warnings, fmt.Sprintf("time raised %s is later than the clock plus %v; set to updateTime",
			e.OccurredAt.UTC().Format(time.RFC3339), g.cfg.MaxSkew))
		e.OccurredAt = e.UpdatedAt
	}
	return nil
}

// writeLoop stores the batches in order. Once one could not be stored, it
// stores and commits nothing more: the later batches are dropped, to be
// replayed with it by the next consumer.
func (g *Ingester) writeLoop(ctx context.Context, abort context.CancelCauseFunc, full <-chan *batch) error {
	wctx, cancel := afterGrace(ctx, shutdownGrace)
	defer cancel()
	var failed error
	for b := range full {
		if failed != nil {
			continue
		}
		failed = guard(func() error { return g.store(ctx, wctx, b) })
		var p *panicked
		switch {
		case failed == nil:
		case errors.As(failed, &p):
			abort(failed)
		default:
			g.log.Warn("batch abandoned at shutdown; it and every later batch will be replayed", "rows", b.size(), "err", failed)
		}
	}
	var p *panicked
	if errors.As(failed, &p) {
		return failed
	}
	return nil
}

// store writes and commits b, retrying failures with backoff while ctx
// lives. Writes run under wctx, which outlives ctx by the shutdown grace:
// a cancel neither interrupts an insert in flight nor stops the retries
// until the grace is over. A non-nil error means b was not committed.
func (g *Ingester) store(ctx, wctx context.Context, b *batch) error {
	wait := g.cfg.RetryMin
	stopping := ctx.Done()
	for attempt := 1; ; attempt++ {
		err := g.flush(wctx, b)
		if err == nil {
			g.m.stalled.Set(0)
			return nil
		}
		if wctx.Err() != nil {
			return err
		}
		g.m.stalled.Set(1)
		g.m.retries.Inc()
		g.log.Warn("flush failed; retrying", "rows", b.size(), "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-stopping: // shutting down: try again at once, then until the grace is over
			t.Stop()
			stopping = nil
		case <-wctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, g.cfg.RetryMax)
	}
}

// afterGrace returns a context that is cancelled grace after ctx is.
func afterGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(grace, cancel)
		mu.Unlock()
	})
	return gctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// flush writes the events, then the rejected messages, then the watermarks,
// then commits. A failure leaves what is not written yet to the next try.
func (g *Ingester) flush(ctx context.Context, b *batch) error {
	if b.size() == 0 {
		return g.heartbeat(ctx)
	}
	start := time.Now()
	if err := g.writeEvents(ctx, b); err != nil {
		return err
	}
	if len(b.rejects) > 0 && !b.rejectsDone {
		if err := g.out.WriteRejected(ctx, b.rejects); err != nil {
			return fmt.Errorf("write %d rejected messages: %w", len(b.rejects), err)
		}
		b.rejectsDone = true
	}
	marks, commits := g.advance(b)
	if err := g.out.WriteWatermarks(ctx, marks); err != nil {
		return fmt.Errorf("write %d watermarks: %w", len(marks), err)
	}
	if err := g.in.CommitMessages(ctx, commits...); err != nil {
		return fmt.Errorf("commit %d partitions: %w", len(commits), err)
	}
	for _, w := range marks {
		g.parts[w.Partition] = &partState{claim: b.claim[w.Partition], mark: w, caught: w.NextOffset >= b.high[w.Partition]}
	}
	g.m.stored.Add(float64(b.stored))
	g.m.rejected.Add(float64(len(b.rejects)))
	g.m.flushSeconds.Observe(time.Since(start).Seconds())
	g.log.Debug("batch stored", "events", b.stored, "rejected", len(b.rejects), "filled_in", start.Sub(b.opened), "took", time.Since(start))
	return nil
}

// writeEvents inserts the events of b not stored yet, in inserts of at most
// maxMonthsPerInsert months. An insert ClickHouse refuses for what its rows
// hold is split in halves until each refused row is alone; that row is
// quarantined with the refusal, the others are stored. Any other failure
// returns, and the next call resumes where this one stopped: nothing is
// stored twice.
func (g *Ingester) writeEvents(ctx context.Context, b *batch) error {
	if !b.planned {
		b.todo, b.planned = byMonths(b.events, maxMonthsPerInsert), true
	}
	for len(b.todo) > 0 {
		rows := b.todo[0]
		err := g.out.WriteEvents(ctx, rows)
		switch {
		case err == nil:
			b.stored += len(rows)
			b.todo = b.todo[1:]
		case !refused(err):
			return fmt.Errorf("write %d events: %w", len(rows), err)
		case len(rows) == 1:
			g.quarantine(b, rows[0], err)
			b.todo = b.todo[1:]
		default:
			half := len(rows) / 2
			b.todo = append([][]Stored{rows[:half], rows[half:]}, b.todo[1:]...)
		}
	}
	return nil
}

// quarantine adds a row ClickHouse refused to the rejected messages of b.
func (g *Ingester) quarantine(b *batch, s Stored, err error) {
	g.m.refused.Inc()
	g.log.Warn("row refused by clickhouse; quarantined", "topic", s.Topic, "partition", s.Partition, "offset", s.Offset, "code", exceptionCode(err))
	b.rejects = append(b.rejects, Rejected{
		Source: g.source, Topic: s.Topic, Partition: s.Partition, Offset: s.Offset,
		Key: string(s.raw.key), Sealed: g.seal(s.raw.value), Headers: s.raw.headers, Reason: normalize.MaskText(refusal(err)),
	})
}

// byMonths splits rows into inserts of at most n months of the time raised
// (in UTC: the partitions of the event tables). Rows that fit in one insert
// stay as they are.
func byMonths(rows []Stored, n int) [][]Stored {
	if len(rows) == 0 {
		return nil
	}
	month := func(s Stored) int {
		t := utc(s.OccurredAt)
		return t.Year()*12 + int(t.Month()) - 1
	}
	groups := map[int][]Stored{}
	for _, s := range rows {
		m := month(s)
		groups[m] = append(groups[m], s)
	}
	if len(groups) <= n {
		return [][]Stored{rows}
	}
	months := slices.Sorted(maps.Keys(groups))
	var out [][]Stored
	for len(months) > 0 {
		k := min(n, len(months))
		var part []Stored
		for _, m := range months[:k] {
			part = append(part, groups[m]...)
		}
		out = append(out, part)
		months = months[k:]
	}
	return out
}

// heartbeat moves the watermark of every caught-up partition it holds to
// the clock: with nothing more to read, ingestion has passed now.
// Event-time detectors wait for every partition, so an idle feed must not
// hold them back. A partition not held is never advanced: its holder does.
func (g *Ingester) heartbeat(ctx context.Context) error {
	now := g.now().UTC()
	var marks []Watermark
	for p, st := range g.parts {
		claim, held := g.in.Claim(p)
		switch {
		case !held:
			// Lost, or between two generations of the group: if it comes
			// back under the same claim, nobody else held it meanwhile.
		case claim != st.claim:
			delete(g.parts, p) // lost and held again: what we knew is stale
		case st.caught && now.After(st.mark.EventTime):
			w := st.mark
			w.EventTime = now
			marks = append(marks, w)
		}
	}
	if err := g.out.WriteWatermarks(ctx, marks); err != nil {
		return fmt.Errorf("write %d idle watermarks: %w", len(marks), err)
	}
	for _, w := range marks {
		g.parts[w.Partition].mark = w
	}
	return nil
}

// advance returns the watermarks and commits after b: for each partition it
// touched and still holds under the claim it read it under, the offset after
// its last message and the newest updateTime stored. A partition lost since
// is left to its holder, which reads it again; one that a replay after a
// rebalance has not taken past its last commit keeps that commit.
func (g *Ingester) advance(b *batch) ([]Watermark, []kafka.Message) {
	var marks []Watermark
	var commits []kafka.Message
	for p, next := range b.next {
		claim, held := g.in.Claim(p)
		if !held || claim != b.claim[p] {
			continue
		}
		var w Watermark
		if st := g.parts[p]; st != nil && st.claim == claim {
			if next <= st.mark.NextOffset {
				continue
			}
			w = st.mark
		}
		w.Topic, w.Partition, w.NextOffset = b.topic, p, next
		if t := b.last[p]; t.After(w.EventTime) {
			w.EventTime = t
		}
		marks = append(marks, w)
		commits = append(commits, kafka.Message{Topic: b.topic, Partition: p, Offset: next - 1}) // kafka-go commits offset+1
	}
	return marks, commits
}

// batch is what one flush writes and commits.
type batch struct {
	opened      time.Time
	bytes       int
	count       int
	topic       string
	events      []Stored
	rejects     []Rejected
	next        map[int]int64     // partition → offset after its last message
	high        map[int]int64     // partition → its high watermark when last fetched
	last        map[int]time.Time // partition → newest updateTime in this batch
	claim       map[int]int64     // partition → the claim its messages were read under
	todo        [][]Stored        // inserts of events not stored yet, once planned
	planned     bool
	stored      int // events stored
	rejectsDone bool
}

func (b *batch) size() int { return b.count }

func (b *batch) track(msg kafka.Message, claim int64) {
	if b.next == nil {
		b.next, b.last, b.high, b.claim = map[int]int64{}, map[int]time.Time{}, map[int]int64{}, map[int]int64{}
	}
	b.high[msg.Partition] = max(b.high[msg.Partition], msg.HighWaterMark)
	b.claim[msg.Partition] = claim
	b.count++
	b.topic = msg.Topic
	if msg.Offset+1 > b.next[msg.Partition] {
		b.next[msg.Partition] = msg.Offset + 1
	}
}
