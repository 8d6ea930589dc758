// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestJSONValues: mode-6 values become JSON numbers in base units.
func TestJSONValues(t *testing.T) {
	pivot := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, value string
		want        any
	}{
		{"offset", "-10.007", -0.010007},
		{"rootdisp", "1.250", 0.00125},
		{"frequency", "+12.500", 12.5e-6},
		{"stratum", "8", int64(8)},
		{"version", `"ntpd gontp"`, "ntpd gontp"},
		{"reftime", "0x00000000.00000000", nil},
		{"reftime", "0xeebf9a80.80000000", 1796545536.5},
		{"filtdelay", "0.08 0.10", []float64{0.00008, 0.0001}},
		{"flash", "0x400", uint64(0x400)},
		{"refid", "198.18.0.2", "198.18.0.2"},
		{"refid", "GPS", "GPS"},
	} {
		got := jsonValue(c.name, c.value, pivot)
		if f, ok := got.(float64); ok {
			if w, ok := c.want.(float64); ok && (f-w > 1e-9 || w-f > 1e-9) {
				t.Errorf("%s=%s: %v, want %v", c.name, c.value, got, c.want)
			}
			continue
		}
		if d := cmp.Diff(c.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); d != "" {
			t.Errorf("%s=%s: %s", c.name, c.value, d)
		}
	}
}
