package brief

import (
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	risk "riskwatch"
)

// Populations are the residents of places — counties, townships, villages
// — by their codes as a brief names them (330681, 330681109,
// 330681109201), for the hotspots per 10,000 residents.
type Populations map[string]int

// ReadPopulations reads a region file: a YAML map from division code (6, 9
// or 12 digits; a township or county may be written zero-padded to 12) to
// residents, such as a census gives:
//
//	330681109: 63000   # 枫桥镇
//	330681109201: 2100 # 枫源村
//
// A code that is not a county, township or village, a count that is not
// positive, or a place given twice is ErrInvalid.
func ReadPopulations(r io.Reader) (Populations, error) {
	var raw map[string]int
	if err := yaml.NewDecoder(r).Decode(&raw); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read populations: %v: %w", err, risk.ErrInvalid)
	}
	return NewPopulations(raw)
}

// NewPopulations checks residents by division code as ReadPopulations
// does (a region directory's residents, for one).
func NewPopulations(raw map[string]int) (Populations, error) {
	out := Populations{}
	for code, n := range raw {
		reg, err := risk.ParseRegion(code)
		if err != nil {
			return nil, fmt.Errorf("populations: %w", err)
		}
		place := ""
		switch reg.Level() {
		case "village":
			place = reg.Village()
		case "township":
			place = reg.Township()
		case "county":
			place = reg.County()
		default:
			return nil, fmt.Errorf("populations: %s is a %s: want a county, township or village: %w", code, reg.Level(), risk.ErrInvalid)
		}
		if n <= 0 {
			return nil, fmt.Errorf("populations: %s has %d residents: want a positive count: %w", code, n, risk.ErrInvalid)
		}
		if _, dup := out[place]; dup {
			return nil, fmt.Errorf("populations: %s given twice: %w", place, risk.ErrInvalid)
		}
		out[place] = n
	}
	return out, nil
}

// per10k is count per 10,000 residents of place; nil where its population
// is not known.
func (ps Populations) per10k(place string, count int) *float64 {
	n, ok := ps[place]
	if !ok {
		return nil
	}
	v := 10000 * float64(count) / float64(n)
	return &v
}

// covers reports whether every place of counts has a population.
func (ps Populations) covers(counts map[string]int) bool {
	if len(ps) == 0 || len(counts) == 0 {
		return false
	}
	for p := range counts {
		if _, ok := ps[p]; !ok {
			return false
		}
	}
	return true
}
