package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
)

// queue is a fake fetcher of one partition: it hands out its messages in
// order, then blocks like an idle topic, and records commits. After Rewind
// it hands out again every message after the last commit.
type queue struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	next      int
	committed []int64 // offsets passed to CommitMessages, in order
	panicAt   int64   // FetchMessage panics once, instead of returning this offset; 0: never
	onCommit  func(offset int64)
}

func (q *queue) FetchMessage(ctx context.Context) (kafka.Message, error) {
	q.mu.Lock()
	if q.next < len(q.msgs) {
		m := q.msgs[q.next]
		if q.panicAt != 0 && m.Offset == q.panicAt {
			q.panicAt = 0
			q.mu.Unlock()
			panic("fetcher bug")
		}
		q.next++
		q.mu.Unlock()
		return m, nil
	}
	q.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (q *queue) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		if q.onCommit != nil {
			q.onCommit(m.Offset)
		}
		q.committed = append(q.committed, m.Offset)
	}
	return nil
}

func (q *queue) Claim(int) (int64, bool) { return 1, true }

func (q *queue) Rewind() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next = 0
	if n := len(q.committed); n > 0 {
		q.next = int(q.committed[n-1]) + 1
	}
}

func (q *queue) commits() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.committed)
}

// memSink is a fake sink that keeps what it stored. write, when set, is
// called with each insert of events before it is stored, and may refuse it.
type memSink struct {
	mu      sync.Mutex
	flushes []int
	events  []pipeline.Stored
	rejects []pipeline.Rejected
	marks   []pipeline.Watermark
	failing bool
	write   func([]pipeline.Stored) error
	mark    func([]pipeline.Watermark)
}

func (s *memSink) WriteEvents(_ context.Context, events []pipeline.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("clickhouse is down")
	}
	if s.write != nil {
		if err := s.write(events); err != nil {
			return err
		}
	}
	s.flushes = append(s.flushes, len(events))
	s.events = append(s.events, events...)
	return nil
}

func (s *memSink) WriteRejected(_ context.Context, rejects []pipeline.Rejected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects = append(s.rejects, rejects...)
	return nil
}

func (s *memSink) WriteWatermarks(_ context.Context, marks []pipeline.Watermark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mark != nil {
		s.mark(marks)
	}
	s.marks = append(s.marks, marks...)
	return nil
}

func (s *memSink) setFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// sinkView is a copy of what a memSink holds.
type sinkView struct {
	flushes []int
	events  []pipeline.Stored
	rejects []pipeline.Rejected
	marks   []pipeline.Watermark
}

func (s *memSink) view() sinkView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sinkView{slices.Clone(s.flushes), slices.Clone(s.events), slices.Clone(s.rejects), slices.Clone(s.marks)}
}

// timesStored counts how often each offset was stored.
func (v sinkView) timesStored() map[int64]int {
	n := map[int64]int{}
	for _, e := range v.events {
		n[e.Offset]++
	}
	return n
}

func (v sinkView) rejectedOffsets() []int64 {
	var out []int64
	for _, r := range v.rejects {
		out = append(out, r.Offset)
	}
	slices.Sort(out)
	return out
}

func decodeAny(m kafka.Message) (risk.Event, error) {
	// An hour before the (fake) clock: synctest's clock starts in 2000.
	return risk.Event{Source: risk.SourceHotline, ID: string(m.Key), UpdatedAt: time.Now().Add(-time.Hour), OccurredAt: time.Now().Add(-2 * time.Hour)}, nil
}

func messages(n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "t", Offset: int64(i), HighWaterMark: int64(n), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return msgs
}

func sealed(b []byte) string { return "sealed:" + string(b) }

// unitConfig batches by rows, with timers of seconds for synctest.
func unitConfig(rows int) pipeline.Config {
	return pipeline.Config{MaxBatchRows: rows, MaxBatchBytes: 1 << 20, MaxBatchAge: 5 * time.Second, IdleMark: 30 * time.Second,
		RetryMin: time.Second, RetryMax: 4 * time.Second, MaxSkew: 15 * time.Minute, Earliest: time.Date(1999, 1, 1, 0, 0, 0, 0, risk.CST)}
}

// run starts an ingester of q into s and returns the stop function, which
// cancels it and returns Run's error.
func run(q *queue, s *memSink, decode pipeline.Decoder, m *pipeline.Metrics, cfg pipeline.Config) (cancel func() error) {
	g := pipeline.NewIngester(risk.SourceHotline, q, s, decode, sealed, m, cfg, slog.New(slog.DiscardHandler))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	return func() error { stop(); return <-done }
}

func TestBatchesFlushOnRowsAndAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(25)}
		s := &memSink{}
		stop := run(q, s, decodeAny, newMetrics(), unitConfig(10))

		synctest.Wait()
		if got := s.view().flushes; len(got) != 2 {
			t.Fatalf("after 25 messages: flushes %v, want 2 full batches of 10", got)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := s.view().flushes; len(got) != 2 {
			t.Fatalf("the open batch flushed before its age: %v", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		v := s.view()
		if want := []int{10, 10, 5}; !slices.Equal(v.flushes, want) {
			t.Fatalf("flushes %v, want %v: the last 5 by age", v.flushes, want)
		}
		if want := []int64{9, 19, 24}; !slices.Equal(q.commits(), want) {
			t.Errorf("committed %v, want %v", q.commits(), want)
		}
		last := v.marks[len(v.marks)-1]
		if last.NextOffset != 25 || time.Since(last.EventTime) < time.Hour {
			t.Errorf("watermark after the last batch %+v, want next offset 25 at the newest updateTime, an hour ago", last)
		}

		// Idle and caught up: the watermark follows the clock.
		time.Sleep(31 * time.Second)
		synctest.Wait()
		v = s.view()
		idle := v.marks[len(v.marks)-1]
		if !idle.EventTime.After(last.EventTime) || time.Since(idle.EventTime) > 30*time.Second || idle.NextOffset != 25 {
			t.Errorf("idle watermark %+v at %v, want the clock of the last 30 s and next offset 25", idle, time.Now())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFailedWriteRetriesAndHoldsCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(10)}
		s := &memSink{failing: true}
		m := newMetrics()
		g := pipeline.NewIngester(risk.SourceHotline, q, s, decodeAny, sealed, m, unitConfig(10), slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- g.Run(ctx) }()

		time.Sleep(time.Minute) // ClickHouse down for a minute
		synctest.Wait()
		if c := q.commits(); len(c) != 0 {
			t.Fatalf("committed %v while nothing was stored", c)
		}
		select {
		case err := <-done:
			t.Fatalf("ingester gave up during the outage: %v", err)
		default:
		}
		s.setFailing(false)
		time.Sleep(7 * time.Second) // at most one backoff: RetryMax plus half of it as jitter
		synctest.Wait()
		if want := []int64{9}; !slices.Equal(q.commits(), want) {
			t.Errorf("committed %v after ClickHouse returned, want %v", q.commits(), want)
		}
		if got, _ := m.Consumed(risk.SourceHotline); got != 10 {
			t.Errorf("stored %v messages, want 10", got)
		}
		cancel()
		<-done
	})
}

// TestShutdownCommitsNothingAfterAnAbandonedBatch stops the ingester while
// the insert of its second batch is failing and a third batch is filling:
// the second cannot be stored before the grace period ends, so the third,
// although ClickHouse would take it, must not be committed: its offsets
// would cover the second's messages, which would then never be stored.
func TestShutdownCommitsNothingAfterAnAbandonedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(25)}
		ctx, cancel := context.WithCancel(context.Background())
		s := &memSink{write: func(events []pipeline.Stored) error {
			if events[0].Offset != 10 {
				return nil
			}
			<-ctx.Done() // in flight when SIGTERM comes, and failing from then on
			return errors.New("write tcp 127.0.0.1:39000: connection reset by peer")
		}}
		g := pipeline.NewIngester(risk.SourceHotline, q, s, decodeAny, sealed, newMetrics(), unitConfig(10), slog.New(slog.DiscardHandler))
		done := make(chan error)
		go func() { done <- g.Run(ctx) }()

		synctest.Wait() // the second batch in flight, the third (20–24) filling
		if want := []int64{9}; !slices.Equal(q.commits(), want) {
			t.Fatalf("committed %v before the shutdown, want %v", q.commits(), want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for _, c := range q.commits() {
			if c >= 10 {
				t.Errorf("committed offset %d after the shutdown: it covers the unstored batch 10–19 (commits %v)", c, q.commits())
			}
		}
	})
}

// refuseRows is a sink's write that refuses, as ClickHouse would, every
// insert holding one of the offsets.
func refuseRows(offsets ...int64) func([]pipeline.Stored) error {
	return func(events []pipeline.Stored) error {
		for _, e := range events {
			if slices.Contains(offsets, e.Offset) {
				return &clickhouse.Exception{Code: 395, Name: "DB::Exception", Message: "Value passed to 'throwIf' function is non zero"}
			}
		}
		return nil
	}
}

// TestRefusedRowsAreQuarantined sends a batch with two rows ClickHouse
// refuses, and loses the connection once in the middle of the bisection:
// every other row is stored exactly once, the two are quarantined with the
// server's reason and their raw values sealed, and the batch is committed.
func TestRefusedRowsAreQuarantined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(20)}
		calls := 0
		refuse := refuseRows(3, 14)
		s := &memSink{write: func(events []pipeline.Stored) error {
			calls++
			if calls == 4 {
				return errors.New("dial tcp 127.0.0.1:19000: connect: connection refused")
			}
			return refuse(events)
		}}
		m := newMetrics()
		stop := run(q, s, decodeAny, m, unitConfig(20))
		time.Sleep(10 * time.Second) // the retry after the lost connection
		synctest.Wait()

		v := s.view()
		stored := v.timesStored()
		for i := range int64(20) {
			want := 1
			if i == 3 || i == 14 {
				want = 0
			}
			if stored[i] != want {
				t.Errorf("offset %d stored %d times, want %d", i, stored[i], want)
			}
		}
		if got := v.rejectedOffsets(); !slices.Equal(got, []int64{3, 14}) {
			t.Errorf("quarantined offsets %v, want [3 14]", got)
		}
		for _, r := range v.rejects {
			if !strings.Contains(r.Reason, "code 395") || !strings.Contains(r.Reason, "throwIf") || r.Sealed != fmt.Sprintf(`sealed:{"n":%d}`, r.Offset) || r.Key != fmt.Sprintf("k%d", r.Offset) {
				t.Errorf("quarantined %+v: want the server's reason, the key and the sealed raw value", r)
			}
		}
		if want := []int64{19}; !slices.Equal(q.commits(), want) {
			t.Errorf("committed %v, want %v", q.commits(), want)
		}
		if st, rej := m.Consumed(risk.SourceHotline); st != 18 || rej != 2 {
			t.Errorf("counted %v stored and %v rejected, want 18 and 2", st, rej)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestImplausibleTimes: an updateTime after the clock plus the skew, or
// before the upstream systems existed, is quarantined; a time raised in the
// future is the updateTime, with a warning; the watermark never passes
// the clock plus the skew.
func TestImplausibleTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		times := map[string][2]time.Time{ // key → updateTime, time raised
			"k0": {now.Add(-time.Hour), now.Add(-2 * time.Hour)},
			"k1": {now.Add(10 * time.Minute), now.Add(-time.Hour)}, // a fast upstream clock: believed
			"k2": {time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), now.Add(-time.Hour)},
			"k3": {time.Date(1998, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(1998, 6, 1, 0, 0, 0, 0, time.UTC)},
			"k4": {now.Add(-time.Hour), now.Add(48 * time.Hour)},
		}
		decode := func(m kafka.Message) (risk.Event, error) {
			t := times[string(m.Key)]
			return risk.Event{Source: risk.SourceHotline, ID: string(m.Key), UpdatedAt: t[0], OccurredAt: t[1]}, nil
		}
		q := &queue{msgs: messages(5)}
		s := &memSink{}
		stop := run(q, s, decode, newMetrics(), unitConfig(5))
		synctest.Wait()

		v := s.view()
		if got := v.rejectedOffsets(); !slices.Equal(got, []int64{2, 3}) {
			t.Errorf("quarantined offsets %v, want [2 3]: the 2099 and the 1998 updateTime", got)
		}
		for _, r := range v.rejects {
			want := map[int64]string{2: "pipeline.max-skew", 3: "pipeline.earliest"}[r.Offset]
			if !strings.Contains(r.Reason, want) {
				t.Errorf("offset %d quarantined for %q, want a reason naming %s", r.Offset, r.Reason, want)
			}
		}
		for _, e := range v.events {
			if e.ID == "k4" && (!e.OccurredAt.Equal(e.UpdatedAt) || len(e.Warnings) != 1) {
				t.Errorf("k4 stored raised at %v with warnings %q, want its updateTime %v and a warning", e.OccurredAt, e.Warnings, e.UpdatedAt)
			}
		}
		for _, w := range v.marks {
			if w.EventTime.After(now.Add(15 * time.Minute)) {
				t.Errorf("watermark %v is past the clock plus the skew", w.EventTime)
			}
		}
		if last := v.marks[len(v.marks)-1]; !last.EventTime.Equal(now.Add(10 * time.Minute)) {
			t.Errorf("watermark %v, want the newest plausible updateTime %v", last.EventTime, now.Add(10*time.Minute))
		}
		if want := []int64{4}; !slices.Equal(q.commits(), want) {
			t.Errorf("committed %v, want %v", q.commits(), want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDecoderPanic: a decoder that panics on one message quarantines that
// message, and the feed goes on.
func TestDecoderPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		decode := func(m kafka.Message) (risk.Event, error) {
			if string(m.Key) == "k2" {
				var fields []string
				_ = fields[len(m.Key)] // a decoder bug
			}
			return decodeAny(m)
		}
		q := &queue{msgs: messages(5)}
		s := &memSink{}
		stop := run(q, s, decode, newMetrics(), unitConfig(5))
		synctest.Wait()

		v := s.view()
		if len(v.rejects) != 1 || v.rejects[0].Offset != 2 || !strings.HasPrefix(v.rejects[0].Reason, "decoder panic: runtime error: index out of range") {
			t.Errorf("quarantined %+v, want offset 2 with a decoder panic", v.rejects)
		}
		if n := len(v.events); n != 4 {
			t.Errorf("stored %d events, want the other 4", n)
		}
		if want := []int64{4}; !slices.Equal(q.commits(), want) {
			t.Errorf("committed %v, want %v", q.commits(), want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLoopPanicRestartsFromTheLastCommit panics once in the reader (the
// fetcher) and once in the writer (the sink, between storing a batch and
// committing it): each time the ingester starts again from the last commit
// and goes on, and no offset is ever committed before every message up to
// it was stored.
func TestLoopPanicRestartsFromTheLastCommit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		panicAt int64 // fetcher panics instead of returning this offset
		markAt  int64 // sink panics when asked for this watermark's next offset
	}{
		{"reader", 15, 0},
		{"writer", 0, 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &memSink{}
				s.mark = func(marks []pipeline.Watermark) {
					for _, w := range marks {
						if w.NextOffset == tt.markAt {
							tt.markAt = 0
							panic("sink bug")
						}
					}
				}
				q := &queue{msgs: messages(30), panicAt: tt.panicAt}
				q.onCommit = func(offset int64) {
					stored := s.view().timesStored()
					for i := range offset + 1 {
						if stored[i] == 0 {
							t.Errorf("offset %d committed before offset %d was stored", offset, i)
							return
						}
					}
				}
				stop := run(q, s, decodeAny, newMetrics(), unitConfig(10))
				time.Sleep(30 * time.Second)
				synctest.Wait()
				c := q.commits()
				if len(c) == 0 || c[len(c)-1] != 29 {
					t.Errorf("committed %v after the panic, want the last offset 29 committed in the end", c)
				}
				if got := slices.Sorted(maps.Keys(s.view().timesStored())); len(got) != 30 {
					t.Errorf("stored offsets %v, want all 30", got)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestRejectionReasonsAreMasked: a reason that quotes a personal number of
// the message (a decoder's, or the server's refusal) is stored with the
// number masked, as in the records' text.
func TestRejectionReasonsAreMasked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		decode := func(m kafka.Message) (risk.Event, error) {
			if string(m.Key) == "k1" {
				return risk.Event{}, fmt.Errorf("contactTel %q is not a phone: %w", "13805712345x", risk.ErrInvalid)
			}
			return decodeAny(m)
		}
		q := &queue{msgs: messages(3)}
		s := &memSink{}
		stop := run(q, s, decode, newMetrics(), unitConfig(3))
		synctest.Wait()
		v := s.view()
		if len(v.rejects) != 1 || strings.Contains(v.rejects[0].Reason, "13805712345") || !strings.Contains(v.rejects[0].Reason, "138****2345") {
			t.Errorf("quarantined %+v, want offset 1 with the number masked in its reason", v.rejects)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}
