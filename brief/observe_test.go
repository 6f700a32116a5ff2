package brief

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// TestObservationsFollowFigures is a property test: on random figures, an
// observation never claims more than the figures show. Each number it
// states is the figure's; "高于…平均" only for a count above its history's
// mean (recomputed here from the tallies, not from the brief); "环比上升N%"
// only when above the previous period, by that much; "集中在" only for
// places that hold at least half; a share's move only by the figures.
// Quiet data (a flat history) gives no observation at all.
func TestObservationsFollowFigures(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2020))
	week, _ := PeriodAt("week", time.Date(2020, 2, 28, 0, 0, 0, 0, risk.CST))
	cats := []string{"劳资纠纷", "物业纠纷", "邻里纠纷", "征地拆迁纠纷"}
	places := []string{"330681109", "330681104", "330681001", ""}
	riseRe := regexp.MustCompile(`^(.+?)(?:类)?诉求(\d+)件，高于此前8周平均（([\d.]+)件）(?:，环比上升(\d+)%)?(?:，集中在(.+))?$`)
	observed := 0
	for n := range 500 {
		in := inputs{period: week, history: 8, level: "county"}
		quiet := n%5 == 0
		// Counts per category and place: a random level, and for some a
		// random jump in the last period.
		catSeries, placeSeries := map[string][]int{}, map[string][]int{}
		catPlace := map[string]map[string]int{}
		for _, c := range cats {
			for _, pl := range places {
				level := rng.IntN(6)
				for i := 0; i <= 8; i++ {
					k := level
					if !quiet {
						k = rng.IntN(level + 1)
						if i >= 7 && rng.IntN(3) == 0 { // last week may have jumped too
							k += rng.IntN(20)
						}
					}
					if k == 0 {
						continue
					}
					in.tallies = append(in.tallies, pipeline.Tally{Period: i, Source: risk.Sources[rng.IntN(3)], Key: c + "|" + pl + "||", Count: k})
					if catSeries[c] == nil {
						catSeries[c] = make([]int, 9)
					}
					catSeries[c][i] += k
					if pl != "" {
						if placeSeries[pl] == nil {
							placeSeries[pl] = make([]int, 9)
						}
						placeSeries[pl][i] += k
						if i == 8 {
							if catPlace[c] == nil {
								catPlace[c] = map[string]int{}
							}
							catPlace[c][pl] += k
						}
					}
				}
			}
		}
		for i := range in.desk {
			in.desk[i] = desk.PeriodFigures{Alerts: map[string]int{"red": rng.IntN(3)}, Settled: rng.IntN(12), Overdue: rng.IntN(2)}
			in.desk[i].SettledFirst = rng.IntN(in.desk[i].Settled + 1)
			if quiet {
				in.desk[i] = desk.PeriodFigures{}
			}
		}
		b := assemble(in, func(code string) string { return code })
		if quiet && len(b.Observations) != 0 {
			t.Fatalf("quiet data #%d: %q", n, b.Observations)
		}
		if len(b.Observations) > MaxObservations {
			t.Fatalf("#%d: %d observations", n, len(b.Observations))
		}
		for _, o := range b.Observations {
			observed++
			fail := func(why string, args ...any) {
				t.Fatalf("#%d: %q: %s", n, o.Text, fmt.Sprintf(why, args...))
			}
			switch o.Rule {
			case "rising_category", "rising_place":
				m := riseRe.FindStringSubmatch(o.Text)
				if m == nil {
					fail("not a rise sentence")
				}
				s := catSeries[o.Key]
				if o.Rule == "rising_place" {
					s = placeSeries[o.Key]
				}
				cur, _ := strconv.Atoi(m[2])
				mean := 0.0
				for _, v := range s[:8] {
					mean += float64(v)
				}
				mean /= 8
				if s == nil || cur != s[8] || m[3] != decimal(mean) || float64(cur) <= mean {
					fail("series %v: not above its mean", s)
				}
				if m[4] != "" {
					pct, _ := strconv.Atoi(m[4])
					if s[7] == 0 || s[8] <= s[7] || pct != (s[8]-s[7])*100/s[7] {
						fail("环比 %d%% but last week %d, this week %d", pct, s[7], s[8])
					}
				}
				if m[5] != "" {
					held := 0
					for _, part := range strings.Split(m[5], "、") {
						var code string
						var k int
						if _, err := fmt.Sscanf(strings.Replace(part, "（", " ", 1), "%s %d件）", &code, &k); err != nil || catPlace[o.Key][code] != k {
							fail("place %q: %v, want %d", part, err, catPlace[o.Key][code])
						}
						held += k
					}
					if 2*held < cur {
						fail("集中 in places that hold %d of %d", held, cur)
					}
				}
			case "red_alerts":
				if want := fmt.Sprintf("本周红色预警%d条（上周%d条），需逐条跟进", in.desk[0].Alerts["red"], in.desk[1].Alerts["red"]); o.Text != want || in.desk[0].Alerts["red"] == 0 {
					fail("want %q", want)
				}
			case "overdue":
				if in.desk[0].Overdue == 0 || o.Text != fmt.Sprintf("本周%d件案件到期未办结", in.desk[0].Overdue) {
					fail("overdue %d", in.desk[0].Overdue)
				}
			case "settled_share":
				c, p := in.desk[0], in.desk[1]
				sc, sp := 100*float64(c.SettledFirst)/float64(c.Settled), 100*float64(p.SettledFirst)/float64(p.Settled)
				dir := "上升"
				if sc < sp {
					dir = "下降"
				}
				if c.Settled < 5 || p.Settled < 5 || !strings.Contains(o.Text, dir) || !strings.HasPrefix(o.Text, fmt.Sprintf("矛盾不上交率%.0f%%", sc)) {
					fail("share %.0f%% of %d against %.0f%% of %d", sc, c.Settled, sp, p.Settled)
				}
			default:
				fail("unknown rule %s", o.Rule)
			}
		}
	}
	if observed < 100 {
		t.Errorf("only %d observations in 500 briefs: the property was hardly tested", observed)
	}
}

// TestRiseSentences: whatever a rise's previous period, the sentence says
// 环比上升 only when the count is above it, by the rounded-down percentage.
func TestRiseSentences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	week, _ := PeriodAt("week", time.Date(2020, 2, 28, 0, 0, 0, 0, risk.CST))
	for range 2000 {
		cur := MinCount + rng.IntN(50)
		r := Rise{Key: "劳资纠纷", Name: "劳资纠纷", Current: cur, Previous: rng.IntN(2 * cur), Mean: float64(rng.IntN(cur*10)) / 10}
		obs := observe(&Brief{Period: week, History: 8, RisingCategories: []Rise{r}})
		if len(obs) != 1 {
			t.Fatalf("%+v: %d observations", r, len(obs))
		}
		up := strings.Contains(obs[0].Text, "环比上升")
		if want := r.Current > r.Previous && r.Previous > 0; up != want {
			t.Fatalf("%+v: %q", r, obs[0].Text)
		}
		if up && !strings.Contains(obs[0].Text, fmt.Sprintf("环比上升%d%%", (r.Current-r.Previous)*100/r.Previous)) {
			t.Fatalf("%+v: %q", r, obs[0].Text)
		}
	}
}
