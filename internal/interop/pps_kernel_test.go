// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// umlKernel is Debian's user-mode-linux kernel; its modules include the pps-ktimer source.
const umlKernel = "/usr/bin/linux.uml"

// TestRefclockPPSKernel runs gontp's PPS driver against a real kernel PPS source: a User-
// Mode Linux guest (the Linux 6.1 kernel as a host program; its root is this host's /,
// read-only, so it runs the binaries built here) loads pps_core and pps-ktimer, which
// stamps an assert edge on /dev/pps0 every second, and runs gontp's ntpd with a prefer LOCAL
// clock (which synchronises the guest, so that pulses count) and the PPS clock. The driver
// must open the device through the PPS API (PPS_GETPARAMS, PPS_GETCAP, PPS_SETPARAMS,
// PPS_FETCH), and the clock must be reached. Nothing here touches the host's clock: the
// guest disciplines its own kernel's.
//
// pps-ktimer's "second" is a kernel timer, not a second boundary, so its phase wanders and
// the offsets it gives are large; the test checks the path, not accuracy.
//
// The clock has fudge flag3, the kernel's own PPS discipline (PPS_KC_BIND). Debian's
// kernels, this guest's included, are built with NO_HZ and so without CONFIG_NTP_PPS: the
// kernel answers EOPNOTSUPP. As classic, gontp logs the refusal once, with the errno, and
// the pulses go on through its own loop; the guest's kernel status (ntptime) never gets
// STA_PPSTIME. The kernel hardpps path itself cannot run on such a kernel.
func TestRefclockPPSKernel(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	if os.Geteuid() != 0 {
		skipOrFailUML(t, "booting a User-Mode Linux guest needs root")
	}
	if _, err := os.Stat(umlKernel); err != nil {
		skipOrFailUML(t, "%s is missing (Debian package user-mode-linux)", umlKernel)
	}
	mods, _ := filepath.Glob("/usr/lib/uml/modules/*/kernel/drivers/pps/clients/pps-ktimer.ko")
	if len(mods) == 0 {
		skipOrFailUML(t, "the UML kernel has no pps-ktimer module")
	}
	ktimer := mods[0]
	core := filepath.Join(filepath.Dir(filepath.Dir(ktimer)), "pps_core.ko")
	dir, err := os.MkdirTemp("", "gontp-pps-uml-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, pkg := range []string{"./cmd/ntpd", "./cmd/ntpq", "./cmd/ntptime", "./internal/interop/testdata/finitmodule"} {
		cmd := exec.Command("go", "build", "-o", dir+"/", pkg)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	conf := "server 127.127.1.0 prefer minpoll 4 maxpoll 4\nfudge 127.127.1.0 stratum 1\n" +
		"server 127.127.22.0 minpoll 4 maxpoll 4\nfudge 127.127.22.0 flag3 1\ntos orphanwait 0\n"
	if err := os.WriteFile(filepath.Join(dir, "ntp.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	init := fmt.Sprintf(`#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
D=%s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p $D; mount -t hostfs -o $D none $D
exec >$D/guest.txt 2>&1
ip link set lo up
$D/finitmodule %s %s && echo "source: $(cat /sys/class/pps/pps0/name)"
$D/ntpd -n -c $D/ntp.conf >$D/ntpd.log 2>&1 &
for i in 1 2 3 4 5 6 7; do
  sleep 15
  echo "== pps0 assert $(cat /sys/class/pps/pps0/assert)"
  $D/ntpq -p 127.0.0.1
done
echo "== cv"
$D/ntpq -c "cv &2" 127.0.0.1
echo "== kerninfo"
$D/ntpq -c kerninfo 127.0.0.1
echo "== ntptime"
$D/ntptime
echo o > /proc/sysrq-trigger
sleep 30
`, dir, core, ktimer)
	if err := os.WriteFile(filepath.Join(dir, "init.sh"), []byte(init), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, umlKernel, "umid=gontppps"+strconv.Itoa(os.Getpid()), "uml_dir="+dir,
		"mem=256M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
		"con=null", "con0=null,fd:1", "ssl=null", "init="+filepath.Join(dir, "init.sh"))
	console, _ := os.Create(filepath.Join(dir, "console.txt"))
	defer console.Close()
	cmd.Stdout, cmd.Stderr = console, console
	// The guest's processes are the kernel's children: stop the whole group, by its id.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		c, _ := os.ReadFile(filepath.Join(dir, "console.txt"))
		t.Fatalf("UML guest: %v\n%s", err, tail(string(c), 3000))
	}
	out, _ := os.ReadFile(filepath.Join(dir, "guest.txt"))
	log, _ := os.ReadFile(filepath.Join(dir, "ntpd.log"))
	t.Logf("guest:\n%s", out)
	if !strings.Contains(string(out), "source: ktimer") {
		t.Fatalf("the guest has no pps-ktimer source:\n%s", out)
	}
	if !strings.Contains(string(log), "PPS device /dev/pps0 capturing the assert edge") {
		t.Fatalf("the PPS driver did not set up /dev/pps0:\n%s", log)
	}
	reached := false
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 10 && strings.HasSuffix(f[0], "PPS(0)") && f[6] != "0" {
			reached = true
		}
	}
	cv := cvValues(string(out[strings.Index(string(out), "== cv"):]))
	polls, _ := strconv.Atoi(cv["poll"])
	if !reached || polls == 0 || cv["device"] != `"PPS Clock Discipline"` {
		t.Fatalf("PPS(0) never reached (reach %v, cv %v):\n%s\n%s", reached, cv, out, log)
	}
	// fudge flag3: the kernel's refusal, logged once with its errno; the kernel status word
	// never carries the PPS discipline's bits.
	const refusal = "PPS_KC_BIND: operation not supported (EOPNOTSUPP, errno 95)"
	if strings.Count(string(log), "PPS_KC_BIND") != 1 || !strings.Contains(string(log), refusal) {
		t.Fatalf("want the kernel's refusal of flag3 logged once (%q):\n%s", refusal, log)
	}
	nt := string(out[strings.Index(string(out), "== ntptime"):])
	if !strings.Contains(nt, "status 0x") || strings.Contains(nt, "PPSTIME") || strings.Contains(nt, "PPSFREQ") {
		t.Fatalf("guest kernel status:\n%s", nt)
	}
	t.Logf("ntpd log:\n%s", log)
}

func skipOrFailUML(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true, so this is a failure; scripts/install-test-deps installs user-mode-linux)", args...)
	}
	t.Skipf(format, args...)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
