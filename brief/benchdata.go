package brief

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// WriteBenchMatters writes the synthetic matters number from to from+n-1
// into conn's event tables, for the briefs' benchmarks: a year from
// 1 March 2019 (UTC+8), uniformly; six counties of the city 3306 with twenty
// townships of fifteen villages each; five feeds' shares (hotline 2/5,
// petition 1/5, grid 2/5); fifteen categories; 复工复产 on one matter in
// twenty, collective one in 500. ClickHouse writes them itself from
// numbers(), a million per insert; done is called after each (nil: not).
// Ids are the numbers, so a later call continues an earlier one.
func WriteBenchMatters(ctx context.Context, conn driver.Conn, from, n int, done func(written int)) error {
	const chunk = 1_000_000
	for at := from; at < from+n; at += chunk {
		size := min(chunk, from+n-at)
		err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO event_versions (source, id, version, ver, updated_at, occurred_at, ingested_at,
				region, county, category, tags, kind, status, head_count, petitioner_count, amount, collective)
			SELECT ['hotline', 'hotline', 'petition', 'grid', 'grid'][number %% 5 + 1], toString(number), 1, 1, t, t, t,
				concat(c, toString(100 + intHash32(number * 5) %% 20), toString(200 + intHash32(number * 11) %% 15)), c,
				['劳资纠纷', '物业纠纷', '婚姻家庭纠纷', '邻里纠纷', '房屋宅基地纠纷', '山林土地纠纷', '交通事故纠纷', '医疗纠纷',
				 '消费纠纷', '合同纠纷', '征地拆迁纠纷', '城乡建设', '卫生健康', '经济管理', '政法'][intHash32(number * 13) %% 15 + 1],
				if(intHash32(number * 17) %% 20 = 0, ['复工复产'], emptyArrayString()), '投诉', 'open', -1, -1, -1,
				toUInt8(intHash32(number * 19) %% 500 = 0)
			FROM (SELECT number, toDateTime(1551369600 + intHash32(number * 3) %% (366 * 86400)) AS t,
				concat('3306', ['02', '03', '04', '81', '83', '24'][intHash32(number * 7) %% 6 + 1]) AS c
				FROM numbers(%d, %d))`, at, size))
		if err != nil {
			return fmt.Errorf("write bench matters %d to %d: %w", at, at+size, err)
		}
		if done != nil {
			done(at + size - from)
		}
	}
	return nil
}
