package brief_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
	"riskwatch/schema/schematest"
)

// BenchmarkBrief makes a county's weekly and monthly briefs over a year of
// a city's matters (RISKWATCH_BENCH_MATTERS, default 1,000,000; the issue's
// figure is 10,000,000), written by ClickHouse itself from numbers(): six
// counties of twenty townships of fifteen villages, fifteen categories, a
// topic on one matter in twenty. Reported before and after the table's
// parts are merged (OPTIMIZE … FINAL), as a busy server has them between
// and after its merges.
//
//	RISKWATCH_BENCH_MATTERS=10000000 go test -run - -bench Brief -benchtime 3x ./brief
func BenchmarkBrief(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("RISKWATCH_BENCH_MATTERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	conn, _ := schematest.Open(b)
	pool, _ := schematest.OpenPostgres(b)
	ctx := context.Background()
	start := time.Now()
	const chunk = 1_000_000
	for from := 0; from < n; from += chunk {
		// A year from 1 March 2019 (UTC+8), uniformly; ids unique.
		err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO event_versions (source, id, version, ver, updated_at, occurred_at, ingested_at,
				region, county, category, tags, kind, status, head_count, petitioner_count, amount, collective)
			SELECT ['hotline', 'hotline', 'petition', 'grid', 'grid'][number %% 5 + 1], toString(number), 1, 1, t, t, t,
				concat(c, toString(100 + intHash32(number * 5) %% 20), toString(200 + intHash32(number * 11) %% 15)), c,
				['劳资纠纷', '物业纠纷', '婚姻家庭纠纷', '邻里纠纷', '房屋宅基地纠纷', '山林土地纠纷', '交通事故纠纷', '医疗纠纷',
				 '消费纠纷', '合同纠纷', '征地拆迁纠纷', '城乡建设', '卫生健康', '经济管理', '政法'][intHash32(number * 13) %% 15 + 1],
				if(intHash32(number * 17) %% 20 = 0, ['复工复产'], emptyArrayString()), '投诉', 'open', -1, -1, -1,
				toUInt8(intHash32(number * 19) %% 500 = 0)
			FROM (SELECT number, toDateTime(1551369600 + intHash32(number * 3) %% (366 * 86400)) AS t,
				concat('3306', ['02', '03', '04', '81', '83', '24'][intHash32(number * 7) %% 6 + 1]) AS c
				FROM numbers(%d, %d))`, from, min(chunk, n-from)))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d matters written in %v", n, time.Since(start).Round(time.Second))
	parts, err := desk.New(pool, desk.DefaultConfig(), desk.Deps{Calendar: calendar.Default(), Mask: normalize.MaskText})
	if err != nil {
		b.Fatal(err)
	}
	maker := brief.NewMaker(pipeline.NewMatterReader(conn), parts.Stats, nil, nil)
	as := desk.User{Username: "bench", Role: desk.RoleLeader, Jurisdiction: "330681"}
	run := func(name, kind string) {
		p, _ := brief.PeriodAt(kind, at("2020-02-28 12:00"))
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				br, err := maker.Make(ctx, as, "330681", p)
				if err != nil {
					b.Fatal(err)
				}
				if br.Headline[0].Current == 0 {
					b.Fatal("no matters in the county's period")
				}
			}
		})
	}
	run("county-week/unmerged", "week")
	run("county-month/unmerged", "month")
	if err := conn.Exec(ctx, `OPTIMIZE TABLE events FINAL`); err != nil {
		b.Fatal(err)
	}
	run("county-week/merged", "week")
	run("county-month/merged", "month")
}
