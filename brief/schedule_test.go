package brief_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	risk "riskwatch"
	"riskwatch/brief"
)

// TestScheduledBriefOnce: two replicas make the county's weekly brief on
// Monday morning at the same moment; it is stored once and its
// announcement queued once for the county desk's robot, with the headline
// figures and the link — and nothing for the township's desk.
func TestScheduledBriefOnce(t *testing.T) {
	f := setup(t)
	f.seed(t)
	ctx := context.Background()
	f.exec(t, `UPDATE desks SET webhooks = '[{"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=county"}]' WHERE id = 'county'`)
	f.exec(t, `UPDATE desks SET webhooks = '[{"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=fq"}]' WHERE id = 'fengqiao'`)
	store := brief.NewStore(f.pool)
	sc := brief.Schedule{Region: "330681", Kind: "week", Cron: brief.DefaultCron["week"]}
	monday := at("2020-03-02 08:00")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, host := range []string{"replica-a", "replica-b"} {
		s := brief.NewScheduler(f.maker, store, f.parts.Outbox, "https://riskwatch.example.gov.cn/", host, slog.New(slog.DiscardHandler))
		wg.Go(func() { errs[i] = s.RunOnce(ctx, sc, monday) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var stored int
	var from string
	if err := f.pool.QueryRow(ctx, `SELECT count(*), min(to_char(period_from AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')) FROM briefs`).Scan(&stored, &from); err != nil {
		t.Fatal(err)
	}
	if stored != 1 || from != "2020-02-24" {
		t.Errorf("stored %d briefs from %s, want the week of 2020-02-24 once", stored, from)
	}
	rows, err := f.pool.Query(ctx, `SELECT payload->>'desk', payload->>'markdown' FROM outbox WHERE channel = 'webhook'`)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for rows.Next() {
		var d, md string
		if err := rows.Scan(&d, &md); err != nil {
			t.Fatal(err)
		}
		told = append(told, d)
		for _, want := range []string{"诉求总量：18（上周8，↑125%）", "劳资纠纷类诉求12件",
			"https://riskwatch.example.gov.cn/api/v1/briefs/stored/330681/week/2020-02-24"} {
			if !strings.Contains(md, want) {
				t.Errorf("the announcement lacks %q:\n%s", want, md)
			}
		}
		if strings.Contains(md, "张三") || strings.Contains(md, "138") {
			t.Errorf("the announcement shows a person:\n%s", md)
		}
	}
	if len(told) != 1 || told[0] != "county" {
		t.Errorf("robots told: %q, want the county desk's once", told)
	}
	// A later run (a restart that fires again) neither stores nor tells again.
	s := brief.NewScheduler(f.maker, store, f.parts.Outbox, "", "replica-c", slog.New(slog.DiscardHandler))
	if err := s.RunOnce(ctx, sc, monday.Add(3600e9)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM briefs) + (SELECT count(*) FROM outbox WHERE channel = 'webhook')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("after a second run: %d rows, %v; want 2", n, err)
	}
	// Listed inside the county, with its headline; not in another county.
	list, err := store.List(ctx, "330681", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Region != "330681" || list[0].Period.Kind != "week" || list[0].Matters != 18 ||
		list[0].Title != "2020年第9周（2月24日—3月1日）" || len(list[0].Observations) == 0 {
		t.Errorf("listed %+v, want the week of 2020-02-24 with its 18 matters and observations", list)
	}
	if other, err := store.List(ctx, "330682", 0); err != nil || len(other) != 0 {
		t.Errorf("listed for another county: %+v, %v; want none", other, err)
	}
	html, err := store.HTML(ctx, "330681", "week", at("2020-02-24 00:00"))
	if err != nil || !strings.Contains(html, "社会矛盾纠纷态势简报") || !strings.Contains(html, "2020年第9周") {
		t.Errorf("the stored page: %v %.200s", err, html)
	}
	if _, err := store.HTML(ctx, "330681", "week", at("2020-02-17 00:00")); !errors.Is(err, risk.ErrNotFound) {
		t.Errorf("a week never stored: %v, want ErrNotFound", err)
	}
}
