package detectors

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	risk "riskwatch"
)

// OverdueConfig tunes the overdue detector.
type OverdueConfig struct {
	PetitionDays int           `yaml:"petition_days"` // statutory deadline after acceptance when upstream sends none; default 60
	DueSoon      time.Duration `yaml:"due_soon"`      // 将到期 within this; default 24h
}

// Overdue (超期) finds records still open at the window's end whose deadline
// has passed, and those due within DueSoon (将到期). A petition accepted
// without a deadline gets the statutory one: PetitionDays after acceptance.
// Blue when due soon, yellow when overdue, orange when overdue by more than
// seven days. One alert per record, joined while open.
func Overdue(conn driver.Conn, cfg OverdueConfig) Definition {
	d := Definition{Name: "overdue", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		return queryAlerts(ctx, conn, overdueQuery, func(rows driver.Rows) (risk.Alert, error) {
			var source, id, township, county, category string
			var due time.Time
			if err := rows.Scan(&source, &id, &township, &county, &category, &due); err != nil {
				return risk.Alert{}, err
			}
			late := w.End.Sub(due)
			lv, what := risk.LevelBlue, fmt.Sprintf("将到期（期限%s）", due.In(cst).Format("01-02 15:04"))
			switch {
			case late > 7*24*time.Hour:
				lv, what = risk.LevelOrange, fmt.Sprintf("超期%d天", int(late.Hours()/24))
			case late > 0:
				lv, what = risk.LevelYellow, fmt.Sprintf("已超期（期限%s）", due.In(cst).Format("01-02 15:04"))
			}
			region := township
			if region == "" {
				region = county
			}
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": region, "category": category, "subject": source + ":" + id},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("%s：%s %s 的%s事项仍未办结", what, region, id, category),
				Numbers:  map[string]float64{"hours_late": late.Hours()},
				Evidence: []risk.Evidence{{Source: risk.Source(source), ID: id}},
				Seen:     due,
			}, nil
		}, cfg.PetitionDays, w.End.AddDate(-1, 0, 0), w.End.Add(cfg.DueSoon))
	}
	return d
}

// overdueQuery looks back a year of matters: older open ones belong to a
// clean-up, not to an early warning. toUnixTimestamp(…) = 0 is "no time".
const overdueQuery = `
SELECT source, id, township, county, category, due
FROM (
    SELECT source, id, township, county, category,
           if(toUnixTimestamp(deadline) > 0, deadline,
              if(source = 'petition' AND toUnixTimestamp(accepted_at) > 0, accepted_at + toIntervalDay(?), toDateTime(0, 'UTC'))) AS due
    FROM events FINAL
    WHERE status IN ('open', 'in_progress', 'reopened') AND occurred_at >= ?
)
WHERE toUnixTimestamp(due) > 0 AND due < ?
ORDER BY due, id`
