package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"riskwatch/pipeline"
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
	var opener func(string) ([]byte, error)
	if open {
		key, err := c.piiKey()
		if err != nil {
			return err
		}
		protector, err := normalize.NewProtector(key)
		if err != nil {
			return err
		}
		opener = protector.OpenBytes
	}
	conn, err := schema.Open(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	msgs, err := pipeline.NewQuarantineReader(conn, opener).List(ctx, topic, limit)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}
