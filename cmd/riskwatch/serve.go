package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/segmentio/kafka-go"

	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/detectors"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parse("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(stderr, c.LogLevel, c.LogFormat)
	key, err := c.piiKey()
	if err != nil {
		return err
	}
	protector, err := normalize.NewProtector(key)
	if err != nil {
		return err
	}
	dcfg, lex, err := detectors.LoadConfig(c.Detectors)
	if err != nil {
		return err
	}
	decoders := feedDecoders(normalize.New(protector))

	conn, err := schema.Connect(c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		// Not fatal: the feeds wait, retrying, until ClickHouse answers.
		log.Warn("clickhouse does not answer yet", "err", err)
	}

	pool, err := schema.OpenPostgres(ctx, c.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()

	feeds := c.feeds()
	brokers := c.brokers()
	if addr, ok := c.embedded(); ok {
		topics := append([]string{c.AlertTopic, c.CaseTopic}, c.feedTopics()...)
		b, err := pipeline.StartEmbeddedBroker(ctx, addr, c.KafkaDataDir, topics, c.Partitions)
		if err != nil {
			return err
		}
		defer b.Close()
		brokers = []string{b.Addr()}
		log.Info("embedded kafka broker listening", "addr", b.Addr(), "data_dir", c.KafkaDataDir)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := pipeline.NewMetrics(reg)
	writer := pipeline.NewEventWriter(conn)

	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTP, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(feeds)+2) // every goroutine reports at most once
	for _, f := range feeds {
		r, err := feedReader(brokers, f, kafkaLogger(log, f.Topic), log)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		g := pipeline.NewIngester(f.Source, r, writer, decoders[f.Source], protector.SealBytes, metrics, c.Pipeline, log)
		wg.Go(func() {
			defer r.Close()
			if err := g.Run(ctx); err != nil {
				errs <- fmt.Errorf("ingest %s: %w", f.Source, err)
				cancel()
			}
		})
	}

	alerts := detectors.NewAlertStore(pool)
	host, _ := os.Hostname()
	sched := detectors.NewScheduler(pool, alerts, detectors.IngestWatermark(conn), fmt.Sprintf("%s/%d", host, os.Getpid()), reg, log)
	publisher := detectors.NewKafkaPublisher(brokers, c.AlertTopic)
	defer publisher.Close()
	sched.Publisher = publisher
	wg.Go(func() {
		if err := sched.Run(ctx, detectors.All(conn, dcfg, lex)); err != nil {
			errs <- fmt.Errorf("detectors: %w", err)
			cancel()
		}
	})

	desks, dcfgDesk, err := newDeskStore(c, pool, conn, protector, log)
	if err != nil {
		return err
	}
	reload := deskReloader(desks, c.Directory, log)
	if reload != nil {
		if _, err := reload(ctx, nil); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					reload(ctx, nil) // a bad file keeps the last good directory; reload logged why
				}
			}
		})
	}
	wg.Go(func() {
		// Every 5 seconds: a red alert reaches its desk seconds after the
		// detector raised it.
		desks.RunClock(ctx, 5*time.Second, func(err error) { log.Warn("desk clock", "err", err) })
	})
	cases := newTopicWriter(brokers, c.CaseTopic)
	defer cases.Close()
	sender := desk.NewSender(pool, &http.Client{Timeout: 15 * time.Second}, cases, dcfgDesk.Notify, log.With("component", "notify"))
	wg.Go(func() { sender.Run(ctx, 2*time.Second) })

	stats := pipeline.NewStatsReader(conn, brokers, feeds, metrics)
	srv := &http.Server{Addr: c.HTTP, Handler: console.NewServer(stats, desks, reload, reg, log), ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "http", ln.Addr().String(), "kafka", brokers, "group", c.KafkaGroup)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
			cancel()
		}
	})
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	log.Info("stopped")
	return errors.Join(all...)
}

// feedReader joins the feed's consumer group. It commits only when the
// ingester tells it to: offsets follow ClickHouse's acknowledgements, never
// a timer. errs receives kafka-go's error log; nil drops it.
func feedReader(brokers []string, f pipeline.Feed, errs kafka.Logger, log *slog.Logger) (*pipeline.GroupReader, error) {
	return pipeline.NewGroupReader(kafka.ConsumerGroupConfig{
		ID:          f.Group,
		Brokers:     brokers,
		Topics:      []string{f.Topic},
		StartOffset: kafka.FirstOffset,
		ErrorLogger: errs,
	}, kafka.ReaderConfig{
		Brokers:       brokers,
		MinBytes:      1,
		MaxBytes:      4 << 20,
		MaxWait:       250 * time.Millisecond,
		QueueCapacity: 300, // per partition
		ErrorLogger:   errs,
	}, log)
}

// kafkaLogger routes kafka-go's error log to slog. Its messages are about
// connections and groups, never message contents.
func kafkaLogger(log *slog.Logger, topic string) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		log.Warn("kafka client", "topic", topic, "detail", fmt.Sprintf(msg, args...))
	})
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parse("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(stderr, c.LogLevel, c.LogFormat)
	conn, err := schema.Open(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := schema.Migrate(ctx, conn); err != nil {
		return err
	}
	log.Info("clickhouse migrated")
	pool, err := schema.OpenPostgres(ctx, c.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schema.MigratePostgres(ctx, pool); err != nil {
		return err
	}
	log.Info("postgres migrated")
	return nil
}

// deskReloader loads the desk directory file into the store; nil without
// a file. A bad file is an error and changes nothing.
func deskReloader(store *desk.Store, path string, log *slog.Logger) func(context.Context, *desk.User) (int, error) {
	if path == "" {
		return nil
	}
	return func(ctx context.Context, by *desk.User) (int, error) {
		n, err := desk.LoadDirectoryFile(ctx, store, by, path)
		if err != nil {
			log.Error("desk directory not loaded", "file", path, "err", err)
			return 0, err
		}
		log.Info("desk directory loaded", "file", path, "desks", n)
		return n, nil
	}
}
