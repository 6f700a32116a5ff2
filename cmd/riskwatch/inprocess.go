package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// feedDecoders maps each feed to its decoder.
func feedDecoders(n *normalize.Normalizer) map[risk.Source]pipeline.Decoder {
	return map[risk.Source]pipeline.Decoder{risk.SourceHotline: n.Hotline, risk.SourcePetition: n.Petition, risk.SourceGrid: n.Grid}
}

// startIngesters runs one ingester per feed against the brokers, writing to
// conn, for the benchmarks and the demo. stop cancels them and waits.
func startIngesters(ctx context.Context, brokers []string, conn driver.Conn, n *normalize.Normalizer, p *normalize.Protector, c *config, log *slog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	w := pipeline.NewEventWriter(conn)
	decoders := feedDecoders(n)
	for _, f := range c.feeds() {
		r, err := feedReader(pipeline.Brokers{Addrs: brokers}, f, nil, log)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		g := pipeline.NewIngester(f.Source, r, w, decoders[f.Source], p.SealBytes, m, c.Pipeline, log)
		wg.Go(func() {
			defer r.Close()
			g.Run(ctx)
		})
	}
	return func() { cancel(); wg.Wait() }, nil
}

// ingestAll produces msgs into an in-memory embedded broker and ingests them
// into conn with the real ingesters until every offset is committed:
// committed means stored or quarantined. produced is called once the last
// message is on the broker; report, when set, with how many are committed.
func ingestAll(ctx context.Context, conn driver.Conn, msgs map[risk.Source][]kafka.Message, n *normalize.Normalizer, p *normalize.Protector, c *config, log *slog.Logger, produced func(), report func(done, total int)) error {
	feeds := c.feeds()
	b, err := c.memoryBroker(ctx)
	if err != nil {
		return err
	}
	defer b.Close()
	stop, err := startIngesters(ctx, []string{b.Addr()}, conn, n, p, c, log)
	if err != nil {
		return err
	}
	defer stop()
	if err := benchProduce(ctx, b.Addr(), feeds, msgs); err != nil {
		return err
	}
	produced()
	return committedAll(ctx, b.Addr(), feeds, msgs, report)
}

// ingestFilled produces msgs into an in-memory embedded broker first, then
// starts the real ingesters and times them draining it until every offset
// is committed: a replica catching up, with no producer on its cores.
func ingestFilled(ctx context.Context, conn driver.Conn, msgs map[risk.Source][]kafka.Message, n *normalize.Normalizer, p *normalize.Protector, c *config, log *slog.Logger, report func(done, total int)) (time.Duration, error) {
	feeds := c.feeds()
	b, err := c.memoryBroker(ctx)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	if err := benchProduce(ctx, b.Addr(), feeds, msgs); err != nil {
		return 0, err
	}
	start := time.Now()
	stop, err := startIngesters(ctx, []string{b.Addr()}, conn, n, p, c, log)
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := committedAll(ctx, b.Addr(), feeds, msgs, report); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// committedAll waits until every message of msgs is committed by its feed's
// group: stored or quarantined. report, when set, is told how many are.
func committedAll(ctx context.Context, addr string, feeds []pipeline.Feed, msgs map[risk.Source][]kafka.Message, report func(done, total int)) error {
	cl := &kafka.Client{Addr: kafka.TCP(addr)}
	total := 0
	for _, ms := range msgs {
		total += len(ms)
	}
	for {
		done, all := true, 0
		for _, f := range feeds {
			ps, err := pipeline.Lag(ctx, cl, f)
			if err != nil {
				return err
			}
			committed := 0
			for _, p := range ps {
				committed += int(max(p.CommittedOffset, 0))
			}
			done = done && committed == len(msgs[f.Source])
			all += committed
		}
		if report != nil {
			report(all, total)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
