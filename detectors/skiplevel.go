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
//
// It also finds a dispute climbing levels without skipping any (矛盾上交):
// a person whose petition in the window is registered higher than their
// petitions of the last climbDays — first at the township, now at the
// county. Yellow: the desk below did not settle it.
func SkipLevel(conn driver.Conn, _ SkipLevelConfig) Definition {
	d := Definition{Name: "skip_level", Schedule: "*/5 * * * *", Timeout: time.Minute, Window: time.Hour}
	// One pass reads the range's skips, and per person with a petition in
	// the range their petitions since the first window's climbDays; each
	// window judges its own.
	d.Detect, d.DetectRange = withRange(func(ctx context.Context, from, to time.Time, step time.Duration) ([][]risk.Alert, error) {
		ws := windows(from, to, step)
		out := make([][]risk.Alert, len(ws))
		if len(ws) == 0 {
			return out, nil
		}
		end := ws[len(ws)-1].End
		err := eachRow(ctx, conn, skipLevelQuery, func(rows driver.Rows) error {
			var id, county, township, category, level, org string
			var flagged uint8
			var persons []string
			var at time.Time
			var petitioners int32
			if err := rows.Scan(&id, &county, &township, &category, &level, &org, &flagged, &persons, &at, &petitioners); err != nil {
				return err
			}
			i := slot(at, from, step)
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
			out[i] = append(out[i], risk.Alert{
				Labels:   risk.Labels{"detector": d.Name, "region": region, "category": category, "person": person},
				Window:   ws[i],
				Level:    lv,
				Summary:  fmt.Sprintf("越级访：%s 的%s问题于%s在%s登记（%s级）", region, category, at.In(risk.CST).Format("2006-01-02"), org, level),
				Numbers:  map[string]float64{"petitioners": float64(max(petitioners, 0)), "upstream_flag": float64(flagged)},
				Evidence: []risk.Evidence{{Source: risk.SourcePetition, ID: id}},
				Seen:     at,
			})
			return nil
		}, from, end)
		if err != nil {
			return nil, err
		}
		climbs := make([][]risk.Alert, len(ws))
		err = eachRow(ctx, conn, climbQuery, func(rows driver.Rows) error {
			var all climb
			if err := rows.Scan(&all.key, &all.ids, &all.levels, &all.orgs, &all.ranks, &all.times, &all.townships, &all.counties, &all.categories); err != nil {
				return err
			}
			last := -1
			times := slices.Clone(all.times)
			slices.SortFunc(times, time.Time.Compare)
			for _, at := range times {
				i := slot(at, from, step)
				if i < 0 || i == last {
					continue
				}
				last = i
				if a, ok := all.until(ws[i].End).alert(d.Name, ws[i]); ok {
					climbs[i] = append(climbs[i], a)
				}
			}
			return nil
		}, ws[0].End.AddDate(0, 0, -climbDays), end, from)
		for i := range out {
			out[i] = append(out[i], climbs[i]...)
		}
		return out, err
	}, d.Window)
	return d
}

// climbDays is how far back a person's earlier petitions count.
const climbDays = 90

// climb is one person's petitions, as read: parallel arrays.
type climb struct {
	key                                                string
	ids, levels, orgs, townships, counties, categories []string
	ranks                                              []uint8
	times                                              []time.Time
}

// until keeps the petitions of the climbDays before end.
func (c climb) until(end time.Time) climb {
	k := climb{key: c.key}
	for i, t := range c.times {
		if t.Before(end.AddDate(0, 0, -climbDays)) || !t.Before(end) {
			continue
		}
		k.ids, k.levels, k.orgs = append(k.ids, c.ids[i]), append(k.levels, c.levels[i]), append(k.orgs, c.orgs[i])
		k.townships, k.counties, k.categories = append(k.townships, c.townships[i]), append(k.counties, c.counties[i]), append(k.categories, c.categories[i])
		k.ranks, k.times = append(k.ranks, c.ranks[i]), append(k.times, t)
	}
	return k
}

// alert raises the climb when it holds two petitions or more, the newest in the window, ranks
// higher than every earlier one (all of known rank), and is no skip:
// skipLevelQuery raises those.
func (c climb) alert(name string, w risk.Window) (risk.Alert, bool) {
	if len(c.ids) < 2 {
		return risk.Alert{}, false
	}
	order := make([]int, len(c.ids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Or(c.times[a].Compare(c.times[b]), cmp.Compare(c.ids[a], c.ids[b])) })
	newest := order[len(order)-1]
	region := placeOf(c.townships[newest], c.counties[newest])
	skipAt := uint8(4)
	if c.townships[newest] != "" {
		skipAt = 3
	}
	if !w.Contains(c.times[newest]) || c.ranks[newest] >= skipAt {
		return risk.Alert{}, false
	}
	for _, i := range order[:len(order)-1] {
		if c.ranks[i] == 0 || c.ranks[i] >= c.ranks[newest] {
			return risk.Alert{}, false
		}
	}
	first := order[0]
	var ev []risk.Evidence
	for _, i := range order {
		ev = append(ev, risk.Evidence{Source: risk.SourcePetition, ID: c.ids[i]})
	}
	return risk.Alert{
		Labels: risk.Labels{"detector": name, "person": c.key, "pattern": "climb"},
		Window: w,
		Level:  risk.LevelYellow,
		Summary: fmt.Sprintf("矛盾上交：同一人的%s问题%d天内从%s级登记升至%s级（%s，%s）",
			c.categories[newest], climbDays, c.levels[first], c.levels[newest], c.orgs[newest], region),
		Numbers:  map[string]float64{"petitions": float64(len(ev)), "from_rank": float64(c.ranks[first]), "to_rank": float64(c.ranks[newest])},
		Evidence: ev,
		Seen:     c.times[newest],
		Region:   region,
		Category: c.categories[newest],
	}, true
}

// climbQuery: per person, their petitions from the first argument on with
// the rank of the registering organ (乡镇 1 … 国家 5, 0 unknown), when one is
// in the range (from the last argument on).
const climbQuery = `
SELECT k, groupArray(id), groupArray(register_level), groupArray(register_org), groupArray(rank), groupArray(occurred_at),
       groupArray(township), groupArray(county), groupArray(category)
FROM (
    SELECT id, register_level, register_org, township, county, category, occurred_at, person_keys,
           toUInt8(multiIf(register_level = '国家', 5, register_level = '省', 4, register_level = '市', 3,
                           register_level = '县', 2, register_level = '乡镇', 1, 0)) AS rank
    FROM events FINAL
    WHERE source = 'petition' AND status != 'deleted' AND skip_level = 0 AND occurred_at >= ? AND occurred_at < ?
)
ARRAY JOIN person_keys AS k
GROUP BY k
HAVING count() >= 2 AND max(occurred_at) >= ?
ORDER BY k`

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
