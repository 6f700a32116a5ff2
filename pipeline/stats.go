package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
)

// Feed binds an upstream feed to its topic and the consumer group that
// reads it. Each feed has a group of its own, so that a rebalance of one
// feed's readers never stops the others.
type Feed struct {
	Source risk.Source
	Topic  string
	Group  string
}

// FeedStats is the state of ingestion of one feed, as /api/v1/ingest/stats
// shows it.
type FeedStats struct {
	Source           risk.Source      `json:"source"`
	Topic            string           `json:"topic"`
	MessagesConsumed int64            `json:"messages_consumed"`  // stored or quarantined by this process since it started
	Records          uint64           `json:"distinct_records"`   // distinct upstream records, deleted ones included
	Matters          uint64           `json:"matters"`            // distinct records not deleted upstream
	Versions         uint64           `json:"versions_stored"`    // distinct (record, version) pairs
	VersionsLastHour uint64           `json:"versions_last_hour"` // of those, ingested in the last hour (every replica)
	VersionsLastDay  uint64           `json:"versions_last_day"`  // and in the last 24 hours
	Quarantined      uint64           `json:"quarantined"`        // messages in rejected_events
	Lag              int64            `json:"consumer_lag"`       // messages on the topic not yet committed by the group
	Watermark        *time.Time       `json:"watermark"`          // the oldest partition's newest event time: ingestion has passed it on every partition
	Partitions       []PartitionStats `json:"partitions"`
}

// PartitionStats is the state of one partition of a feed's topic.
type PartitionStats struct {
	Partition       int        `json:"partition"`
	EndOffset       int64      `json:"end_offset"`
	CommittedOffset int64      `json:"committed_offset"` // -1 before the group's first commit
	Lag             int64      `json:"lag"`
	NewestEventTime *time.Time `json:"newest_event_time"` // ingest watermark: newest updateTime stored
}

// StatsReader reads ingestion statistics from ClickHouse and the broker.
type StatsReader struct {
	conn    driver.Conn
	kafka   *kafka.Client
	feeds   []Feed
	metrics *Metrics
}

// NewStatsReader returns a reader for feeds on the brokers.
func NewStatsReader(conn driver.Conn, b Brokers, feeds []Feed, m *Metrics) *StatsReader {
	return &StatsReader{conn: conn, kafka: b.Client(5 * time.Second), feeds: feeds, metrics: m}
}

// Stats returns one FeedStats per feed. An unreachable ClickHouse or broker
// is an error: the caller must not show zeros for "unknown".
func (s *StatsReader) Stats(ctx context.Context) ([]FeedStats, error) {
	out := make([]FeedStats, len(s.feeds))
	bySource := map[string]*FeedStats{}
	byTopic := map[string]*FeedStats{}
	for i, f := range s.feeds {
		out[i] = FeedStats{Source: f.Source, Topic: f.Topic, Partitions: []PartitionStats{}}
		stored, rejected := s.metrics.Consumed(f.Source)
		out[i].MessagesConsumed = int64(stored + rejected)
		bySource[string(f.Source)] = &out[i]
		byTopic[f.Topic] = &out[i]
	}
	for i := range out {
		if err := s.partitions(ctx, s.feeds[i], &out[i]); err != nil {
			return nil, err
		}
	}
	err := s.scan(ctx, `SELECT source, count(), countIf(status != 'deleted') FROM events FINAL GROUP BY source`, func(rows driver.Rows) error {
		var src string
		var records, matters uint64
		if err := rows.Scan(&src, &records, &matters); err != nil {
			return err
		}
		if f := bySource[src]; f != nil {
			f.Records, f.Matters = records, matters
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.scan(ctx, `SELECT source, count(), countIf(ingested_at >= now() - 3600), countIf(ingested_at >= now() - 86400)
		FROM event_versions FINAL GROUP BY source`, func(rows driver.Rows) error {
		var src string
		var n, hour, day uint64
		if err := rows.Scan(&src, &n, &hour, &day); err != nil {
			return err
		}
		if f := bySource[src]; f != nil {
			f.Versions, f.VersionsLastHour, f.VersionsLastDay = n, hour, day
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.scan(ctx, `SELECT topic, count() FROM rejected_events FINAL GROUP BY topic`, func(rows driver.Rows) error {
		var topic string
		var n uint64
		if err := rows.Scan(&topic, &n); err != nil {
			return err
		}
		if f := byTopic[topic]; f != nil {
			f.Quarantined = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.watermarks(ctx, byTopic); err != nil {
		return nil, err
	}
	return out, nil
}

// watermarks fills each feed's partitions' newest event times, and the
// feed's watermark, from ingest_watermarks.
func (s *StatsReader) watermarks(ctx context.Context, byTopic map[string]*FeedStats) error {
	err := s.scan(ctx, `SELECT topic, partition, argMax(event_time, (next_offset, written_at)) FROM ingest_watermarks GROUP BY topic, partition`, func(rows driver.Rows) error {
		var topic string
		var p int32
		var t time.Time
		if err := rows.Scan(&topic, &p, &t); err != nil {
			return err
		}
		f := byTopic[topic]
		if f == nil || t.Unix() <= 0 {
			return nil
		}
		t = t.UTC()
		i := slices.IndexFunc(f.Partitions, func(ps PartitionStats) bool { return ps.Partition == int(p) })
		if i < 0 {
			f.Partitions = append(f.Partitions, PartitionStats{Partition: int(p), CommittedOffset: -1})
			i = len(f.Partitions) - 1
		}
		f.Partitions[i].NewestEventTime = &t
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range byTopic {
		f.Watermark = oldestWatermark(f.Partitions)
	}
	return nil
}

// oldestWatermark is the event time that every partition has passed; nil
// while a partition has stored nothing.
func oldestWatermark(ps []PartitionStats) *time.Time {
	var oldest *time.Time
	for _, p := range ps {
		if p.NewestEventTime == nil {
			if p.EndOffset > 0 {
				return nil
			}
			continue
		}
		if oldest == nil || p.NewestEventTime.Before(*oldest) {
			oldest = p.NewestEventTime
		}
	}
	return oldest
}

// partitions fills end offsets, committed offsets and lag from the broker.
func (s *StatsReader) partitions(ctx context.Context, f Feed, out *FeedStats) error {
	ps, err := Lag(ctx, s.kafka, f)
	if err != nil {
		return err
	}
	out.Partitions = ps
	for _, p := range ps {
		out.Lag += p.Lag
	}
	return nil
}

// Lag reads, for each partition of the feed's topic, the end offset, the
// offset committed by the feed's group and the difference.
func Lag(ctx context.Context, cl *kafka.Client, f Feed) ([]PartitionStats, error) {
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{f.Topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", f.Topic, err)
	}
	var list []kafka.OffsetRequest
	var ids []int
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("read metadata of %s: %w", f.Topic, t.Error)
		}
		for _, p := range t.Partitions {
			list = append(list, kafka.LastOffsetOf(p.ID))
			ids = append(ids, p.ID)
		}
	}
	ends, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{f.Topic: list}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", f.Topic, err)
	}
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: f.Group, Topics: map[string][]int{f.Topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", f.Group, err)
	}
	done := map[int]int64{}
	for _, c := range committed.Topics[f.Topic] {
		if c.Error == nil {
			done[c.Partition] = c.CommittedOffset
		}
	}
	var out []PartitionStats
	for _, p := range ends.Topics[f.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", f.Topic, p.Partition, p.Error)
		}
		c, ok := done[p.Partition]
		if !ok {
			c = -1
		}
		lag := p.LastOffset - max(c, 0)
		out = append(out, PartitionStats{Partition: p.Partition, EndOffset: p.LastOffset, CommittedOffset: c, Lag: lag})
	}
	slices.SortFunc(out, func(a, b PartitionStats) int { return a.Partition - b.Partition })
	return out, nil
}

func (s *StatsReader) scan(ctx context.Context, query string, row func(driver.Rows) error) error {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("query ingest stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("read ingest stats: %w", err)
		}
	}
	return rows.Err()
}
