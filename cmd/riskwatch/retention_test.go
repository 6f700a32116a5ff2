package main

import (
	"io"
	"strings"
	"testing"
)

// TestRetentionRefusesShortAges: a typo of hours for days is refused before
// anything is connected to, let alone dropped.
func TestRetentionRefusesShortAges(t *testing.T) {
	for _, args := range [][]string{
		{"-older-than", "540h"},
		{"-older-than", "540d", "-quarantine-older-than", "1d"},
	} {
		err := retentionCmd(t.Context(), append(args, "-clickhouse", "clickhouse://127.0.0.1:1/none"), func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "retention keeps at least") {
			t.Errorf("retention %v: %v, want it refused", args, err)
		}
	}
	var d days
	if err := d.Set("540d"); err != nil || d.String() != "540d" {
		t.Errorf("540d parsed as %v (%v)", d, err)
	}
}
