package detectors

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
// after the window's end counts as open in it, so backtests are right too,
// and one raised after the window's end is not in it (live, it was not
// there yet).
//
// Only a late matter that is a risk is an early warning for the centres to
// review: a dispute (a 纠纷 category), a petition, repeated (upstream's
// flag, a petition's earlier visits, an answer rejected) or collective
// (flagged, or five or more people). 将到期, and a routine order late, are
// reminders to the desk that owns the matter (risk.Alert.Reminder): the
// upstream systems supervise their own deadlines.
func Overdue(conn driver.Conn, cfg OverdueConfig) Definition {
	d := Definition{Name: "overdue", Schedule: "*/5 * * * *", Timeout: 2 * time.Minute, Window: time.Hour}
	// One pass reads every crossing in the range with what decides, per
	// window, whether the record counts: when it was raised (the lookback
	// ends each window's reading) and when it was finished (open at the
	// window's end).
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		err := eachRow(ctx, conn, overdueQuery, func(rows driver.Rows) error {
			var m overdueMatter
			if err := rows.Scan(&m.source, &m.id, &m.township, &m.county, &m.category, &m.due, &m.risky, &m.occurred, &m.finished, &m.finishedAt); err != nil {
				return err
			}
			last := -1 // a record crosses two lines in one window at most once
			for _, t := range []time.Time{m.due.Add(-cfg.DueSoon), m.due, m.due.Add(7 * 24 * time.Hour)} {
				i := slot(t, from, step)
				if i < 0 || i >= len(ws) || i == last {
					continue
				}
				last = i
				w := ws[i]
				if m.occurred.Before(w.End.AddDate(0, 0, -overdueLookbackDays)) || !m.occurred.Before(w.End) || (m.finished == 1 && m.finishedAt.Before(w.End)) {
					continue
				}
				out[i] = append(out[i], m.alert(d.Name, w))
			}
			return nil
		}, cfg.PetitionDays, from.Add(step).AddDate(0, 0, -overdueLookbackDays), ws[len(ws)-1].End, from.Add(step), from, to, int64(cfg.DueSoon.Seconds()))
		for _, alerts := range out {
			slices.SortFunc(alerts, func(a, b risk.Alert) int {
				return cmp.Or(a.Seen.Compare(b.Seen), cmp.Compare(a.Evidence[0].ID, b.Evidence[0].ID), cmp.Compare(a.Evidence[0].Source, b.Evidence[0].Source))
			})
		}
		return out, err
	}, d.Window)
	return d
}

// overdueMatter is a record crossing a line, as read.
type overdueMatter struct {
	source, id, township, county, category string
	due, occurred, finishedAt              time.Time
	risky, finished                        uint8
}

// alert is the record's alert in w, a window in which it crosses a line.
func (m overdueMatter) alert(name string, w risk.Window) risk.Alert {
	late := w.End.Sub(m.due)
	lv, what := risk.LevelBlue, fmt.Sprintf("将到期（期限%s）", m.due.In(risk.CST).Format("01-02 15:04"))
	switch {
	case late > 7*24*time.Hour:
		lv, what = risk.LevelOrange, fmt.Sprintf("超期%d天", int(late.Hours()/24))
	case late > 0:
		lv, what = risk.LevelYellow, fmt.Sprintf("已超期（期限%s）", m.due.In(risk.CST).Format("01-02 15:04"))
	}
	region := placeOf(m.township, m.county)
	return risk.Alert{
		Labels:   risk.Labels{"detector": name, "region": region, "category": m.category, "subject": m.source + ":" + m.id},
		Window:   w,
		Level:    lv,
		Summary:  fmt.Sprintf("%s：%s %s 的%s事项仍未办结", what, region, m.id, m.category),
		Numbers:  map[string]float64{"hours_late": late.Hours()},
		Evidence: []risk.Evidence{{Source: risk.Source(m.source), ID: m.id}},
		Seen:     m.due,
		Reminder: late <= 0 || m.risky == 0,
	}
}

// overdueLookbackDays bounds the matters read: a deadline comes within
// four months of the matter (petitions: 60 days, extendable by 30), and
// older open ones belong to a clean-up, not to an early warning. It keeps a
// run's cost to a few monthly partitions however long the history.
const overdueLookbackDays = 120

// overdueQuery: toUnixTimestamp(…) = 0 is "no time".
// The arguments: petition days, the lookback start of the first window and
// the last window's end (raised in between), the first window's end (open
// at it), then the range and the due-soon seconds for the crossings. The
// caller narrows each window's records.
const overdueQuery = `
SELECT source, id, township, county, category, due, risky, occurred_at, status = 'finished', finished_at
FROM (
    SELECT source, id, township, county, category, occurred_at, status, finished_at,
           endsWith(category, '纠纷') OR source = 'petition' OR repeat = 1 OR repeat_num > 0 OR answer_rejected = 1
               OR collective = 1 OR head_count >= 5 OR petitioner_count >= 5 AS risky,
           if(toUnixTimestamp(deadline) > 0, deadline,
              if(source = 'petition' AND toUnixTimestamp(accepted_at) > 0, accepted_at + toIntervalDay(?), toDateTime(0, 'UTC'))) AS due
    FROM events FINAL
    WHERE occurred_at >= ? AND occurred_at < ?
      AND (status IN ('open', 'in_progress', 'reopened') OR (status = 'finished' AND finished_at >= ?))
)
WHERE toUnixTimestamp(due) > 0
  AND arrayExists(t -> t >= toInt64(toUnixTimestamp(?)) AND t < toInt64(toUnixTimestamp(?)),
                  [toInt64(toUnixTimestamp(due)) - ?, toInt64(toUnixTimestamp(due)), toInt64(toUnixTimestamp(due)) + 604800])
`
