package schema_test

import (
	"context"
	"strings"
	"testing"

	"riskwatch/schema"
	"riskwatch/schema/schematest"
)

// TestOutboxMigrationDropsRobotSecrets: 0004 rewrites the notifications
// that older releases wrote with the robot's URL and secret into references
// to the desk's robot (-1 when the desk has it no more), tells events their
// topic, sends again the events given up, and refuses robot addresses in the
// outbox from then on.
func TestOutboxMigrationDropsRobotSecrets(t *testing.T) {
	pool, _ := schematest.EmptyPostgres(t)
	ctx := context.Background()
	if err := schema.MigratePostgresThrough(ctx, pool, "0003_desks.sql"); err != nil {
		t.Fatal(err)
	}
	const (
		signed = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-A"
		wecom  = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOKEN-B"
		gone   = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-OLD"
	)
	seed := []string{
		`INSERT INTO desks (id, name, tier, region, webhooks) VALUES ('fengqiao', '枫桥镇综治中心', 'township', '330681109',
			'[{"kind": "dingtalk", "url": "` + signed + `", "secret": "SEC-A"}, {"kind": "wecom", "url": "` + wecom + `", "secret": ""}]')`,
		`INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at, sent_at) VALUES
			('case/1/new/fengqiao#0', 'webhook', '{"kind": "dingtalk", "url": "` + signed + `", "secret": "SEC-A"}', '{"desk": "fengqiao", "title": "新案件"}', now(), now(), now()),
			('case/1/new/fengqiao#1', 'webhook', '{"kind": "wecom", "url": "` + wecom + `", "secret": ""}', '{"desk": "fengqiao", "title": "新案件"}', now(), now(), NULL),
			('case/2/new/fengqiao#0', 'webhook', '{"kind": "dingtalk", "url": "` + gone + `", "secret": "SEC-OLD"}', '{"desk": "fengqiao", "title": "新案件"}', now(), now(), NULL),
			('case/3/new/ghost#0', 'webhook', '{"kind": "dingtalk", "url": "` + signed + `", "secret": "SEC-A"}', '{"desk": "ghost", "title": "新案件"}', now(), now(), NULL)`,
		`INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at, failed_at) VALUES
			('event/case/1/case.created/1', 'kafka', '{"key": "case/1"}', '{"type": "case.created"}', now(), now(), NULL),
			('event/case/2/case.created/2', 'kafka', '{"key": "case/2"}', '{"type": "case.created"}', now(), now(), now())`,
	}
	for _, q := range seed {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := schema.MigratePostgres(ctx, pool); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT dedup_key, target::text, failed_at IS NOT NULL FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var key, target string
		var failed bool
		if err := rows.Scan(&key, &target, &failed); err != nil {
			t.Fatal(err)
		}
		got[key] = target
		for _, secret := range []string{"TOKEN", "SEC-", "url", "secret"} {
			if strings.Contains(target, secret) {
				t.Errorf("%s: target %s still holds %q", key, target, secret)
			}
		}
		if failed {
			t.Errorf("%s: still given up, want every event sent again", key)
		}
	}
	want := map[string]string{
		"case/1/new/fengqiao#0":       `{"desk": "fengqiao", "kind": "dingtalk", "robot": 0}`,
		"case/1/new/fengqiao#1":       `{"desk": "fengqiao", "kind": "wecom", "robot": 1}`,
		"case/2/new/fengqiao#0":       `{"desk": "fengqiao", "kind": "dingtalk", "robot": -1}`,
		"case/3/new/ghost#0":          `{"desk": "ghost", "kind": "dingtalk", "robot": -1}`,
		"event/case/1/case.created/1": `{"key": "case/1", "topic": "riskwatch.cases"}`,
		"event/case/2/case.created/2": `{"key": "case/2", "topic": "riskwatch.cases"}`,
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: target %s, want %s", key, got[key], w)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (dedup_key, channel, target, payload, created_at, next_at)
		VALUES ('x', 'webhook', '{"kind": "dingtalk", "url": "`+signed+`"}', '{}', now(), now())`); err == nil {
		t.Error("a robot's URL was stored in the outbox again, want it refused")
	}
}
