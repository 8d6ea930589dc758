// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Priority is ntpd's -N and -P: run the daemon at a real-time scheduling priority.
type Priority struct {
	Raise bool // -N or -P given
	// Value is -P's priority; Override says it was given (without it -N takes the
	// highest SCHED_FIFO priority, as classic's does).
	Value    int
	Override bool
}

// SCHED_FIFO's priority range on Linux (sched_get_priority_min/max).
const fifoMin, fifoMax = 1, 99

// ntpdPrio is classic's NTPD_PRIO on Linux: the nice value of its setpriority fallback.
const ntpdPrio = -12

// setPriority is classic ntpd 4.2.8p15's set_process_priority (ntpd.c): SCHED_FIFO at the
// highest priority, or -P's clamped to SCHED_FIFO's range; if that fails, nice -12; if that
// fails too, classic's "No way found" message. The same three messages as classic's.
//
// Linux schedules threads, not processes, and the Go runtime has several threads already, so
// the policy is set on every thread of the process (threads made later inherit it from the
// thread that makes them), where classic's single-threaded ntpd sets it once.
func setPriority(p Priority, log *slog.Logger) {
	if !p.Raise {
		return
	}
	prio := fifoMax
	if p.Override {
		prio = min(max(p.Value, fifoMin), fifoMax)
	}
	err := eachThread(func(tid int) error {
		return unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: uint32(prio)}, 0)
	})
	if err == nil {
		log.Info(fmt.Sprintf("priority: SCHED_FIFO %d", prio))
		return
	}
	log.Error("sched_setscheduler(): " + cError(err))
	if err := eachThread(func(tid int) error { return unix.Setpriority(unix.PRIO_PROCESS, tid, ntpdPrio) }); err != nil {
		log.Error("setpriority() error: " + cError(err))
		log.Error("set_process_priority: No way found to improve our priority")
		return
	}
	log.Info(fmt.Sprintf("priority: nice %d", ntpdPrio))
}

// eachThread calls f once with the id of every thread of the process; the first error stops
// it. It reads the thread list again until a pass finds no thread it has not seen: a thread
// the runtime makes while a pass runs is cloned from one f may not have reached yet, and
// inherits the old setting (CI saw one SCHED_OTHER thread of fifteen after a single pass).
// Once a pass finds nothing new, every thread then alive has had f, and any made later is
// cloned from one that has.
func eachThread(f func(tid int) error) error {
	done := map[int]bool{}
	for range 100 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return f(0)
		}
		fresh := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid], fresh = true, true
			if err := f(tid); err != nil && !errors.Is(err, syscall.ESRCH) {
				return err
			}
		}
		if !fresh {
			return nil
		}
	}
	return nil
}

// cError is an error's C library text, as classic's %m prints it: "Operation not permitted".
func cError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s := errno.Error(); s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
