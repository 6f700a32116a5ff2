package detectors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// ConvergenceConfig tunes the convergence detector.
type ConvergenceConfig struct {
	Days int `yaml:"days"` // looking back this many days; default 14
}

// Convergence (多渠道汇聚) finds a person — by the keyed hash of their ID or
// phone number — who turned to two or three channels (hotline, petition,
// grid) within Days, one of them in the window: a matter that one channel
// did not settle. Yellow for two channels, orange for all three. The same
// subject reported by different people in several feeds is not found yet:
// it needs subject keys extracted from the text.
func Convergence(conn driver.Conn, cfg ConvergenceConfig) Definition {
	d := Definition{Name: "convergence", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	names := map[string]string{"hotline": "12345热线", "petition": "信访", "grid": "网格"}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		alerts, err := queryAlerts(ctx, conn, convergenceQuery, func(rows driver.Rows) (risk.Alert, error) {
			var key, township, county, category string
			var sources, ids, feeds []string
			var last time.Time
			if err := rows.Scan(&key, &feeds, &sources, &ids, &township, &county, &category, &last); err != nil {
				return risk.Alert{}, err
			}
			slices.Sort(feeds)
			lv := risk.LevelYellow
			if len(feeds) >= 3 {
				lv = risk.LevelOrange
			}
			region := township
			if region == "" {
				region = county
			}
			var channels []string
			for _, f := range feeds {
				channels = append(channels, names[f])
			}
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "person": key},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("多渠道汇聚：同一人%d天内经%s反映（最近一次%s，%s）", cfg.Days, strings.Join(channels, "、"), category, region),
				Numbers:  map[string]float64{"channels": float64(len(feeds)), "matters": float64(len(ids))},
				Evidence: evidence(sources, ids),
				Seen:     last,
			}, nil
		}, w.End.AddDate(0, 0, -cfg.Days), w.End, w.Start)
		if err != nil {
			return nil, err
		}
		return samePerson(alerts), nil
	}
	return d
}

const convergenceQuery = `
SELECT k, groupUniqArray(source) AS feeds, groupArray(source), groupArray(id),
       argMax(township, occurred_at), argMax(county, occurred_at), argMax(category, occurred_at), max(occurred_at) AS last
FROM (
    SELECT source, id, occurred_at, county, township, category, person_keys
    FROM events FINAL
    WHERE status != 'deleted' AND occurred_at >= ? AND occurred_at < ?
)
ARRAY JOIN person_keys AS k
GROUP BY k
HAVING length(feeds) >= 2 AND last >= ?
ORDER BY k`
