package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/segmentio/kafka-go"
)

// GroupReader reads one topic as a member of a Kafka consumer group: for
// each partition the group assigns it, a kafka-go partition reader starts at
// the group's committed offset. Unlike kafka-go's *kafka.Reader in group
// mode, it says which partitions it holds (Claim), so that its consumer
// never commits or advances the watermark of a partition it lost in a
// rebalance.
//
// One goroutine calls FetchMessage; any may call Claim and CommitMessages.
type GroupReader struct {
	topic string
	group *kafka.ConsumerGroup
	rc    kafka.ReaderConfig
	log   *slog.Logger

	items chan fetched
	wake  chan struct{} // a generation started: FetchMessage installs it
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup

	mu      sync.Mutex
	current *holding // what FetchMessage returns and commits go to; nil between generations
	pending *holding // started, installed by the next FetchMessage

	// Only the group goroutine touches these: the claims of the last
	// generation, carried over by partitions held in the next one.
	lastGen    int32
	lastClaims map[int]int64
	seq        int64
}

// holding is this member's part of one generation of the group.
type holding struct {
	gen    *kafka.Generation
	claims map[int]int64 // partition → claim
	stop   chan struct{} // closed to end the generation (Rewind)
	once   sync.Once
}

func (h *holding) end() { h.once.Do(func() { close(h.stop) }) }

type fetched struct {
	msg kafka.Message
	h   *holding
}

// NewGroupReader joins the consumer group gc (whose Topics name exactly one
// topic) and reads its partitions with readers configured as rc, whose
// Topic, Partition and GroupID it sets itself. It returns at once; the group
// is joined in the background, and Close leaves it.
func NewGroupReader(gc kafka.ConsumerGroupConfig, rc kafka.ReaderConfig, log *slog.Logger) (*GroupReader, error) {
	if len(gc.Topics) != 1 {
		return nil, fmt.Errorf("group %s: want exactly one topic, got %v", gc.ID, gc.Topics)
	}
	group, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("join group %s: %w", gc.ID, err)
	}
	rc.Topic, rc.GroupID = gc.Topics[0], ""
	r := &GroupReader{
		topic: gc.Topics[0], group: group, rc: rc,
		log:   log.With("component", "pipeline", "topic", gc.Topics[0], "group", gc.ID),
		items: make(chan fetched), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	r.wg.Go(r.run)
	return r, nil
}

// run takes each generation of the group as it comes, until Close.
func (r *GroupReader) run() {
	for {
		gen, err := r.group.Next(context.Background())
		switch {
		case errors.Is(err, kafka.ErrGroupClosed):
			return
		case err != nil:
			// The group retries by itself, with backoff.
			r.log.Warn("consumer group", "err", err)
			continue
		}
		h := r.begin(gen)
		r.log.Info("partitions assigned", "generation", gen.ID, "partitions", len(h.claims))
		for _, a := range gen.Assignments[r.topic] {
			gen.Start(func(ctx context.Context) { r.read(ctx, h, a) })
		}
		gen.Start(func(ctx context.Context) {
			select {
			case <-ctx.Done():
			case <-h.stop: // returning ends the generation
			}
			r.end(h)
		})
	}
}

// begin records the claims of a new generation: a partition this member
// also held in the generation just before keeps its claim; any other gets
// a new one.
func (r *GroupReader) begin(gen *kafka.Generation) *holding {
	claims := map[int]int64{}
	for _, a := range gen.Assignments[r.topic] {
		c, ok := r.lastClaims[a.ID]
		if !ok || gen.ID != r.lastGen+1 {
			r.seq++
			c = r.seq
		}
		claims[a.ID] = c
	}
	r.lastGen, r.lastClaims = gen.ID, claims
	h := &holding{gen: gen, claims: claims, stop: make(chan struct{})}
	r.mu.Lock()
	r.pending = h
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return h
}

// end forgets a generation that ended: from now on its partitions are not
// held, their messages not returned, their offsets not committed.
func (r *GroupReader) end(h *holding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == h {
		r.current = nil
	}
	if r.pending == h {
		r.pending = nil
	}
}

// read feeds the messages of one assigned partition to FetchMessage until
// the generation ends. A reader that fails ends the generation: the group
// rebalances and reading resumes from the last commit.
func (r *GroupReader) read(ctx context.Context, h *holding, a kafka.PartitionAssignment) {
	rc := r.rc
	rc.Partition = a.ID
	pr := kafka.NewReader(rc)
	defer pr.Close()
	if err := pr.SetOffset(a.Offset); err != nil {
		r.log.Error("partition reader", "partition", a.ID, "offset", a.Offset, "err", err)
		return
	}
	for {
		m, err := pr.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("partition reader failed; rejoining the group", "partition", a.ID, "err", err)
			}
			return
		}
		select {
		case r.items <- fetched{m, h}:
		case <-ctx.Done():
			return
		}
	}
}

// install makes the pending generation the current one. Only FetchMessage
// calls it, so a claim never appears between a FetchMessage that returned
// and its caller's next call: Claim then reports the claim a returned
// message was read under, or that its partition is no longer held.
func (r *GroupReader) install() {
	if r.pending != nil {
		r.current, r.pending = r.pending, nil
	}
}

// FetchMessage blocks until a message of a partition this member holds is
// available, ctx ends, or the reader is closed (io.EOF). Its offset is not
// committed until CommitMessages is called. Messages read before a
// rebalance are never returned after it.
func (r *GroupReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		r.mu.Lock()
		r.install()
		r.mu.Unlock()
		select {
		case f := <-r.items:
			r.mu.Lock()
			r.install()
			ok := f.h == r.current
			r.mu.Unlock()
			if ok {
				return f.msg, nil
			}
		case <-r.wake:
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		case <-r.done:
			return kafka.Message{}, io.EOF
		}
	}
}

// Claim reports whether this member holds partition p, and under which
// claim: a number that stays the same while p is held without interruption
// and changes when p was lost, or may have been held by another member, in
// between. State kept about p under one claim is worthless under another.
func (r *GroupReader) Claim(p int) (claim int64, held bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == nil {
		return 0, false
	}
	claim, held = r.current.claims[p]
	return claim, held
}

// CommitMessages commits, for each partition of msgs that this member holds,
// the offset after its last message there, in the current generation.
// Offsets of partitions it does not hold are not committed: their holder
// reads those messages again. ctx is not used: kafka-go bounds the request
// with the group's Timeout. An error (the generation ended meanwhile, the
// coordinator unreachable) commits nothing that may be relied on; retry.
func (r *GroupReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	r.mu.Lock()
	h := r.current
	r.mu.Unlock()
	if h == nil {
		return nil
	}
	offsets := map[int]int64{}
	for _, m := range msgs {
		if _, held := h.claims[m.Partition]; held && m.Topic == r.topic {
			offsets[m.Partition] = max(offsets[m.Partition], m.Offset+1)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := h.gen.CommitOffsets(map[string]map[int]int64{r.topic: offsets}); err != nil {
		return fmt.Errorf("commit offsets of %s in generation %d: %w", r.topic, h.gen.ID, err)
	}
	return nil
}

// Rewind ends this member's generation: the group starts a new one, whose
// readers start again from the committed offsets, and nothing read before
// is returned or committed. The ingester calls it after a panic, when it no
// longer knows what it had fetched.
func (r *GroupReader) Rewind() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range []*holding{r.current, r.pending} {
		if h != nil {
			h.end()
		}
	}
	r.current, r.pending = nil, nil
}

// Close leaves the group and waits for the partition readers to stop.
// FetchMessage then returns io.EOF.
func (r *GroupReader) Close() error {
	r.once.Do(func() { close(r.done) })
	err := r.group.Close()
	r.wg.Wait()
	return err
}
