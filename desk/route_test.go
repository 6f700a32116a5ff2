package desk

import (
	"errors"
	"strings"
	"testing"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// ladder is part of 诸暨市: one village desk in 枫桥镇, two township desks,
// the county and the city.
var ladder = []Desk{
	{ID: "city", Name: "绍兴市社会矛盾纠纷调处化解中心", Tier: risk.TierCity, Region: "330600"},
	{ID: "county", Name: "诸暨市矛调中心", Tier: risk.TierCounty, Region: "330681"},
	{ID: "fengqiao", Name: "枫桥镇综治中心", Tier: risk.TierTownship, Region: "330681109"},
	{ID: "jiyang", Name: "暨阳街道综治中心", Tier: risk.TierTownship, Region: "330681001"},
	{ID: "fengyuan", Name: "枫源村调委会", Tier: risk.TierVillage, Region: "330681109201"},
}

func TestRoute(t *testing.T) {
	cfg := DefaultConfig().Routing
	for _, tt := range []struct {
		name     string
		scope    Scope
		desk     string
		reason   string // a phrase the reason must hold
		notFound bool
	}{
		{"blue in a village with a desk", Scope{"surge", risk.LevelBlue, "330681109201"}, "fengyuan", "蓝色预警由村级处置", false},
		{"yellow in a village with a desk", Scope{"repeat", risk.LevelYellow, "330681109201"}, "fengyuan", "黄色预警由村级处置", false},
		{"yellow in a village without a desk", Scope{"repeat", risk.LevelYellow, "330681109202"}, "fengqiao", "当地未设村级工作台", false},
		{"orange in a village", Scope{"collective", risk.LevelOrange, "330681109201"}, "fengqiao", "橙色预警由乡镇级处置", false},
		{"blue spanning villages", Scope{"surge", risk.LevelBlue, "330681109"}, "fengqiao", "多个村（社区）", false},
		{"red in a village", Scope{"extreme_intent", risk.LevelRed, "330681109201"}, "county", "红色预警由县级处置", false},
		{"yellow spanning townships", Scope{"surge", risk.LevelYellow, "330681"}, "county", "多个乡镇（街道）", false},
		{"skip-level, yellow, in a township", Scope{"skip_level", risk.LevelYellow, "330681001"}, "county", "越级访类预警由县级处置", false},
		{"orange in a township without a desk", Scope{"surge", risk.LevelOrange, "330681104"}, "county", "当地未设乡镇级工作台", false},
		{"city-wide", Scope{"surge", risk.LevelBlue, "330600"}, "city", "多个县（市、区）", false},
		{"another county of the city", Scope{"surge", risk.LevelOrange, "330621001"}, "city", "", false},
		{"another province", Scope{"surge", risk.LevelRed, "110101"}, "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfg.Route(tt.scope, ladder)
			if tt.notFound {
				if !errors.Is(err, risk.ErrNotFound) {
					t.Fatalf("got %+v, %v; want not found", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Desk.ID != tt.desk {
				t.Errorf("desk = %s, want %s (%s)", got.Desk.ID, tt.desk, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.reason) || !strings.HasPrefix(got.Reason, "分派至"+got.Desk.Name) {
				t.Errorf("reason %q: want it to name the desk and say %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestRouteIsConfigurable(t *testing.T) {
	cfg := DefaultConfig().Routing
	cfg.Levels = map[risk.Level]risk.Tier{risk.LevelBlue: risk.TierTownship, risk.LevelYellow: risk.TierTownship, risk.LevelOrange: risk.TierCounty, risk.LevelRed: risk.TierCounty}
	got, err := cfg.Route(Scope{"surge", risk.LevelBlue, "330681109201"}, ladder)
	if err != nil || got.Desk.ID != "fengqiao" {
		t.Errorf("blue with villages off the ladder: got %s, %v; want fengqiao", got.Desk.ID, err)
	}
}

func TestAbove(t *testing.T) {
	for _, tt := range []struct {
		from, region, want string
	}{
		{"fengyuan", "330681109201", "fengqiao"},
		{"fengqiao", "330681109201", "county"},
		{"county", "330681109", "city"},
		{"city", "330681109", ""},
	} {
		var from Desk
		for _, d := range ladder {
			if d.ID == tt.from {
				from = d
			}
		}
		got, ok := Above(from, tt.region, ladder)
		if got.ID != tt.want || ok != (tt.want != "") {
			t.Errorf("Above(%s, %s) = %s, %v; want %q", tt.from, tt.region, got.ID, ok, tt.want)
		}
	}
}

func TestDeskValidate(t *testing.T) {
	const token = "tok9f8e7d6c5b4a3210"
	robots := DefaultConfig().Notify.Robots
	good := Desk{ID: "fengqiao", Name: "枫桥镇综治中心", Tier: risk.TierTownship, Region: "330681109", Hours: "08:30-17:30",
		Webhooks: []robot.Webhook{{Kind: robot.DingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=" + token}}}
	if err := good.Validate(robots); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Desk){
		"bad id":          func(d *Desk) { d.ID = "Feng Qiao" },
		"no name":         func(d *Desk) { d.Name = " " },
		"bad tier":        func(d *Desk) { d.Tier = "province" },
		"region of tier":  func(d *Desk) { d.Region = "330681" },
		"bad region":      func(d *Desk) { d.Region = "33068" },
		"bad hours":       func(d *Desk) { d.Hours = "8:30-17:30" },
		"bad webhook url": func(d *Desk) { d.Webhooks = []robot.Webhook{{Kind: robot.DingTalk, URL: "ftp://x"}} },
		"http robot": func(d *Desk) {
			d.Webhooks = []robot.Webhook{{Kind: robot.DingTalk, URL: "http://oapi.dingtalk.com/robot/send?access_token=" + token}}
		},
		"robot on another host": func(d *Desk) {
			d.Webhooks = []robot.Webhook{{Kind: robot.WeCom, URL: "https://127.0.0.1:8123/?query=SELECT+1&key=" + token}}
		},
	} {
		d := good
		mod(&d)
		err := d.Validate(robots)
		if !errors.Is(err, risk.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error %q quotes the robot's token", name, err)
		}
	}
	// An on-premises gateway (浙政钉) once its host is allowed.
	gw := good
	gw.Webhooks = []robot.Webhook{{Kind: robot.DingTalk, URL: "https://zzd.gw.zj.gov.cn/robot/send?access_token=" + token}}
	if err := gw.Validate(robots); err == nil {
		t.Error("a gateway not listed: got nil, want an error")
	}
	robots.Hosts = append(robots.Hosts, "zzd.gw.zj.gov.cn")
	if err := gw.Validate(robots); err != nil {
		t.Errorf("a listed gateway: %v", err)
	}
}
