// SPDX-License-Identifier: BSD-2-Clause

// Command update-leap is gontp's drop-in for classic update-leap 4.2.8p15 (a Perl script): it
// checks the leap-seconds file ntpd uses (-L, or the leapfile line of ntp.conf) and, when it is
// missing, invalid, expired or close to expiring, downloads a new copy (-u), checks its hash
// and expiry and installs it. Options, messages and exit status are classic's; update.go holds
// the logic.
package main

import (
	"log/syslog"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	_, ttyErr := unix.IoctlGetTermios(int(os.Stdout.Fd()), unix.TCGETS)
	env := env{
		stdout: os.Stdout, stderr: os.Stderr, stdoutTTY: ttyErr == nil,
		uid: os.Getuid(), now: time.Now, sleep: time.Sleep,
		get: func(url string, client *http.Client) (*http.Response, error) { return client.Get(url) },
		syslog: func(facility string) (logWriter, error) {
			p, ok := facilities[facility]
			if !ok {
				p = syslog.LOG_USER
			}
			return syslog.New(p|syslog.LOG_INFO, "update-leap")
		},
	}
	os.Exit(run(os.Args[1:], env))
}
