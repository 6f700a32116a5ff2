package brief_test

import (
	"context"
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
// figure is 10,000,000; see brief.WriteBenchMatters). riskwatch bench brief
// measures the same from the command line. Reported before and after the table's
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
	if err := brief.WriteBenchMatters(ctx, conn, 0, n, nil); err != nil {
		b.Fatal(err)
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
