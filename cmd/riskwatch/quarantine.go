package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"

	"riskwatch/pipeline"
)

// quarantine prints the rejected messages as JSON lines, newest first. With
// -open it also opens their sealed raw values, which may hold personal data:
// an administrator names themselves (-as) and says why (-reason), and the
// audit log holds both before anything is printed.
func quarantine(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var open bool
	var limit int
	var topic, as, reason string
	c, err := parse("quarantine", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&open, "open", false, "Also print the raw message values (personal data!): needs -as and -reason, and is audited.")
		fs.IntVar(&limit, "limit", 100, "Print at most this many messages.")
		fs.StringVar(&topic, "topic", "", "Only this topic.")
		fs.StringVar(&as, "as", "", "-open: your riskwatch username (an administrator's).")
		fs.StringVar(&reason, "reason", "", "-open: why the raw messages are read, for the audit log.")
	})
	if err != nil {
		return err
	}
	var opener func(string) ([]byte, error)
	if open {
		if as == "" || reason == "" {
			return errors.New("quarantine -open shows personal data: name yourself with -as (an administrator's username) and say why with -reason")
		}
		protector, err := c.protector()
		if err != nil {
			return err
		}
		opener = protector.OpenBytes
	}
	conn, err := c.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	msgs, err := pipeline.NewQuarantineReader(conn, opener).List(ctx, topic, limit)
	if err != nil {
		return err
	}
	if open {
		if err := attestOpen(ctx, c, as, reason, topic, msgs); err != nil {
			return err
		}
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

// attestOpen writes the audit entry of an opened quarantine: who (the
// riskwatch administrator and the operating-system account), why, and which
// messages.
func attestOpen(ctx context.Context, c *config, as, reason, topic string, msgs []pipeline.Quarantined) error {
	d, closeDesks, err := openDesks(ctx, c)
	if err != nil {
		return err
	}
	defer closeDesks()
	by, err := d.Accounts.UserByName(ctx, as)
	if err != nil {
		return fmt.Errorf("-as %s: %w", as, err)
	}
	osUser := "unknown"
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	opened := make([]string, len(msgs))
	for i, m := range msgs {
		opened[i] = fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset)
	}
	return d.Audit.Attest(ctx, by, "quarantine.open", reason, map[string]any{"os_user": osUser, "topic": topic, "messages": opened})
}
