package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/text/encoding/simplifiedchinese"

	risk "riskwatch"
	"riskwatch/pipeline"
	"riskwatch/schema/schematest"
)

// TestContractExamples produces every contract example line, in file order,
// to one-partition topics and checks what a user would: one current row per
// record with the newest version winning, every version kept, deleted grid
// events not counted, and every bad line in quarantine with its offset.
func TestContractExamples(t *testing.T) {
	conn, _ := schematest.Open(t)
	feeds := []pipeline.Feed{
		{Source: risk.SourceHotline, Topic: uniqueName("hotline"), Group: uniqueName("hotline")},
		{Source: risk.SourcePetition, Topic: uniqueName("petition"), Group: uniqueName("petition")},
		{Source: risk.SourceGrid, Topic: uniqueName("grid"), Group: uniqueName("grid")},
	}
	addr := startBroker(t, 1, feeds[0].Topic, feeds[1].Topic, feeds[2].Topic)

	total := map[string]int{}
	for _, f := range feeds {
		var msgs []kafka.Message
		for _, l := range exampleLines(t, string(f.Source)) {
			msgs = append(msgs, kafka.Message{Value: l})
		}
		if f.Source == risk.SourceHotline {
			// The legacy gateway: the first example again, in GBK, as a newer version.
			gbk, err := simplifiedchinese.GBK.NewEncoder().String(`{"caseNo":"ZJSX12345-20200221-00123","version":4,"updateTime":"2020-02-27 10:00:00","callTime":"2020-02-21 09:30:15","appealType":"投诉","catalog":"劳动和社会保障/劳动关系/拖欠工资","content":"工资已结清，来电人表示满意。","regionCode":"330681109","status":"办结"}`)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Value: []byte(gbk), Headers: []kafka.Header{{Key: "charset", Value: []byte("GBK")}}})
		}
		// Kafka keys are the record ids; the broken lines go without.
		produce(t, addr, f.Topic, msgs...)
		total[f.Topic] = len(msgs)
	}

	m := newMetrics()
	w := pipeline.NewEventWriter(conn)
	for _, f := range feeds {
		startConsumer(t, addr, f, w, m, testConfig())
	}
	stats := pipeline.NewStatsReader(conn, pipeline.Brokers{Addrs: []string{addr}}, feeds, m)
	var got []pipeline.FeedStats
	waitFor(t, 60*time.Second, "every message committed", func() bool {
		var err error
		got, err = stats.Stats(context.Background())
		if err != nil {
			t.Logf("stats: %v", err)
			return false
		}
		for _, f := range got {
			if f.Lag != 0 || f.MessagesConsumed != int64(total[f.Topic]) {
				return false
			}
		}
		return true
	})

	// Hotline: 00123 came as v1, v2 twice, and v4 in GBK; 00102 as v3 then v2.
	var status, content string
	var version uint32
	if err := conn.QueryRow(context.Background(), `SELECT version, status_raw, text FROM events FINAL WHERE source = 'hotline' AND id = 'ZJSX12345-20200221-00123'`).Scan(&version, &status, &content); err != nil {
		t.Fatal(err)
	}
	if version != 4 || status != "办结" || content != "工资已结清，来电人表示满意。" {
		t.Errorf("00123 current = v%d %s %q, want v4 办结 with the GBK text decoded", version, status, content)
	}
	if err := conn.QueryRow(context.Background(), `SELECT version, status_raw FROM events FINAL WHERE source = 'hotline' AND id = 'ZJSX12345-20200222-00102'`).Scan(&version, &status); err != nil {
		t.Fatal(err)
	}
	if version != 3 || status != "办结" {
		t.Errorf("00102 current = v%d %s, want v3 办结 although v2 arrived after it", version, status)
	}
	if n := count(t, conn, `SELECT count() FROM event_versions FINAL WHERE id = 'ZJSX12345-20200221-00123'`); n != 3 {
		t.Errorf("versions of 00123 = %d, want 3 (v1, v2 delivered twice, v4)", n)
	}

	// Region prefixes, with the abolished 下城区 330103 counted in its successor 拱墅区.
	for id, want := range map[string][5]string{
		"HZ12345-20200225-10021":   {"330000", "330100", "330105", "", ""},
		"ZJSX12345-20200221-00123": {"330000", "330600", "330681", "330681109", ""},
		"330681-2020-02-000503":    {"330000", "330600", "330681", "330681104", "330681104201"},
	} {
		var got [5]string
		if err := conn.QueryRow(context.Background(), `SELECT province, city, county, township, village FROM matters WHERE id = ?`, id).Scan(&got[0], &got[1], &got[2], &got[3], &got[4]); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: region levels %v, want %v", id, got, want)
		}
	}
	var heads int32
	if err := conn.QueryRow(context.Background(), `SELECT head_count FROM matters WHERE id = 'ZJSX12345-20200222-00071'`).Scan(&heads); err != nil || heads != 8 {
		t.Errorf("00071 head count = %d (%v), want 8 from \"8人\"", heads, err)
	}

	want := map[risk.Source]struct {
		records, matters, versions, quarantined uint64
	}{
		// hotline: 00123, 00388, 00071, 00102, 10021 valid; 4 broken lines.
		risk.SourceHotline: {records: 5, matters: 5, versions: 8, quarantined: 4},
		// petition: 000457 (2 versions), 010220, 000502, 000503, 000011; missing registerTime rejected.
		risk.SourcePetition: {records: 5, matters: 5, versions: 6, quarantined: 1},
		// grid: 0031 (2 versions), 0007, 0012, 0031X deleted; empty gridCode rejected.
		risk.SourceGrid: {records: 4, matters: 3, versions: 5, quarantined: 1},
	}
	for _, f := range got {
		w := want[f.Source]
		if f.Records != w.records || f.Matters != w.matters || f.Versions != w.versions || f.Quarantined != w.quarantined {
			t.Errorf("%s stats: records %d, matters %d, versions %d, quarantined %d; want %d, %d, %d, %d",
				f.Source, f.Records, f.Matters, f.Versions, f.Quarantined, w.records, w.matters, w.versions, w.quarantined)
		}
		if f.VersionsLastHour != w.versions || f.VersionsLastDay != w.versions { // all ingested just now
			t.Errorf("%s throughput: %d versions in the last hour, %d in the last day; want %d", f.Source, f.VersionsLastHour, f.VersionsLastDay, w.versions)
		}
		if f.Watermark == nil || len(f.Partitions) != 1 || !f.Partitions[0].NewestEventTime.Equal(*f.Watermark) {
			t.Errorf("%s: watermark %v over %d partitions, want one partition with a watermark", f.Source, f.Watermark, len(f.Partitions))
		}
	}
	if n := count(t, conn, `SELECT count() FROM matters WHERE source = 'grid' AND id = 'GE330681109-20200222-0031X'`); n != 0 {
		t.Errorf("the deleted grid event is counted among matters")
	}

	// Every bad line is in quarantine at its offset (one partition: offset = line index).
	wantBad := map[string][]int64{feeds[0].Topic: {8, 9, 10, 11}, feeds[1].Topic: {6}, feeds[2].Topic: {5}}
	for topic, offsets := range wantBad {
		rows, err := conn.Query(context.Background(), `SELECT offset, reason FROM rejected_events FINAL WHERE topic = ? ORDER BY offset`, topic)
		if err != nil {
			t.Fatal(err)
		}
		var gotOffsets []int64
		for rows.Next() {
			var off int64
			var reason string
			if err := rows.Scan(&off, &reason); err != nil {
				t.Fatal(err)
			}
			if reason == "" {
				t.Errorf("%s offset %d quarantined without a reason", topic, off)
			}
			gotOffsets = append(gotOffsets, off)
		}
		rows.Close()
		if !slices.Equal(gotOffsets, offsets) {
			t.Errorf("%s quarantined offsets = %v, want %v", topic, gotOffsets, offsets)
		}
	}

	// Personal data never in clear: not the phone, not the name, not the ID.
	for _, clear := range []string{"13805712345", "138 0571 2345", "王建国", "330681198304125431", "李海军"} {
		n := count(t, conn, `SELECT count() FROM event_versions WHERE
			position(persons, ?) > 0 OR position(text, ?) > 0 OR position(title, ?) > 0 OR position(address, ?) > 0`, clear, clear, clear, clear)
		if n != 0 {
			t.Errorf("%q stored in clear in %d rows", clear, n)
		}
		if n := count(t, conn, `SELECT count() FROM rejected_events WHERE position(value_sealed, ?) > 0`, clear); n != 0 {
			t.Errorf("%q stored in clear in quarantine", clear)
		}
	}
	// The same phone in two formats and two feeds links to one person.
	if n := count(t, conn, `SELECT uniqExact(source) FROM event_versions ARRAY JOIN person_keys AS k
		WHERE k IN (SELECT person_keys[1] FROM events FINAL WHERE id = 'GE330681109-20200222-0031')`); n != 2 {
		t.Errorf("phone 13805712345 links %d feeds, want 2 (hotline and grid)", n)
	}
	// The 安置房 site's wage dispute, worded differently by callers, the grid
	// worker and petitioners, meets under one subject in all three feeds.
	if n := count(t, conn, `SELECT uniqExact(source) FROM events FINAL
		WHERE has(subjects, 'project:330681109:安置房')`); n != 3 {
		t.Errorf("the 安置房 site's subject is in %d feeds, want 3", n)
	}
	// A case reads the persons of its evidence: masked, sealed, each once.
	persons, err := pipeline.NewPersonReader(conn).Persons(context.Background(), []risk.Evidence{
		{Source: risk.SourceGrid, ID: "GE330681109-20200222-0031"}, {Source: risk.SourceHotline, ID: "ZJSX12345-20200221-00123"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(persons) < 2 {
		t.Fatalf("persons %+v: want the grid report's parties and the caller", persons)
	}
	for _, p := range persons {
		if p.Key() != "" && (p.Sealed == "" || strings.ContainsAny(p.Phone, "0123456789") && !strings.Contains(p.Phone, "*")) {
			t.Errorf("person %+v: want a sealed contact and a masked phone", p)
		}
	}
}
