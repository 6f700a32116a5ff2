package brief

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	risk "riskwatch"
)

// fullBrief is a brief with every section at its longest: what must still
// print on two A4 pages.
func fullBrief() *Brief {
	week, _ := PeriodAt("week", time.Date(2020, 2, 28, 0, 0, 0, 0, risk.CST))
	b := &Brief{Region: "330681", RegionName: "诸暨市", Period: week, Previous: week.Previous(), YearAgo: week.YearAgo(),
		MadeAt: time.Date(2020, 3, 2, 8, 0, 0, 0, risk.CST), History: 8, PlaceLevel: "乡镇（街道）", SubLevel: "村（社区）",
		Footnote: fmt.Sprintf(footnote, 8, "周", MinCount), MoreNotable: true}
	n := func(v int) *int { return &v }
	for i, key := range []string{"matters", "matters_hotline", "matters_petition", "matters_grid", "alerts_red", "alerts_orange", "alerts_yellow", "alerts_blue",
		"cases_opened", "cases_settled", "cases_settled_first", "cases_escalated", "cases_overdue"} {
		b.Headline = append(b.Headline, Figure{Key: key, Name: key, Current: 1000 + i*37, Previous: 900 + i*11, YearAgo: n(800 + i)})
	}
	share := 83.0
	b.SettledShare = SharePair{Current: &share, Previous: &share, YearAgo: &share}
	cats := []string{"劳资纠纷", "征地拆迁纠纷", "婚姻家庭纠纷", "房屋宅基地纠纷", "劳动和社会保障"}
	towns := []string{"枫桥镇", "店口镇", "暨阳街道", "陶朱街道", "浣东街道", "大唐街道", "牌头镇", "次坞镇"}
	for i := range 5 {
		hist := []int{12, 15, 9, 14, 11, 13, 10, 16}
		b.RisingCategories = append(b.RisingCategories, Rise{Key: cats[i], Name: cats[i], Current: 60 + i, Previous: 16, Mean: 12.5, History: hist, P: 1e-6,
			Places: []Place{{Name: towns[0], Current: 30}, {Name: towns[1], Current: 20}}})
		b.RisingPlaces = append(b.RisingPlaces, Rise{Key: towns[i], Name: towns[i], Current: 90 + i, Previous: 40, Mean: 38.2, History: hist, P: 1e-5})
	}
	rate := func(v float64) *float64 { return &v }
	for i := range 8 {
		// Rated per 10,000 residents: the longest labels.
		b.Hotspots = append(b.Hotspots, Place{Name: towns[i], Current: 400 - 30*i, Previous: 380 - 25*i, Per10k: rate(88.8 - float64(i))})
		b.SubHotspots = append(b.SubHotspots, Place{Name: towns[i] + "解放路社区", Current: 90 - 7*i, Previous: 70, Per10k: rate(123.4 - float64(i))})
	}
	b.HotspotsPer10k, b.SubHotspotsPer10k = true, true
	for i := range notableAlerts + notableMatters + notableEscalations {
		b.Notable = append(b.Notable, Line{Kind: "alert", Text: fmt.Sprintf("2月%d日 上交：橙色群体性风险案件因超期由枫桥镇综治中心上交诸暨市社会矛盾纠纷调处化解中心，仍在办理", 24+i%7)})
	}
	for _, tp := range Topics {
		b.Topics = append(b.Topics, Figure{Key: tp.Tag, Name: tp.Name, Current: 40, Previous: 12})
	}
	b.Observations = observe(b)
	return b
}

// TestBriefPrints prints the longest brief with the console tests' headless
// Chromium and counts the PDF's pages: at most two A4 sheets. The PDF is
// left in $RISKWATCH_BRIEF_PDF when set, to look at.
func TestBriefPrints(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	browser := os.Getenv("RISKWATCH_CHROMIUM")
	if browser == "" {
		var err error
		if browser, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium not found: run deploy/local/chromium.sh or set RISKWATCH_CHROMIUM")
		}
	}
	dir := t.TempDir()
	page, pdf := filepath.Join(dir, "brief.html"), filepath.Join(dir, "brief.pdf")
	if p := os.Getenv("RISKWATCH_BRIEF_PDF"); p != "" {
		pdf = p
	}
	var buf bytes.Buffer
	if err := Write(&buf, fullBrief(), "html"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(data, -1))
	if pages == 0 || pages > 2 {
		t.Errorf("the brief prints on %d pages, want 1 or 2", pages)
	}
	// A4 is 595 × 842 points.
	for _, m := range regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)`).FindAllSubmatch(data, -1) {
		w, _ := strconv.ParseFloat(string(m[1]), 64)
		h, _ := strconv.ParseFloat(string(m[2]), 64)
		if math.Abs(w-595) > 1 || math.Abs(h-842) > 1 {
			t.Errorf("a page of %.0f × %.0f points, want A4 (595 × 842)", w, h)
		}
	}
}
