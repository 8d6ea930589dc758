// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"gontp/internal/testnet"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binary returns the path of the named gontp program (ntpd, ntpq, ntpdate), built once per
// test run from this checkout.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "gontp-interop-bin-")
		if buildErr != nil {
			return
		}
		// Static, as the Makefile builds them: privilege drop needs a binary without cgo.
		cmd := exec.Command("go", "build", "-o", buildDir+string(os.PathSeparator), "gontp/cmd/...")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the gontp programs: %v", buildErr)
	}
	p := filepath.Join(buildDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gontp program %s was not built: %v", name, err)
	}
	return p
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// startGontp runs gontp's ntpd in the foreground on h with conf, without CAP_SYS_TIME (it can
// never set the host clock), logging to a file the Proc log shows.
func startGontp(t *testing.T, h *testnet.Host, conf string) *testnet.Proc {
	t.Helper()
	ntpd := binary(t, "ntpd")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return h.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", confPath, "-p", filepath.Join(dir, "ntpd.pid"))
}
