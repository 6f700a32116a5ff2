package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// TestQuarantineOpenIsAudited: the raw messages of the quarantine (personal
// data) are printed only to an administrator who says who they are and why,
// and the audit log holds both before anything is printed.
func TestQuarantineOpenIsAudited(t *testing.T) {
	ctx := context.Background()
	conn, chDSN := schematest.Open(t)
	pool, pgDSN := schematest.OpenPostgres(t)
	key := bytes.Repeat([]byte{7}, 32)
	p, err := normalize.NewProtector(key)
	if err != nil {
		t.Fatal(err)
	}
	const raw = `{"caller":"王小明","phone":"13812345678"}`
	b, err := conn.PrepareBatch(ctx, `INSERT INTO rejected_events (topic, partition, offset, source, key, value_sealed, header_keys, header_values, reason, received_at)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("hotline.workorders", int32(0), int64(41), "hotline", "WO-1", p.SealBytes([]byte(raw)), []string{}, []string{}, "bad json", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	cfg, err := desk.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := desk.New(pool, cfg, desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []desk.User{
		{Username: "admin", Role: desk.RoleAdmin, Jurisdiction: "330681"},
		{Username: "reviewer", Role: desk.RoleReviewer, Jurisdiction: "330681"},
	} {
		if _, err := parts.Accounts.AddUser(ctx, nil, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"RISKWATCH_PII_KEY": hex.EncodeToString(key)}
	run := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		args = append([]string{"-clickhouse", chDSN, "-postgres", pgDSN}, args...)
		err := quarantine(ctx, args, func(k string) string { return env[k] }, &out, &errs)
		return out.String(), err
	}
	audited := func() []desk.AuditEntry {
		admin, err := parts.Accounts.UserByName(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		entries, err := parts.Audit.Entries(ctx, admin, desk.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}

	out, err := run()
	if err != nil || !strings.Contains(out, `"offset":41`) || strings.Contains(out, "13812345678") {
		t.Errorf("quarantine without -open: %v\n%s\nwant the message listed without its value", err, out)
	}
	for _, args := range [][]string{
		{"-open"},
		{"-open", "-as", "admin"},
		{"-open", "-reason", "工单 WO-1 格式核对"},
		{"-open", "-as", "reviewer", "-reason", "工单 WO-1 格式核对"},
		{"-open", "-as", "nobody", "-reason", "工单 WO-1 格式核对"},
		{"-open", "-as", "admin", "-reason", "   "},
	} {
		if out, err := run(args...); err == nil || out != "" {
			t.Errorf("quarantine %v: printed %q, err %v; want refused, nothing printed", args, out, err)
		}
	}
	if n := len(audited()); n != 0 {
		t.Fatalf("%d audit entries after refused opens, want 0", n)
	}

	out, err = run("-open", "-as", "admin", "-reason", "工单 WO-1 格式核对，来电 13900001111")
	if err != nil || !strings.Contains(out, "13812345678") {
		t.Fatalf("quarantine -open as admin: %v\n%s\nwant the raw value", err, out)
	}
	entries := audited()
	if len(entries) != 1 {
		t.Fatalf("%d audit entries, want 1", len(entries))
	}
	e := entries[0]
	var detail struct {
		Reason   string
		OSUser   string `json:"os_user"`
		Messages []string
	}
	json.Unmarshal(e.Detail, &detail)
	if e.Actor != "admin" || e.Action != "quarantine.open" || detail.OSUser == "" ||
		!strings.HasPrefix(detail.Reason, "工单 WO-1 格式核对") || strings.Contains(detail.Reason, "13900001111") ||
		len(detail.Messages) != 1 || detail.Messages[0] != "hotline.workorders/0/41" {
		t.Errorf("audit entry %s %s %s, want admin's quarantine.open with the reason (phone masked), the OS user and hotline.workorders/0/41", e.Actor, e.Action, e.Detail)
	}

	// The key rotated: the message sealed under the old one opens with the
	// old key among the previous ones, and only then.
	env["RISKWATCH_PII_KEY"] = hex.EncodeToString(bytes.Repeat([]byte{8}, 32))
	if out, err := run("-open", "-as", "admin", "-reason", "轮换后核对"); err == nil || strings.Contains(out, "13812345678") {
		t.Errorf("the new key alone opened the old key's message: %v\n%s", err, out)
	}
	previous := filepath.Join(t.TempDir(), "previous.keys")
	if err := os.WriteFile(previous, []byte("# replaced 2026-12\n"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run("-open", "-as", "admin", "-reason", "轮换后核对", "-pii.previous-keys-file", previous); err != nil || !strings.Contains(out, "13812345678") {
		t.Errorf("with the old key among the previous: %v\n%s\nwant the raw value", err, out)
	}
}
