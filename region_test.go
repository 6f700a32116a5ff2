package riskwatch

import "testing"

func TestPlacesRename(t *testing.T) {
	p := Places{"330681": "诸暨市", "330681109": "枫桥镇", "330681109201": "枫源村", "330681104201": "湄池村"}
	for _, c := range []struct{ in, want string }{
		{"突增：330681109 城乡建设 12-01 19:00起14件", "突增：枫桥镇 城乡建设 12-01 19:00起14件"},
		{"330681109201 的事项", "枫桥镇枫源村 的事项"},
		// A village whose township is not listed keeps its own name.
		{"330681104201", "湄池村"},
		{"330681109000、330681000000", "枫桥镇、诸暨市"},
		// Codes not listed, and numbers that are no code, stay.
		{"330681105 与 330681109，共123456789012件", "330681105 与 枫桥镇，共123456789012件"},
		{"每周1、3、10件", "每周1、3、10件"},
	} {
		if got := p.Rename(c.in); got != c.want {
			t.Errorf("Rename(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := (Places(nil)).Rename("330681109"); got != "330681109" {
		t.Errorf("no places: %q", got)
	}
}
