package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedBroker is an in-process Kafka-protocol broker, so that riskwatch
// runs without a Kafka cluster: any Kafka client (kcat, kafka-go) can produce
// to it and consume from it. With a data directory it keeps topics, records
// and committed offsets across restarts.
type EmbeddedBroker struct {
	c    *kfake.Cluster
	addr string
}

// StartEmbeddedBroker listens on addr (host:port; port 0 picks one) and
// creates topics that do not exist yet with the given number of partitions.
// dataDir "" keeps everything in memory.
func StartEmbeddedBroker(ctx context.Context, addr, dataDir string, topics []string, partitions int) (*EmbeddedBroker, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded broker port %q: %w", portText, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake listens on 127.0.0.1; this keeps the host the user asked for,
		// which is also the address advertised to clients.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, portText))
		}),
		kfake.ClusterID("riskwatch-embedded"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(partitions),
	}
	if dataDir != "" {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("embedded broker data directory: %w", err)
		}
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	b := &EmbeddedBroker{c: c, addr: c.ListenAddrs()[0]}
	if err := CreateTopics(ctx, b.addr, topics, partitions); err != nil {
		c.Close()
		return nil, err
	}
	return b, nil
}

// Addr is the host:port clients connect to.
func (b *EmbeddedBroker) Addr() string { return b.addr }

// Close stops the broker and, with a data directory, flushes it to disk.
func (b *EmbeddedBroker) Close() { b.c.Close() }

// CreateTopics creates the topics that do not exist yet on the broker at
// addr. Existing topics are left as they are.
func CreateTopics(ctx context.Context, addr string, topics []string, partitions int) error {
	cl := &kafka.Client{Addr: kafka.TCP(addr)}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
	}
	resp, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}
