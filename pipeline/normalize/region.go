package normalize

import (
	"bytes"
	"fmt"

	risk "riskwatch"
)

// gazetteer is the small built-in list of names used when a record has no
// usable region code: the divisions the contracts name. It is not a full
// GB/T 2260 table; a name missing here leaves the region unknown, with a
// warning, rather than guessed. Level: 1 province, 2 city, 3 county,
// 4 township; the most specific match wins.
var gazetteer = []struct {
	name, code string
	level      int
}{
	{"浙江省", "330000", 1},
	{"杭州市", "330100", 2},
	{"绍兴市", "330600", 2},
	{"诸暨市", "330681", 3},
	{"上城区", "330102", 3},
	{"下城区", "330103", 3},
	{"江干区", "330104", 3},
	{"西湖区", "330106", 3},
	{"柯桥区", "330603", 3},
	{"枫桥镇", "330681109", 4},
	{"暨阳街道", "330681001", 4},
	{"陶朱街道", "330681003", 4},
	{"店口镇", "330681104", 4},
	{"王坛镇", "330603107", 4},
	{"笕桥街道", "330102016", 4},
}

// place is a gazetteer entry ready for matching.
type place struct {
	name   []byte
	level  int
	region risk.Region
}

var places = func() []place {
	ps := make([]place, len(gazetteer))
	for i, g := range gazetteer {
		r, err := risk.ParseRegion(g.code)
		if err != nil {
			panic(fmt.Sprintf("normalize: gazetteer %s: %v", g.name, err))
		}
		ps[i] = place{name: []byte(g.name), level: g.level, region: r}
	}
	return ps
}()

// regionFromAddress returns the most specific gazetteer division named in
// address (the longest name among equals); ok is false when none is.
func regionFromAddress(address []byte) (risk.Region, bool) {
	var best *place
	for i := range places {
		p := &places[i]
		if (best == nil || p.level > best.level || p.level == best.level && len(p.name) > len(best.name)) &&
			bytes.Contains(address, p.name) {
			best = p
		}
	}
	if best == nil {
		return risk.Region{}, false
	}
	return best.region, true
}
