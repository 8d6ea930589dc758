// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

// Package kerneltest holds gontp's real-kernel tests (issue 13): each test boots User-Mode Linux
// guests (internal/uml), a real Linux 6.1 kernel whose timekeeping, adjtimex and NTP PLL/FLL
// code are the kernel's own, and runs gontp's ntpd on the guest's own kernel clock against a
// chronyd on the host side of a private link (internal/testnet's 198.18.0.0/24). The guest's
// true clock error is read against the host clock through the time-stamp counter. Nothing here
// can change the host's clock: the reference chronyd runs with -x through a wrapper without
// CAP_SYS_TIME, and a guest's adjtimex reaches only the guest kernel.
//
// The tests also check clock.Model, the kernel model the simulator and --virtual-clock use,
// against the real kernel (model_test.go), and BenchmarkKernelLab (bench_test.go, only with
// GONTP_KERNEL_BENCH=1) prints issue 13's comparison table for gontp, chrony 4.3 and classic
// ntpd 4.2.8p15.
//
// The package has no code of its own outside its tests.
package kerneltest
