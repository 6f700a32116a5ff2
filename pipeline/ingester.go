// Package pipeline consumes the upstream feeds from Kafka, normalises each
// message into a risk.Event and writes events and rejected messages to
// ClickHouse, committing offsets only after ClickHouse acknowledged them.
package pipeline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// Config tunes batching and retries. One Config serves every feed.
type Config struct {
	MaxBatchRows  int           `yaml:"max_batch_rows"`
	MaxBatchBytes int           `yaml:"max_batch_bytes"`
	MaxBatchAge   time.Duration `yaml:"max_batch_age"`
	IdleMark      time.Duration `yaml:"idle_mark"`
	RetryMin      time.Duration `yaml:"retry_min"`
	RetryMax      time.Duration `yaml:"retry_max"`
}

// RegisterFlags registers the pipeline flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	// Big batches by default: an insert into the wide event tables has a
	// fixed cost of tens of milliseconds (a file per column per part), so a
	// replay of history needs them; live traffic flushes on age long before.
	fs.IntVar(&c.MaxBatchRows, "pipeline.max-batch-rows", 50000, "Flush a batch when it holds this many messages.")
	fs.IntVar(&c.MaxBatchBytes, "pipeline.max-batch-bytes", 32<<20, "Flush a batch when its messages hold this many bytes.")
	fs.DurationVar(&c.MaxBatchAge, "pipeline.max-batch-age", 2*time.Second, "Flush a non-empty batch at least this often.")
	fs.DurationVar(&c.IdleMark, "pipeline.idle-mark", 30*time.Second, "While a feed is idle and caught up, advance its watermark to the clock this often.")
	fs.DurationVar(&c.RetryMin, "pipeline.retry-min", 200*time.Millisecond, "First wait before retrying a failed write.")
	fs.DurationVar(&c.RetryMax, "pipeline.retry-max", 15*time.Second, "Longest wait between retries of a failed write.")
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBatchRows < 1:
		return errors.New("pipeline.max-batch-rows must be at least 1")
	case c.MaxBatchBytes < 1:
		return errors.New("pipeline.max-batch-bytes must be at least 1")
	case c.MaxBatchAge <= 0 || c.IdleMark <= 0:
		return errors.New("pipeline.max-batch-age and pipeline.idle-mark must be positive")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("pipeline.retry-min must be positive and at most pipeline.retry-max")
	}
	return nil
}

// Decoder turns one message into one event version. An error wrapping
// risk.ErrInvalid sends the message to quarantine; any other error is a bug
// in the decoder and is treated the same way, so that it cannot stop a feed.
type Decoder func(kafka.Message) (risk.Event, error)

// fetcher is the part of *kafka.Reader (in a consumer group) the ingester uses.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
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
}

// Rejected is a message that could not be decoded or validated.
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
	EventTime  time.Time // newest updateTime stored from this partition
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
	marks  map[int]Watermark // per partition, carried across batches
	caught map[int]bool      // per partition: its last batch reached the high watermark
}

// NewIngester returns an ingester of one feed. seal encrypts the raw value of
// a rejected message, which may hold personal data.
func NewIngester(source risk.Source, in fetcher, out sink, decode Decoder, seal func([]byte) string, m *Metrics, cfg Config, log *slog.Logger) *Ingester {
	return &Ingester{
		source: source, in: in, out: out, decode: decode, seal: seal, cfg: cfg,
		log:   log.With("component", "pipeline", "source", source),
		m:     m.forSource(source),
		marks: map[int]Watermark{}, caught: map[int]bool{},
	}
}

// Run consumes until ctx is cancelled or the reader fails. One batch is
// written while the next one fills; when the writer falls behind (ClickHouse
// slow or down) the reader stops fetching, so memory stays bounded by two
// batches and the reader's queue. A failed write is retried with backoff for
// as long as ctx lives. On cancel, Run flushes what it has for up to 10
// seconds and returns after its writer goroutine has.
func (g *Ingester) Run(ctx context.Context) error {
	full := make(chan *batch) // unbuffered: one batch written, one filling
	done := make(chan error, 1)
	go func() { done <- g.writeLoop(ctx, full) }()
	err := g.readLoop(ctx, full)
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
				full <- b // the writer is still draining: it takes this last one
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
		g.add(b, msg)
		if b.size() >= g.cfg.MaxBatchRows || b.bytes >= g.cfg.MaxBatchBytes {
			if !hand() {
				return nil
			}
		}
	}
}

func (g *Ingester) add(b *batch, msg kafka.Message) {
	if b.size() == 0 {
		b.opened = time.Now()
	}
	b.bytes += len(msg.Value) + len(msg.Key)
	b.track(msg)
	e, err := g.decode(msg)
	if err != nil {
		level := slog.LevelWarn
		if !errors.Is(err, risk.ErrInvalid) {
			level = slog.LevelError // a decoder bug; the message is quarantined all the same
		}
		g.log.Log(context.Background(), level, "message rejected", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
		b.rejects = append(b.rejects, Rejected{
			Source: g.source, Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
			Key: string(msg.Key), Sealed: g.seal(msg.Value), Headers: msg.Headers, Reason: err.Error(),
		})
		return
	}
	if len(e.Warnings) > 0 {
		g.m.warnings.Add(float64(len(e.Warnings)))
	}
	b.events = append(b.events, Stored{Event: e, Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
	w := b.last[msg.Partition]
	if e.UpdatedAt.After(w.EventTime) {
		w.EventTime = e.UpdatedAt
		b.last[msg.Partition] = w
	}
}

func (g *Ingester) writeLoop(ctx context.Context, full <-chan *batch) error {
	for b := range full {
		if ctx.Err() != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := g.flush(fctx, b)
			cancel()
			if err != nil {
				g.log.Warn("final flush failed; the batch will be replayed", "rows", b.size(), "err", err)
			}
			continue
		}
		g.flushRetrying(ctx, b)
	}
	return nil
}

// flushRetrying retries a batch until it is stored or ctx ends. It never
// drops a batch: what is not committed is replayed by the next consumer.
func (g *Ingester) flushRetrying(ctx context.Context, b *batch) {
	wait := g.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := g.flush(ctx, b)
		if err == nil {
			g.m.stalled.Set(0)
			return
		}
		if ctx.Err() != nil {
			g.log.Warn("flush abandoned at shutdown; the batch will be replayed", "rows", b.size(), "err", err)
			return
		}
		g.m.stalled.Set(1)
		g.m.retries.Inc()
		g.log.Warn("flush failed; retrying", "rows", b.size(), "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		wait = min(2*wait, g.cfg.RetryMax)
	}
}

// flush writes the events, then the rejected messages, then commits. A
// failure before the commit leaves the batch to be written again.
func (g *Ingester) flush(ctx context.Context, b *batch) error {
	if b.size() == 0 {
		return g.heartbeat(ctx)
	}
	start := time.Now()
	if len(b.events) > 0 && !b.eventsDone {
		if err := g.out.WriteEvents(ctx, b.events); err != nil {
			return fmt.Errorf("write %d events: %w", len(b.events), err)
		}
		b.eventsDone = true // a retry of the rest does not write them twice
	}
	if len(b.rejects) > 0 && !b.rejectsDone {
		if err := g.out.WriteRejected(ctx, b.rejects); err != nil {
			return fmt.Errorf("write %d rejected messages: %w", len(b.rejects), err)
		}
		b.rejectsDone = true
	}
	marks := g.advance(b)
	if err := g.out.WriteWatermarks(ctx, marks); err != nil {
		return fmt.Errorf("write %d watermarks: %w", len(marks), err)
	}
	if err := g.in.CommitMessages(ctx, b.commits()...); err != nil {
		return fmt.Errorf("commit %d partitions: %w", len(b.next), err)
	}
	for _, w := range marks {
		g.marks[w.Partition] = w
		g.caught[w.Partition] = w.NextOffset >= b.high[w.Partition]
	}
	g.m.stored.Add(float64(len(b.events)))
	g.m.rejected.Add(float64(len(b.rejects)))
	g.m.flushSeconds.Observe(time.Since(start).Seconds())
	g.log.Debug("batch stored", "events", len(b.events), "rejected", len(b.rejects), "filled_in", start.Sub(b.opened), "took", time.Since(start))
	return nil
}

// heartbeat moves the watermark of every caught-up partition to the clock:
// with nothing more to read, ingestion has passed now. Event-time detectors
// wait for every partition, so an idle feed must not hold them back.
func (g *Ingester) heartbeat(ctx context.Context) error {
	now := time.Now().UTC()
	var marks []Watermark
	for p, ok := range g.caught {
		if w := g.marks[p]; ok && now.After(w.EventTime) {
			w.EventTime = now
			marks = append(marks, w)
		}
	}
	if err := g.out.WriteWatermarks(ctx, marks); err != nil {
		return fmt.Errorf("write %d idle watermarks: %w", len(marks), err)
	}
	for _, w := range marks {
		g.marks[w.Partition] = w
	}
	return nil
}

// advance returns the watermarks after b: the running newest event time of
// each partition it touched, and the offset after its last message.
func (g *Ingester) advance(b *batch) []Watermark {
	marks := make([]Watermark, 0, len(b.next))
	for p, next := range b.next {
		w := g.marks[p]
		w.Topic, w.Partition, w.NextOffset = b.topic, p, next
		if t := b.last[p].EventTime; t.After(w.EventTime) {
			w.EventTime = t
		}
		marks = append(marks, w)
	}
	return marks
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
	last        map[int]Watermark // partition → newest event time in this batch
	eventsDone  bool
	rejectsDone bool
}

func (b *batch) size() int { return b.count }

func (b *batch) track(msg kafka.Message) {
	if b.next == nil {
		b.next, b.last, b.high = map[int]int64{}, map[int]Watermark{}, map[int]int64{}
	}
	b.high[msg.Partition] = max(b.high[msg.Partition], msg.HighWaterMark)
	b.count++
	b.topic = msg.Topic
	if msg.Offset+1 > b.next[msg.Partition] {
		b.next[msg.Partition] = msg.Offset + 1
	}
}

// commits are the messages whose offsets, committed, cover the batch:
// kafka-go commits offset+1 of the message it is given.
func (b *batch) commits() []kafka.Message {
	msgs := make([]kafka.Message, 0, len(b.next))
	for p, next := range b.next {
		msgs = append(msgs, kafka.Message{Topic: b.topic, Partition: p, Offset: next - 1})
	}
	return msgs
}
