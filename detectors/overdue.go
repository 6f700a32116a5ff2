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

// Overdue (超期) finds records, still open at the window's end, that cross a
// line in the window: due within DueSoon (将到期, blue), past the deadline
// (yellow), past it by seven days (orange). A petition accepted without a
// deadline gets the statutory one: PetitionDays after acceptance. Each
// record raises once per line, joining its open alert, so the cost of a run
// follows the crossings, not the size of the backlog; a record finished
// after the window's end counts as open in it, so backtests are right too.
//
// Only a late matter that is a risk is an early warning for the centres to
// review: a dispute (a 纠纷 category), a petition, repeated (upstream's
// flag, a petition's earlier visits, an answer rejected) or collective
// (flagged, or five or more people). 将到期, and a routine order late, are
// reminders to the desk that owns the matter (risk.Alert.Reminder): the
// upstream systems supervise their own deadlines.
func Overdue(conn driver.Conn, cfg OverdueConfig) Definition {
	d := Definition{Name: "overdue", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	d.Detect = func(ctx context.Context, w risk.Window) ([]risk.Alert, error) {
		return queryAlerts(ctx, conn, overdueQuery, func(rows driver.Rows) (risk.Alert, error) {
			var source, id, township, county, category string
			var due time.Time
			var risky uint8
			if err := rows.Scan(&source, &id, &township, &county, &category, &due, &risky); err != nil {
				return risk.Alert{}, err
			}
			late := w.End.Sub(due)
			lv, what := risk.LevelBlue, fmt.Sprintf("将到期（期限%s）", due.In(risk.CST).Format("01-02 15:04"))
			switch {
			case late > 7*24*time.Hour:
				lv, what = risk.LevelOrange, fmt.Sprintf("超期%d天", int(late.Hours()/24))
			case late > 0:
				lv, what = risk.LevelYellow, fmt.Sprintf("已超期（期限%s）", due.In(risk.CST).Format("01-02 15:04"))
			}
			region := placeOf(township, county)
			return risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": region, "category": category, "subject": source + ":" + id},
				Window:   w,
				Level:    lv,
				Summary:  fmt.Sprintf("%s：%s %s 的%s事项仍未办结", what, region, id, category),
				Numbers:  map[string]float64{"hours_late": late.Hours()},
				Evidence: []risk.Evidence{{Source: risk.Source(source), ID: id}},
				Seen:     due,
				Reminder: late <= 0 || risky == 0,
			}, nil
		}, cfg.PetitionDays, w.End.AddDate(0, 0, -overdueLookbackDays), w.End, w.Start, w.End, int64(cfg.DueSoon.Seconds()))
	}
	return d
}

// overdueLookbackDays bounds the matters read: a deadline comes within
// four months of the matter (petitions: 60 days, extendable by 30), and
// older open ones belong to a clean-up, not to an early warning. It keeps a
// run's cost to a few monthly partitions however long the history.
const overdueLookbackDays = 120

// overdueQuery: toUnixTimestamp(…) = 0 is "no time".
// The arguments: petition days, lookback start, window end (open at it),
// then window start and end and the due-soon seconds for the crossings.
const overdueQuery = `
SELECT source, id, township, county, category, due, risky
FROM (
    SELECT source, id, township, county, category,
           endsWith(category, '纠纷') OR source = 'petition' OR repeat = 1 OR repeat_num > 0 OR answer_rejected = 1
               OR collective = 1 OR head_count >= 5 OR petitioner_count >= 5 AS risky,
           if(toUnixTimestamp(deadline) > 0, deadline,
              if(source = 'petition' AND toUnixTimestamp(accepted_at) > 0, accepted_at + toIntervalDay(?), toDateTime(0, 'UTC'))) AS due
    FROM events FINAL
    WHERE occurred_at >= ?
      AND (status IN ('open', 'in_progress', 'reopened') OR (status = 'finished' AND finished_at >= ?))
)
WHERE toUnixTimestamp(due) > 0
  AND arrayExists(t -> t >= toInt64(toUnixTimestamp(?)) AND t < toInt64(toUnixTimestamp(?)),
                  [toInt64(toUnixTimestamp(due)) - ?, toInt64(toUnixTimestamp(due)), toInt64(toUnixTimestamp(due)) + 604800])
ORDER BY due, id`
