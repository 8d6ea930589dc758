// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receive steering of a socket's SO_REUSEPORT group: how the batched loops share the work.
//
// Spreading the datagrams over every member (the kernel's default, a hash of the
// addresses and ports) lets every CPU serve, but it costs CPU time per reply while one
// loop could keep up: each loop then sleeps and wakes up for fewer datagrams at a time, and
// the loops and the other processes of the machine compete for the CPUs. Measured on a
// 2-core machine with the load generator on the same machine, two loops cost 1.3 to 2 times
// the CPU time per reply of one. So the group starts "concentrated": a one-instruction
// classic BPF program (SO_ATTACH_REUSEPORT_CBPF) sends every datagram to the first member.
// The first member's loop watches the process's CPU time and, after a second in which the
// process used more than spreadBusy of a CPU, detaches the program, so that the kernel
// spreads the datagrams over all members; after a second in which it used less than
// concentrateBusy of a CPU, it attaches the program again. The gap between the two
// thresholds keeps it from flapping. CPU time, not wall time between waits, is the
// measure: on a busy machine a loop that waits for a CPU would look busy without being the
// bottleneck. A kernel without reuseport BPF (before 4.5) spreads always.
const (
	steerWindow     = time.Second
	spreadBusy      = 0.85
	concentrateBusy = 0.5
	// steerEvery is how many batches the first loop serves between clock readings when
	// it never waits (a saturated loop must still decide).
	steerEvery = 256
)

// steering is the first loop's state.
type steering struct {
	fd      int // the first member's descriptor (the first loop's duplicate)
	spread  bool
	last    time.Time // the last decision
	lastCPU int64     // the process's CPU time then
}

func newSteering(fd int) *steering {
	return &steering{fd: fd, last: time.Now(), lastCPU: processCPU()}
}

// toFirst is the classic BPF program that picks member 0 of the group for every datagram.
var toFirst = [1]unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// concentrate attaches toFirst to the group.
func concentrate(fd int) error {
	prog := unix.SockFprog{Len: 1, Filter: (*unix.SockFilter)(unsafe.Pointer(&toFirst[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog)
}

// spreadAll detaches the program: the kernel hashes the datagrams over the members.
func spreadAll(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_REUSEPORT_BPF, 0)
}

// processCPU is the CPU time of the whole process (every thread).
func processCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// account decides, once per window, whether to spread or concentrate.
func (st *steering) account(now time.Time) {
	w := now.Sub(st.last)
	if w < steerWindow {
		return
	}
	cpu := processCPU()
	used := cpu - st.lastCPU
	st.last, st.lastCPU = now, cpu
	switch want := decide(st.spread, used, w); {
	case want && !st.spread:
		if spreadAll(st.fd) == nil {
			st.spread = true
		}
	case !want && st.spread:
		if concentrate(st.fd) == nil {
			st.spread = false
		}
	}
}

// decide says whether the group should be spread over all loops after a window of w in
// which the process used CPU time used.
func decide(spread bool, used int64, w time.Duration) bool {
	if !spread {
		return float64(used) > spreadBusy*float64(w)
	}
	return float64(used) >= concentrateBusy*float64(w)
}
