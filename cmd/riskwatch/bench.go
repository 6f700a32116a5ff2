package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
)

// bench measures ingestion in one run, so that the figures compare:
//
//	(a) decode + normalise, one goroutine: messages/s per core;
//	(b) end to end: produce to the embedded broker → rows visible in ClickHouse;
//	(b2) the broker filled first, then drained by the ingesters: ingestion
//	     without the producer on the same cores (a replica catching up);
//	(c) the same rows inserted straight into ClickHouse, the raw limit;
//	(d) heap while ClickHouse is unreachable and the broker keeps filling.
//
// It works in throw-away databases on the ClickHouse of -clickhouse.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "detect" {
		return benchDetect(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "brief" {
		return benchBrief(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "backtest" {
		return benchBacktest(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ingest" {
		return errors.New("usage: riskwatch bench ingest|detect|backtest|brief [flags]")
	}
	var n int
	var outage time.Duration
	var profile string
	c, err := parse("bench ingest", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "n", 1_000_000, "Messages to produce.")
		fs.DurationVar(&outage, "outage", 10*time.Second, "How long (d) keeps ClickHouse unreachable.")
		fs.StringVar(&profile, "cpuprofile", "", "Write a CPU profile of (b) to this file.")
	})
	if err != nil {
		return err
	}
	log := newLogger(stderr, c.LogLevel, c.LogFormat)
	p, err := normalize.NewProtector(bytes.Repeat([]byte("bench-key-"), 4))
	if err != nil {
		return err
	}
	norm := normalize.New(p)
	decoders := feedDecoders(norm)

	fmt.Fprintf(stderr, "generating %d messages…\n", n)
	msgs := benchMessages(n, 1)

	// (a) decode + normalise on one goroutine, keeping nothing, as an
	// ingester does between flushes.
	start := time.Now()
	for _, src := range risk.Sources {
		for _, m := range msgs[src] {
			if _, err := decoders[src](m); err != nil {
				return fmt.Errorf("a generated message was rejected: %w", err)
			}
		}
	}
	decodeRate := float64(n) / time.Since(start).Seconds()
	stored := make([]pipeline.Stored, 0, n)
	for _, src := range risk.Sources {
		for _, m := range msgs[src] {
			e, _ := decoders[src](m)
			stored = append(stored, pipeline.Stored{Event: e, Topic: string(src)})
		}
	}

	// (c) the raw limit: big native inserts of the decoded rows, two at once.
	raw, err := benchDatabase(ctx, c.ClickHouse, "raw")
	if err != nil {
		return err
	}
	defer raw.Drop(context.WithoutCancel(ctx))
	fmt.Fprintln(stderr, "(c) inserting straight into ClickHouse…")
	rawRate, err := benchRawInsert(ctx, pipeline.NewEventWriter(raw.Conn), stored)
	if err != nil {
		return err
	}
	raw.Drop(context.WithoutCancel(ctx)) // stops its background merges, which (b) would otherwise compete with

	stored = nil // let the collector have it: (b) runs with the heap of a real process

	// (b) end to end through the embedded broker and the ingesters.
	e2e, err := benchDatabase(ctx, c.ClickHouse, "e2e")
	if err != nil {
		return err
	}
	defer e2e.Drop(context.WithoutCancel(ctx))
	fmt.Fprintln(stderr, "(b) producing and ingesting end to end…")
	var e2eRate float64
	if err := profiled(profile, func() (err error) {
		e2eRate, err = benchEndToEnd(ctx, e2e.Conn, msgs, norm, p, c, log)
		return err
	}); err != nil {
		return err
	}

	// (b2) the broker filled first: the producer outside the measured path.
	if err := e2e.Drop(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	filled, err := benchDatabase(ctx, c.ClickHouse, "filled")
	if err != nil {
		return err
	}
	defer filled.Drop(context.WithoutCancel(ctx))
	fmt.Fprintln(stderr, "(b2) filling the broker, then ingesting from it…")
	prog := newProgress(stderr, "(b2)", time.Now)
	prog.unit = "messages"
	took, err := ingestFilled(ctx, filled.Conn, msgs, norm, p, c, log, prog.report)
	if err != nil {
		return err
	}
	filledRate := float64(n) / took.Seconds()

	// (d) memory while ClickHouse is down.
	fmt.Fprintf(stderr, "(d) ingesting for %v with ClickHouse unreachable…\n", outage)
	heapBefore, heapSettled, heapPeak, err := benchOutage(ctx, msgs, norm, p, c, outage)
	if err != nil {
		return err
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "messages\t%d\t(hotline %d, petition %d, grid %d)\n", n, len(msgs[risk.SourceHotline]), len(msgs[risk.SourcePetition]), len(msgs[risk.SourceGrid]))
	fmt.Fprintf(tw, "(a) decode+normalise\t%.0f msg/s per core\t\n", decodeRate)
	fmt.Fprintf(tw, "(b) end to end\t%.0f msg/s\tproduce → rows visible in ClickHouse\n", e2eRate)
	fmt.Fprintf(tw, "(c) raw insert\t%.0f rows/s\tsame rows, native batches of 50000, 2 connections\n", rawRate)
	fmt.Fprintf(tw, "(b2) from a filled broker\t%.0f msg/s\tthe ingesters alone: consume → rows visible in ClickHouse\n", filledRate)
	fmt.Fprintf(tw, "(b)/(c), (b2)/(c)\t%.2f, %.2f\t\n", e2eRate/rawRate, filledRate/rawRate)
	fmt.Fprintf(tw, "(d) heap, ClickHouse down\t%.0f MiB before, %.0f MiB once the buffers filled, %.0f MiB peak after\t%d messages waiting on the broker; peak/filled %.2f\n",
		mib(heapBefore), mib(heapSettled), mib(heapPeak), n, float64(heapPeak)/float64(heapSettled))
	fmt.Fprintf(tw, "machine\t%d CPUs, GOMAXPROCS %d\t\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	return tw.Flush()
}

// waitMerges waits until the server merges no parts, so that one phase does
// not pay for the last one's inserts.
func waitMerges(ctx context.Context, conn driver.Conn) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		var n uint64
		if err := conn.QueryRow(ctx, `SELECT count() FROM system.merges`).Scan(&n); err != nil {
			return fmt.Errorf("read system.merges: %w", err)
		}
		if n == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil // a busy server is measured as it is
}

// benchDatabase is a throw-away database for a measurement, returned once
// the server has finished merging, so that one phase does not pay for the
// last one's inserts.
func benchDatabase(ctx context.Context, dsn, name string) (*schema.TempDatabase, error) {
	db, err := schema.CreateTemp(ctx, dsn, "riskwatch_bench_"+name)
	if err != nil {
		return nil, err
	}
	if err := waitMerges(ctx, db.Conn); err != nil {
		db.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

func benchRawInsert(ctx context.Context, w *pipeline.EventWriter, rows []pipeline.Stored) (float64, error) {
	const size = 50000
	chunks := make(chan []pipeline.Stored)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	start := time.Now()
	for range 2 {
		wg.Go(func() {
			for c := range chunks {
				if err := w.WriteEvents(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 0; i < len(rows); i += size {
		chunks <- rows[i:min(i+size, len(rows))]
	}
	close(chunks)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(len(rows)) / time.Since(start).Seconds(), nil
}

func benchEndToEnd(ctx context.Context, conn driver.Conn, msgs map[risk.Source][]kafka.Message, norm *normalize.Normalizer, p *normalize.Protector, c *config, log *slog.Logger) (float64, error) {
	total := 0
	for _, ms := range msgs {
		total += len(ms)
	}
	prog := newProgress(os.Stderr, "(b)", time.Now)
	prog.unit = "messages"
	start := time.Now()
	err := ingestAll(ctx, conn, msgs, norm, p, c, log, func() {
		fmt.Fprintf(os.Stderr, "(b) all produced after %v\n", time.Since(start).Round(time.Millisecond))
	}, prog.report)
	if err != nil {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// benchProduce writes every feed's messages, the feeds in parallel, as an
// upstream system with a batching producer would.
func benchProduce(ctx context.Context, addr string, feeds []pipeline.Feed, msgs map[risk.Source][]kafka.Message) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(feeds))
	for _, f := range feeds {
		wg.Go(func() {
			w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: f.Topic, Balancer: &kafka.Hash{}, BatchSize: 2000, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireOne}
			defer w.Close()
			ms := msgs[f.Source]
			for i := 0; i < len(ms); i += 20000 {
				if err := w.WriteMessages(ctx, ms[i:min(i+20000, len(ms))]...); err != nil {
					var we kafka.WriteErrors
					if errors.As(err, &we) {
						err = fmt.Errorf("%d of %d messages failed, the first: %w", we.Count(), len(we), firstErr(we))
					}
					errs <- fmt.Errorf("produce to %s: %w", f.Topic, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// benchOutage ingests against a ClickHouse address that refuses connections
// and samples the heap: it must stay flat however much waits on the broker.
func benchOutage(ctx context.Context, msgs map[risk.Source][]kafka.Message, norm *normalize.Normalizer, p *normalize.Protector, c *config, d time.Duration) (before, settled, peak uint64, err error) {
	dead, err := schema.Open(ctx, "clickhouse://127.0.0.1:1/default")
	if err == nil {
		dead.Close()
		return 0, 0, 0, errors.New("something answers on 127.0.0.1:1: cannot simulate an outage")
	}
	conn, err := schema.Connect("clickhouse://127.0.0.1:1/default")
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	feeds := c.feeds()
	b, err := c.memoryBroker(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	defer b.Close()
	if err := benchProduce(ctx, b.Addr(), feeds, msgs); err != nil {
		return 0, 0, 0, err
	}
	before = heapInUse()
	quiet := slog.New(slog.DiscardHandler) // one retry warning a second per feed is noise here
	stop, err := startIngesters(ctx, []string{b.Addr()}, conn, norm, p, c, quiet)
	if err != nil {
		return 0, 0, 0, err
	}
	// The buffers fill in the first quarter; after that the heap must not grow.
	start := time.Now()
	for time.Since(start) < d {
		h := heapInUse()
		if time.Since(start) < d/4 {
			settled = max(settled, h)
		} else {
			peak = max(peak, h)
		}
		time.Sleep(250 * time.Millisecond)
	}
	stop()
	return before, settled, peak, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// profiled runs run, with a CPU profile of it written to path unless path
// is "".
func profiled(path string, run func() error) error {
	if path == "" {
		return run()
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return run()
}
