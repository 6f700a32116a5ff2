package detectors

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// CollectiveConfig tunes the collective detector.
type CollectiveConfig struct {
	Petitioners int `yaml:"petitioners"` // a petition of this many is collective (集体访), whatever groupFlag says; default 5
	Gathering   int `yaml:"gathering"`   // a grid report of a dispute involving this many is a gathering; default 10
}

// Collective (群体性风险) raises collective petitions — Petitioners or more
// petitioners, or flagged 集体访 upstream — and grid reports of disputes
// involving Gathering or more people. The scope is the township and the
// category, so reports about one dispute join one alert while it is open.
// Orange; red from 20 people (by head count or petitioners), or when a
// petition is collective and skips levels.
//
// Many different people about the same employer, project or estate across
// feeds, worded differently, is not found yet: it needs subject keys
// extracted from the text.
func Collective(conn driver.Conn, cfg CollectiveConfig) Definition {
	d := Definition{Name: "collective", Schedule: "*/5 * * * *", Timeout: time.Minute, Window: time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		var out []risk.Alert
		byScope := map[string]int{}
		err := eachRow(ctx, conn, collectiveQuery, func(rows driver.Rows) error {
			var source, id, township, county, category string
			var people int32
			var skip uint8
			var at time.Time
			if err := rows.Scan(&source, &id, &township, &county, &category, &people, &skip, &at); err != nil {
				return err
			}
			region := township
			if region == "" {
				region = county
			}
			lv := risk.LevelOrange
			if people >= 20 || skip == 1 {
				lv = risk.LevelRed
			}
			ev := risk.Evidence{Source: risk.Source(source), ID: id}
			a := risk.Alert{Labels: risk.Labels{"detector": d.Name, "region": region, "category": category}}
			if i, ok := byScope[a.ScopeKey()]; ok {
				prev := &out[i]
				prev.Evidence = append(prev.Evidence, ev)
				prev.Level = prev.Level.Max(lv)
				prev.Numbers["people"] = max(prev.Numbers["people"], float64(people))
				prev.Numbers["reports"]++
				prev.Seen = at
				prev.Summary = collectiveSummary(region, category, prev.Numbers)
				return nil
			}
			a.Window, a.Level, a.Seen = w, lv, at
			a.Numbers = map[string]float64{"people": float64(people), "reports": 1}
			a.Summary = collectiveSummary(region, category, a.Numbers)
			a.Evidence = []risk.Evidence{ev}
			byScope[a.ScopeKey()] = len(out)
			out = append(out, a)
			return nil
		}, w.Start, w.End, cfg.Petitioners, cfg.Gathering)
		return out, err
	}
	return d
}

func collectiveSummary(region, category string, n map[string]float64) string {
	return fmt.Sprintf("群体性风险：%s %s，最多%d人，%d份报告", region, category, int(n["people"]), int(n["reports"]))
}

// collectiveQuery: petitions count their petitioners, grid reports their
// head count; only grid reports of disputes (矛盾纠纷) count as gatherings.
const collectiveQuery = `
SELECT source, id, township, county, category,
       if(source = 'petition', petitioner_count, head_count) AS people,
       skip_level, occurred_at
FROM events FINAL
WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
  AND ((source = 'petition' AND (collective = 1 OR petitioner_count >= ?))
    OR (source = 'grid' AND startsWith(category_raw, '矛盾纠纷') AND head_count >= ?))
ORDER BY occurred_at, id`
