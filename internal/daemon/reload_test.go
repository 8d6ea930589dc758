// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTermDuringLoadStops: a SIGTERM (the context ends) that arrives while a large
// configuration loads is acted on as soon as it is read, before anything is bound or the
// clock touched (issue 15: 100 000 restrict lines used to take minutes with SIGTERM ignored).
func TestTermDuringLoadStops(t *testing.T) {
	var b strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&b, "restrict 10.%d.%d.%d nomodify\n", i>>16&255, i>>8&255, i&255)
	}
	conf := filepath.Join(t.TempDir(), "ntp.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal came while loading
	var logs bytes.Buffer
	err := Run(ctx, Options{ConfigFile: conf, Port: 1}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "ntpd exiting on signal") || strings.Contains(logs.String(), "Listen") {
		t.Errorf("log:\n%s", logs.String())
	}
}
