// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bytes"
	"strings"
	"testing"
)

// TestMetricsDirective: gontp's `metrics ADDRESS:PORT` lines are read with positions, bad
// ones are reported with file:line:col, and saveconfig writes them back.
func TestMetricsDirective(t *testing.T) {
	cfg, err := ParseBytes("ntp.conf", []byte("metrics 127.0.0.1:9975\nmetrics [::1]:9975\nmetrics localhost:9975\nmetrics 127.0.0.1\nmetrics 127.0.0.1:9975\n"))
	if err == nil || !strings.Contains(err.Error(), "ntp.conf:3:9: metrics needs ADDRESS:PORT") || !strings.Contains(err.Error(), "ntp.conf:4:9:") {
		t.Errorf("errors: %v", err)
	}
	if len(cfg.Metrics) != 2 || cfg.Metrics[0].Addr.String() != "127.0.0.1:9975" || cfg.Metrics[1].Addr.String() != "[::1]:9975" || cfg.Metrics[1].Pos.Line != 2 {
		t.Fatalf("metrics %+v", cfg.Metrics)
	}
	if w := cfg.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), "ntp.conf:5:9: warning: metrics 127.0.0.1:9975: already given at ntp.conf:1:1") {
		t.Errorf("warnings %v", w)
	}
	var b bytes.Buffer
	if err := cfg.WriteSaveconfig(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "metrics 127.0.0.1:9975\nmetrics [::1]:9975\n") {
		t.Errorf("saveconfig:\n%s", b.String())
	}
}
