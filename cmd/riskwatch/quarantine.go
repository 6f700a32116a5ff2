package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"riskwatch/pipeline/normalize"
	"riskwatch/schema"
)

// quarantine prints the rejected messages as JSON lines, newest first. With
// -open it also opens their sealed raw values, which may hold personal data:
// run it only where that is allowed.
func quarantine(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var open bool
	var limit int
	var topic string
	c, err := parse("quarantine", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&open, "open", false, "Also print the raw message values (personal data!).")
		fs.IntVar(&limit, "limit", 100, "Print at most this many messages.")
		fs.StringVar(&topic, "topic", "", "Only this topic.")
	})
	if err != nil {
		return err
	}
	var protector *normalize.Protector
	if open {
		key, err := c.piiKey()
		if err != nil {
			return err
		}
		if protector, err = normalize.NewProtector(key); err != nil {
			return err
		}
	}
	conn, err := schema.Open(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, `SELECT topic, partition, offset, source, key, value_sealed, reason, received_at
		FROM rejected_events FINAL WHERE ? = '' OR topic = ? ORDER BY received_at DESC, topic, partition, offset LIMIT ?`, topic, topic, limit)
	if err != nil {
		return fmt.Errorf("read quarantine: %w", err)
	}
	defer rows.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for rows.Next() {
		var r struct {
			Topic      string    `json:"topic"`
			Partition  int32     `json:"partition"`
			Offset     int64     `json:"offset"`
			Source     string    `json:"source"`
			Key        string    `json:"key"`
			Reason     string    `json:"reason"`
			ReceivedAt time.Time `json:"received_at"`
			Value      string    `json:"value,omitempty"`
		}
		var sealed string
		if err := rows.Scan(&r.Topic, &r.Partition, &r.Offset, &r.Source, &r.Key, &sealed, &r.Reason, &r.ReceivedAt); err != nil {
			return fmt.Errorf("read quarantine: %w", err)
		}
		if protector != nil {
			raw, err := protector.OpenBytes(sealed)
			if err != nil {
				return fmt.Errorf("open %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			r.Value = string(raw)
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
