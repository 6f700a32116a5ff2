package subject

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestLabelled measures the extractor on texts labelled by hand: the
// contract examples, the demo scenario's templates and hard cases. Every key
// is judged: a key found and labelled is a hit, found and not labelled a
// false key, labelled and not found a miss.
func TestLabelled(t *testing.T) {
	p, r := measure(t, "testdata/labelled.tsv")
	// Floors under the figures measured when the set was written, so that a
	// change to the rules that loses ground fails.
	if p < 0.95 || r < 0.95 {
		t.Errorf("precision %.2f, recall %.2f: want both at least 0.95", p, r)
	}
}

// TestHeldOut measures the extractor on texts labelled by someone who had
// not seen its rules. heldout.tsv was blind when first measured (precision
// 0.81, recall 0.78) and the rules were then generalised from its misses;
// blind.tsv was written later and never used to change the rules: its
// figures are the ones to quote.
func TestHeldOut(t *testing.T) {
	for _, c := range []struct {
		file              string
		precision, recall float64
	}{
		{"testdata/heldout.tsv", 0.95, 0.95},
		{"testdata/blind.tsv", 0.8, 0.7},
	} {
		p, r := measure(t, c.file)
		if p < c.precision || r < c.recall {
			t.Errorf("%s: precision %.2f, recall %.2f; want at least %.2f and %.2f", c.file, p, r, c.precision, c.recall)
		}
	}
}

func measure(t *testing.T, file string) (precision, recall float64) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hits, falseKeys, misses, lines int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("%q: want 4 tab-separated columns", line)
		}
		lines++
		var want []string
		if cols[3] != "" {
			want = strings.Split(cols[3], ",")
		}
		got := Extract(cols[1], cols[2], cols[0])
		for _, k := range got {
			if slices.Contains(want, k) {
				hits++
			} else {
				falseKeys++
				t.Logf("false key %s in %s", k, cols[0])
			}
		}
		for _, k := range want {
			if !slices.Contains(got, k) {
				misses++
				t.Logf("missed %s in %s", k, cols[0])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	precision = float64(hits) / float64(hits+falseKeys)
	recall = float64(hits) / float64(hits+misses)
	t.Logf("%s, %d texts: precision %.2f, recall %.2f (%d keys found, %d false, %d missed)", file, lines, precision, recall, hits, falseKeys, misses)
	return precision, recall
}

func TestExtract(t *testing.T) {
	for _, c := range []struct {
		township, village, text string
		want                    []string
	}{
		{"", "", "", nil},
		{"", "", "公司", nil},
		// Keys are sorted and distinct.
		{"330681004", "", "兴达针织厂和兴达公司，还有恒丰公司", []string{"firm:兴达", "firm:恒丰"}},
		// Without a township an unnamed site is nobody's.
		{"", "", "安置房工地拖欠工资", nil},
		// Land needs the village.
		{"330681109", "", "征地补偿不公", nil},
		// After a township, a 新村 is its village unless the text goes on
		// about an estate.
		{"330681109", "330681109204", "枫桥镇杜黄新村大面积停电", nil},
		{"330681109", "330681109204", "枫桥镇杜黄新村3幢电梯坏了", []string{"estate:杜黄新村"}},
		{"", "", "江滨新村楼道堆放杂物", []string{"estate:江滨新村"}},
	} {
		got := Extract(c.township, c.village, c.text)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("Extract(%q, %q, %q) = %q, want %q", c.township, c.village, c.text, got, c.want)
		}
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("诸暨市兴达针织有限公司拖欠工资", "330681109")
	f.Add("金色家园12幢", "")
	f.Add("\xff公司", "")
	f.Fuzz(func(t *testing.T, text, township string) {
		keys := Extract(township, "", text)
		if len(keys) > MaxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if !strings.Contains(k, ":") {
				t.Fatalf("key %q has no kind", k)
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	text := "来电人反映其在诸暨市枫桥镇XX村安置房项目工地务工，包工头拖欠8名工人2019年下半年工资共计约16万元，春节前承诺发放至今未兑现，工人们表示若再不解决将到镇政府讨说法。"
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Extract("330681109", "330681109201", text)
	}
}
