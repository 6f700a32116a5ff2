package main

import (
	"context"
	"crypto/tls"
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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/detectors"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var demoSet demoSettings
	c, err := parse("serve", args, getenv, stderr, demoSet.register)
	if err != nil {
		return err
	}
	if err := c.checkBroker(); err != nil {
		return err
	}
	if _, ok := c.embedded(); demoSet.on && (!ok || c.Directory == "") {
		return errors.New("-demo publishes into the embedded broker and confirms cases for 枫桥镇's desk: it wants -kafka embedded and -desks deploy/desks.yaml")
	}
	if demoSet.on && c.Pipeline.IdleMark == 30*time.Second {
		c.Pipeline.IdleMark = 5 * time.Second // the demo waits for the history's watermark
	}
	log := newLogger(stderr, c.LogLevel, c.LogFormat)
	protector, err := c.protector()
	if err != nil {
		return err
	}
	log.Info("personal-data key", "id", protector.KeyID(), "previous", protector.Previous()) // ids name the keys in sealed boxes; never the keys
	dcfg, lex, err := c.detectorConfig()
	if err != nil {
		return err
	}
	decoders := feedDecoders(normalize.New(protector))

	conn, err := c.connectClickHouse()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		// Not fatal: the feeds wait, retrying, until ClickHouse answers.
		log.Warn("clickhouse does not answer yet", "err", err)
	}

	pool, err := c.openPostgres(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()

	feeds := c.feeds()
	brokers, err := c.brokers()
	if err != nil {
		return err
	}
	topics := append([]string{c.AlertTopic, c.CaseTopic}, c.feedTopics()...)
	if addr, ok := c.embedded(); ok {
		b, err := pipeline.StartEmbeddedBroker(ctx, addr, c.KafkaDataDir, topics, c.Partitions)
		if err != nil {
			return err
		}
		defer b.Close()
		brokers = pipeline.Brokers{Addrs: []string{b.Addr()}}
		log.Info("embedded kafka broker listening", "addr", b.Addr(), "data_dir", c.KafkaDataDir)
	}

	// Topics exist before anything reads or writes them: a real cluster's
	// are created by its operators, and a missing one stops serve here,
	// named, rather than an outbox retrying forever; so does a refused
	// login. An unreachable broker is not fatal: the feeds retry and
	// /readyz says so.
	topicsReady := func(ctx context.Context) error { return brokers.CheckTopics(ctx, topics) }
	if err := topicsReady(ctx); errors.Is(err, pipeline.ErrMissingTopics) || errors.Is(err, pipeline.ErrLoginRefused) {
		return err
	} else if err != nil {
		log.Warn("kafka does not answer yet", "brokers", brokers, "err", err)
	}
	if c.Production && (brokers.TLS == nil || brokers.SASL == nil) {
		log.Warn("kafka without TLS or without SASL in production: messages carry personal data", "brokers", brokers)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	console.RegisterBuildInfo(reg)
	metrics := pipeline.NewMetrics(reg)
	writer := pipeline.NewEventWriter(conn)

	// The desks own the alerts table: the detectors record through them.
	desks, dcfgDesk, err := newDesks(c, pool, conn, protector, log, nil)
	if err != nil {
		return err
	}

	var demo *livingDemo
	ingestLog := log
	if demoSet.on {
		if demo, err = openDemo(ctx, demoSet, desks.Accounts, stderr, log); err != nil {
			return err
		}
		// One message in 200 is bad on purpose: a warning each would bury
		// the rest of the log.
		ingestLog = newLogger(stderr, max(c.LogLevel, slog.LevelError), c.LogFormat)
		fmt.Fprintln(stderr, "demo: the feeds' bad messages (one in 200, on purpose) are quarantined without a warning each: riskwatch quarantine lists them")
	}

	tlsConfig, err := c.HTTPLimits.TLSConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTP, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(feeds)+4) // every goroutine reports at most once
	for _, f := range feeds {
		r, err := feedReader(brokers, f, kafkaLogger(log, f.Topic), log)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		g := pipeline.NewIngester(f.Source, r, writer, decoders[f.Source], protector.SealBytes, metrics, c.Pipeline, ingestLog)
		wg.Go(func() {
			defer r.Close()
			if err := g.Run(ctx); err != nil {
				errs <- fmt.Errorf("ingest %s: %w", f.Source, err)
				cancel()
			}
		})
	}

	host, _ := os.Hostname()
	sched := detectors.NewScheduler(pool, desks.Review, detectors.IngestWatermark(conn), fmt.Sprintf("%s/%d", host, os.Getpid()), reg, log)
	defs := detectors.All(conn, dcfg, lex)
	ready := make(chan struct{})
	if demo == nil {
		close(ready)
	} else {
		topics := map[risk.Source]string{}
		for _, f := range feeds {
			topics[f.Source] = f.Topic
		}
		wg.Go(func() {
			if err := demo.run(ctx, brokers.Addrs, topics, conn, sched, defs, desks.Review, desks.Accounts, ready); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("demo: %w", err)
				cancel()
			}
		})
	}
	wg.Go(func() {
		select {
		case <-ready: // the living demo's history is detected
		case <-ctx.Done():
			return
		}
		if err := sched.Run(ctx, defs); err != nil {
			errs <- fmt.Errorf("detectors: %w", err)
			cancel()
		}
	})

	reload := deskReloader(desks.Directory, c.Directory, log)
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
	// The leaders' briefs on schedule, once across replicas (the briefs
	// table and the outbox's dedup keys), announced by the desks' robots.
	dir, err := desks.Directory.Desks(ctx)
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	stored := brief.NewStore(pool)
	maker := brief.NewMaker(pipeline.NewMatterReader(conn), desks.Stats, desks.Directory, nil)
	if maker.Places, err = readPlaces(c.Regions); err != nil {
		return err
	}
	if maker.Populations, err = c.populations(); err != nil {
		cancel()
		wg.Wait()
		return err
	}
	briefs := brief.NewScheduler(maker, stored,
		desks.Outbox, c.Briefs.Link, fmt.Sprintf("%s/%d", host, os.Getpid()), log)
	wg.Go(func() {
		if err := briefs.Run(ctx, c.Briefs.schedules(dir)); err != nil {
			errs <- fmt.Errorf("briefs: %w", err)
			cancel()
		}
	})
	// Every 5 seconds: a red alert reaches its desk seconds after the
	// detector raised it.
	dlog := log.With("component", "desk")
	wg.Go(func() { desk.Every(ctx, 5*time.Second, dlog, "alert intake", desks.Review.Intake) })
	wg.Go(func() {
		desk.Every(ctx, 5*time.Second, dlog, "deadline clock", func(ctx context.Context) error { return desks.Clock.Tick(ctx, time.Now()) })
	})
	wg.Go(func() { desk.Every(ctx, time.Hour, dlog, "session sweep", desks.Accounts.Sweep) })
	wg.Go(func() {
		desk.Every(ctx, time.Minute, dlog, "withdraw alerts of deleted records", desks.Review.Withdraw)
	})
	// The outbox: robots' notifications and both topics' events, each
	// channel in its own loop.
	cases := newTopicWriter(brokers, c.CaseTopic)
	defer cases.Close()
	alertsOut := newTopicWriter(brokers, c.AlertTopic)
	defer alertsOut.Close()
	sender := desk.NewSender(pool, nil, desk.Publishers{Cases: cases, Alerts: alertsOut}, dcfgDesk.Notify, reg, log.With("component", "notify"))
	wg.Go(func() { sender.Run(ctx, 2*time.Second) })

	stats := pipeline.NewStatsReader(conn, brokers, feeds, metrics)
	reg.MustRegister(stats) // the feeds' lag and watermarks, read at each scrape
	var gatherer prometheus.Gatherer = reg
	servers := []*http.Server{}
	listeners := []net.Listener{ln}
	if addr := c.HTTPLimits.MetricsListen; addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s for metrics: %w", addr, err)
		}
		listeners = append(listeners, mln)
		gatherer = nil // not beside the API
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers = append(servers, console.NewHTTPServer(addr, mux, c.HTTPLimits))
	}
	deps := consoleDeps(desks, stats, conn, reload)
	deps.Detectors = detectorSettings{defs, dcfg}
	deps.Briefs, deps.Stored = maker, stored // the scheduled briefs' maker: the same populations
	deps.Ready = map[string]func(context.Context) error{"clickhouse": conn.Ping, "postgres": pool.Ping, "kafka": topicsReady}
	api := console.NewServer(deps, c.HTTPLimits.RequestTimeout, gatherer, log)
	api.Instrument(reg)
	servers = append([]*http.Server{console.NewHTTPServer(c.HTTP, api, c.HTTPLimits)}, servers...)
	log.Info("serving", "console", scheme+"://"+ln.Addr().String()+"/", "http", ln.Addr().String(), "metrics", c.HTTPLimits.MetricsListen, "kafka", brokers, "group", c.KafkaGroup)
	for i, srv := range servers {
		wg.Go(func() {
			if err := srv.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("http %s: %w", srv.Addr, err)
				cancel()
			}
		})
	}
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	for _, srv := range servers {
		srv.Shutdown(sctx)
	}
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
func feedReader(b pipeline.Brokers, f pipeline.Feed, errs kafka.Logger, log *slog.Logger) (*pipeline.GroupReader, error) {
	return pipeline.NewGroupReader(kafka.ConsumerGroupConfig{
		ID:          f.Group,
		Brokers:     b.Addrs,
		Dialer:      b.Dialer(),
		Topics:      []string{f.Topic},
		StartOffset: kafka.FirstOffset,
		ErrorLogger: errs,
	}, kafka.ReaderConfig{
		Brokers:  b.Addrs,
		Dialer:   b.Dialer(),
		MinBytes: 1,
		MaxBytes: 4 << 20,
		// An idle fetch waits for data this long less a second kept for the
		// answer to travel (kafka-go's allowance for the round trip): at
		// 250 ms the allowance was 62 ms, and a busy broker's late answers
		// were i/o timeouts, reconnections and warnings. New data ends the
		// wait at once (MinBytes 1).
		MaxWait:       2 * time.Second,
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
	conn, err := c.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := schema.MigrateCluster(ctx, conn, c.Cluster); err != nil {
		return err
	}
	log.Info("clickhouse migrated", "cluster", c.Cluster)
	pool, err := c.openPostgres(ctx)
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
func deskReloader(dir *desk.Directory, path string, log *slog.Logger) func(context.Context, *desk.User) (int, error) {
	if path == "" {
		return nil
	}
	return func(ctx context.Context, by *desk.User) (int, error) {
		n, err := dir.LoadFile(ctx, by, path)
		if err != nil {
			log.Error("desk directory not loaded", "file", path, "err", err)
			return 0, err
		}
		log.Info("desk directory loaded", "file", path, "desks", n)
		return n, nil
	}
}
