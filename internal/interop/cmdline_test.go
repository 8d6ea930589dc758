// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// TestNtpdServerOperandsWithQuit: `ntpd -q SERVER` with a configuration file that names no
// server (classic's `ntpd -gq pool.ntp.org`): the operand is used as a "server SERVER
// iburst" line, and the daemon sets its (virtual, 0.2 s ahead) clock once from it and exits
// 0 with classic's "ntpd: time set" line.
func TestNtpdServerOperandsWithQuit(t *testing.T) {
	t.Parallel() // a minute or more of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	ch, gh := tn.Host("chrony"), tn.Host("gontp")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	conf := testnet.WriteFile(t, "ntp.conf", "driftfile "+filepath.Join(t.TempDir(), "drift")+"\n")
	logFile := filepath.Join(t.TempDir(), "ntpd.log")
	out, err := gh.Run(t, 60*time.Second, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-gq", "-c", conf, "-l", logFile, "--virtual-clock", "0.2,0", ch.Addr().String())
	logText, _ := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("ntpd -gq %s: %v\n%s\nlog:\n%s", ch.Addr(), err, out, logText)
	}
	m := regexp.MustCompile(`(?m)^ntpd: time set (-0\.[0-9]{6})s$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ntpd -gq printed %q, want \"ntpd: time set -0.2...s\"\nlog:\n%s", out, logText)
	}
	if v, _ := strconv.ParseFloat(string(m[1]), 64); math.Abs(v+0.2) > 0.005 {
		t.Errorf("set by %s s, want about -0.2", m[1])
	}
}

// threadPolicies returns the scheduling policy and real-time priority of every thread of pid,
// as "policy/priority" strings (/proc/PID/task/TID/stat fields 41 and 40).
func threadPolicies(t *testing.T, pid int) map[string]int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		out[f[41-3]+"/"+f[40-3]]++
	}
	return out
}

// TestNtpdPriorityAgainstClassic: -P 7 runs every thread of gontp's ntpd SCHED_FIFO (policy
// 1) at priority 7, as classic ntpd 4.2.8p15's one thread; -N without CAP_SYS_NICE gets
// classic's three messages (sched_setscheduler, setpriority, "No way found") and the daemon
// goes on. Both daemons run without CAP_SYS_TIME.
func TestNtpdPriorityAgainstClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpd")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	h := tn.Host("daemon")
	dir := t.TempDir()
	conf := testnet.WriteFile(t, "ntp.conf", "disable ntp\n")

	start := func(classic bool, drop string, prio ...string) (*testnet.Proc, string) {
		t.Helper()
		logFile := filepath.Join(dir, fmt.Sprintf("%v%s.log", classic, strings.Join(prio, "")))
		args := []string{"-n", "-c", conf, "-l", logFile, "-p", filepath.Join(dir, "pid")}
		args = append(args, prio...)
		var argv []string
		if classic {
			argv = append([]string{"setpriv", "--bounding-set=-sys_time" + drop, "--inh-caps=-sys_time" + drop,
				filepath.Join(ref, "classic-ntpd")}, args...)
		} else {
			argv = append([]string{"setpriv", "--bounding-set=-sys_time" + drop, "--inh-caps=-sys_time" + drop, ntpd}, args...)
		}
		p := h.Start(t, argv...)
		if !h.WaitUDP(123, 15*time.Second) {
			t.Fatalf("%v: no UDP 123:\n%s", argv, p.Log())
		}
		return p, logFile
	}
	want := map[string]int{}
	for _, classic := range []bool{true, false} {
		p, _ := start(classic, "", "-P", "7")
		pid := p.Pid()
		if classic {
			// The wrapper runs env, which runs ntpd: the daemon is the newest ntpd process.
			pid = newestNtpd(t, "/opt/ntp-reference/classic/usr/sbin/ntpd", p.Pid())
		}
		got := threadPolicies(t, pid)
		if classic {
			want = got
		} else if len(got) != 1 || got["1/7"] == 0 {
			t.Errorf("gontp -P 7: threads by policy/priority %v, want all 1/7 (classic: %v)", got, want)
		}
		if err := p.Stop(); err != nil {
			t.Logf("stop: %v", err)
		}
	}
	if len(want) != 1 || want["1/7"] == 0 {
		t.Errorf("classic -P 7: %v, want 1/7", want)
	}

	lines := regexp.MustCompile(`(?m)(sched_setscheduler\(\): .*|setpriority\(\) error: .*|set_process_priority: No way found to improve our priority)$`)
	var got [2]string
	for i, classic := range []bool{true, false} {
		p, logFile := start(classic, ",-sys_nice", "-N")
		time.Sleep(time.Second)
		b, _ := os.ReadFile(logFile)
		got[i] = strings.Join(lines.FindAllString(string(b), -1), "\n")
		if err := p.Stop(); err != nil {
			t.Logf("stop: %v", err)
		}
	}
	if got[0] != got[1] || strings.Count(got[1], "\n") != 2 {
		t.Errorf("-N without CAP_SYS_NICE:\nclassic:\n%s\ngontp:\n%s", got[0], got[1])
	}
}

// newestNtpd returns the pid of the newest process running exe in the network namespace of
// process near (another test's daemon in another namespace is never taken).
func newestNtpd(t *testing.T, exe string, near int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		best := 0
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			if err == nil && l == exe && pid > best && netns(pid) == netns(near) && netns(near) != "" {
				best = pid
			}
		}
		if best != 0 {
			return best
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s process", exe)
	return 0
}

// netns names the network namespace of process pid ("" when it cannot be read).
func netns(pid int) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	return l
}
