package surge

import "testing"

func TestLevel(t *testing.T) {
	const sure = 1e-9
	tests := []struct {
		name               string
		observed, expected float64
		p                  float64
		population         int
		want               string
	}{
		{"village 3→15", 15, 3, sure, 1_200, Red},
		{"township 3→15", 15, 3, sure, 40_000, Orange},
		{"county 3→15", 15, 3, sure, 600_000, Yellow},
		{"city 3→15", 15, 3, sure, 8_000_000, Blue},
		{"unknown size graded as a village", 15, 3, sure, 0, Red},
		{"village 0→4", 4, 0, sure, 1_200, Yellow},
		{"village 2→5", 5, 2, sure, 1_200, Yellow},
		{"village 4→7", 7, 4, sure, 1_200, Blue},
		{"county 100→300", 300, 100, sure, 600_000, Orange},
		{"county 100→450", 450, 100, sure, 600_000, Red},
		{"city 100→130: big, but a small ratio", 130, 100, sure, 8_000_000, ""},
		{"not surprising", 15, 3, 0.2, 1_200, ""},
		{"fewer than expected", 1, 3, sure, 1_200, ""},
	}
	for _, tt := range tests {
		if got := Level(tt.observed, tt.expected, tt.p, tt.population); got != tt.want {
			t.Errorf("%s: Level(%v, %v, %v, %d) = %q, want %q", tt.name, tt.observed, tt.expected, tt.p, tt.population, got, tt.want)
		}
	}
}
