package scenario

import risk "riskwatch"

// Places is the scenario's region directory: the city, the county, its
// townships and their villages by code, as deploy/regions.yaml lists them
// for the demo.
func Places() risk.Places {
	p := risk.Places{cityCode: "绍兴市", countyCode: countyName}
	for i := range townships {
		t := &townships[i]
		p[t.code] = t.name
		for j := range t.villages {
			p[t.villageCode(&t.villages[j])] = t.villages[j].name
		}
	}
	return p
}
