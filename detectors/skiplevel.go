package detectors

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// SkipLevelConfig tunes the skip-level detector. It has no settings yet:
// the levels of the registering organs are fixed by the petition rules.
type SkipLevelConfig struct{}

// SkipLevel (越级 / 矛盾上交) finds petitions registered above the level
// that owns the matter: a township's or village's matter at the city,
// province or national bureau, a county's at the province or above, and
// petitions upstream flags as 越级. For this system such a petition is a
// failure it should have seen coming, so it is at least yellow:
// 国家 red, 省 orange, 市 yellow; an upstream 越级 flag is at least orange.
// Petitions of the same person join one alert while it is open.
func SkipLevel(conn driver.Conn, _ SkipLevelConfig) Definition {
	d := Definition{Name: "skip_level", Schedule: "*/5 * * * *", Timeout: time.Minute, Window: time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		return queryAlerts(ctx, conn, skipLevelQuery, func(rows driver.Rows) (risk.Alert, error) {
			var id, county, township, category, level, org string
			var flagged uint8
			var persons []string
			var at time.Time
			var petitioners int32
			if err := rows.Scan(&id, &county, &township, &category, &level, &org, &flagged, &persons, &at, &petitioners); err != nil {
				return risk.Alert{}, err
			}
			region := placeOf(township, county)
			person := "record:" + id // an anonymous petition is its own scope
			if len(persons) > 0 {
				person = persons[0]
			}
			lv := map[string]risk.Level{"国家": risk.LevelRed, "省": risk.LevelOrange}[level]
			if lv == "" {
				lv = risk.LevelYellow
			}
			if flagged == 1 {
				lv = lv.Max(risk.LevelOrange)
			}
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": region, "category": category, "person": person},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("越级访：%s 的%s问题于%s在%s登记（%s级）", region, category, at.In(cst).Format("2006-01-02"), org, level),
				Numbers:  map[string]float64{"petitioners": float64(max(petitioners, 0)), "upstream_flag": float64(flagged)},
				Evidence: []risk.Evidence{{Source: risk.SourcePetition, ID: id}},
				Seen:     at,
			}, nil
		}, w.Start, w.End)
	}
	return d
}

// skipLevelQuery: the owner of a matter is its township when the code
// reaches one, else its county; skipping means registering two or more
// levels above (乡镇 1, 县 2, 市 3, 省 4, 国家 5).
const skipLevelQuery = `
SELECT id, county, township, category, register_level, register_org, skip_level, person_keys, occurred_at, petitioner_count
FROM events FINAL
WHERE source = 'petition' AND status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
  AND (skip_level = 1 OR multiIf(register_level = '国家', 5, register_level = '省', 4, register_level = '市', 3,
       register_level = '县', 2, register_level = '乡镇', 1, 0) >= if(township != '', 3, 4))
ORDER BY occurred_at, id`
