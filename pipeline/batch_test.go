package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
)

// queue is a fake fetcher: it hands out its messages, then blocks like an
// idle topic, and records commits.
type queue struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	committed []int64 // offsets passed to CommitMessages, in order
}

func (q *queue) FetchMessage(ctx context.Context) (kafka.Message, error) {
	q.mu.Lock()
	if len(q.msgs) > 0 {
		m := q.msgs[0]
		q.msgs = q.msgs[1:]
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
		q.committed = append(q.committed, m.Offset)
	}
	return nil
}

// memSink is a fake sink that records flush sizes and can fail.
type memSink struct {
	mu      sync.Mutex
	flushes []int
	marks   []pipeline.Watermark
	failing bool
}

func (s *memSink) WriteEvents(_ context.Context, events []pipeline.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("clickhouse is down")
	}
	s.flushes = append(s.flushes, len(events))
	return nil
}
func (s *memSink) WriteRejected(context.Context, []pipeline.Rejected) error { return nil }
func (s *memSink) WriteWatermarks(_ context.Context, marks []pipeline.Watermark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks = append(s.marks, marks...)
	return nil
}

func decodeAny(m kafka.Message) (risk.Event, error) {
	// An hour before the (fake) clock: synctest's clock starts in 2000.
	return risk.Event{Source: risk.SourceHotline, ID: string(m.Key), UpdatedAt: time.Now().Add(-time.Hour)}, nil
}

func messages(n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "t", Offset: int64(i), HighWaterMark: int64(n), Key: []byte{byte(i)}, Value: []byte("{}")}
	}
	return msgs
}

func TestBatchesFlushOnRowsAndAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(25)}
		s := &memSink{}
		cfg := pipeline.Config{MaxBatchRows: 10, MaxBatchBytes: 1 << 20, MaxBatchAge: 5 * time.Second, IdleMark: 30 * time.Second, RetryMin: time.Second, RetryMax: 4 * time.Second}
		g := pipeline.NewIngester(risk.SourceHotline, q, s, decodeAny, func(b []byte) string { return "" }, newMetrics(), cfg, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- g.Run(ctx) }()

		synctest.Wait()
		if got := len(s.flushes); got != 2 {
			t.Fatalf("after 25 messages: %d flushes, want 2 full batches of 10", got)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := len(s.flushes); got != 2 {
			t.Fatalf("the open batch flushed before its age: %v", s.flushes)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if want := []int{10, 10, 5}; !slices.Equal(s.flushes, want) {
			t.Fatalf("flushes %v, want %v: the last 5 by age", s.flushes, want)
		}
		if want := []int64{9, 19, 24}; !slices.Equal(q.committed, want) {
			t.Errorf("committed %v, want %v", q.committed, want)
		}
		last := s.marks[len(s.marks)-1]
		if last.NextOffset != 25 || time.Since(last.EventTime) < time.Hour {
			t.Errorf("watermark after the last batch %+v, want next offset 25 at the newest updateTime, an hour ago", last)
		}

		// Idle and caught up: the watermark follows the clock.
		time.Sleep(31 * time.Second)
		synctest.Wait()
		idle := s.marks[len(s.marks)-1]
		if !idle.EventTime.After(last.EventTime) || time.Since(idle.EventTime) > 30*time.Second || idle.NextOffset != 25 {
			t.Errorf("idle watermark %+v at %v, want the clock of the last 30 s and next offset 25", idle, time.Now())
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestFailedWriteRetriesAndHoldsCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &queue{msgs: messages(10)}
		s := &memSink{failing: true}
		cfg := pipeline.Config{MaxBatchRows: 10, MaxBatchBytes: 1 << 20, MaxBatchAge: time.Second, IdleMark: 30 * time.Second, RetryMin: time.Second, RetryMax: 4 * time.Second}
		m := newMetrics()
		g := pipeline.NewIngester(risk.SourceHotline, q, s, decodeAny, func(b []byte) string { return "" }, m, cfg, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- g.Run(ctx) }()

		time.Sleep(time.Minute) // ClickHouse down for a minute
		synctest.Wait()
		if len(q.committed) != 0 {
			t.Fatalf("committed %v while nothing was stored", q.committed)
		}
		select {
		case err := <-done:
			t.Fatalf("ingester gave up during the outage: %v", err)
		default:
		}
		s.mu.Lock()
		s.failing = false
		s.mu.Unlock()
		time.Sleep(7 * time.Second) // at most one backoff: RetryMax plus half of it as jitter
		synctest.Wait()
		if want := []int64{9}; !slices.Equal(q.committed, want) {
			t.Errorf("committed %v after ClickHouse returned, want %v", q.committed, want)
		}
		if got, _ := m.Consumed(risk.SourceHotline); got != 10 {
			t.Errorf("stored %v messages, want 10", got)
		}
		cancel()
		<-done
	})
}
