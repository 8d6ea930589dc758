// SPDX-License-Identifier: BSD-2-Clause

// Command ntptime is gontp's drop-in for classic ntptime 4.2.8p15 (util/ntptime.c): it reads the
// kernel's NTP state with ntp_gettime and ntp_adjtime (both adjtimex(2) on Linux) and prints it
// in classic's layout, and with -e -f -m -o -s -t -M -N -T sets it. The logic and the output are
// in ntptime.go; this file only holds the system call.
package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// kernel is adjtimex(2).
type kernel struct{}

func (kernel) Adjtimex(tx *unix.Timex) (int, error) { return unix.Adjtimex(tx) }

func main() {
	os.Exit(run(os.Args[0], os.Args[1:], kernel{}, os.Stdout, os.Stderr))
}
