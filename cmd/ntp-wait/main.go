// SPDX-License-Identifier: BSD-2-Clause

// Command ntp-wait is gontp's drop-in for classic ntp-wait 4.2.8p15: it asks the local ntpd,
// over mode 6 as `ntpq -c rv` does, whether the clock is synchronised, every -s seconds up to -n
// times, and exits 0 once the leap indicator says so (leap_none, leap_add_sec, leap_del_sec), 1
// otherwise. Boot scripts and systemd units (time-sync.target) run it to wait for the time.
// Output, options and exit status are classic's (its Perl script with NTP::Util).
package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"gontp/internal/ntputil"
	"gontp/internal/perlopt"
)

// tool is ntp-wait's option table: the command line, --help and the manual page.
var tool = perlopt.Tool{
	Name: "ntp-wait", Title: "Wait for ntpd to stabilize the system clock", Version: "4.2.8p15",
	Options: []perlopt.Option{
		{Long: "tries", Short: 'n', Kind: perlopt.Int, Arg: "num", Help: "Number of times to check ntpd"},
		{Long: "sleep", Short: 's', Kind: perlopt.Int, Arg: "num", Help: "How long to sleep between tries"},
		{Long: "verbose", Short: 'v', Help: "Be verbose"},
	},
}

func main() {
	os.Exit(run(os.Args[1:], ntputil.Ntpq, time.Sleep, os.Stdout, os.Stderr))
}

var (
	alarm  = regexp.MustCompile(`(sync|leap)_alarm`)
	synced = regexp.MustCompile(`leap_(none|((add|del)_sec))`)
)

// run is the program; it returns the exit status.
func run(args []string, q ntputil.Querier, sleep func(time.Duration), stdout, stderr io.Writer) int {
	v, outcome := tool.Parse(args, perlopt.Values{Ints: map[string]int{"tries": 100, "sleep": 6}}, stdout, stderr)
	switch outcome {
	case perlopt.Help, perlopt.MoreHelp:
		return 0
	case perlopt.Bad:
		return 1
	}
	tries, pause, verbose := v.Ints["tries"], v.Ints["sleep"], v.Flags["verbose"]
	if verbose {
		fmt.Fprint(stdout, "Waiting for ntpd to synchronize...  ")
	}
	for i := 1; i <= tries; i++ {
		info := ntputil.ReadVars(q, 0, nil, "", stderr)
		if info.Leap == "" {
			fmt.Fprint(stdout, "\bLeap status not available\n")
			return 1
		}
		if alarm.MatchString(info.Leap) {
			if verbose {
				fmt.Fprintf(stdout, "\b%c", "*+:."[i%4])
			}
			if i < tries {
				sleep(time.Duration(pause) * time.Second)
			}
			continue
		}
		if synced.MatchString(info.Leap) {
			if verbose {
				fmt.Fprint(stdout, "\bOK!\n")
			}
			return 0
		}
		fmt.Fprintf(stdout, "\bUnexpected 'leap' status <%s>\n", info.Leap)
		return 1
	}
	if verbose {
		fmt.Fprint(stdout, "\bNo!\nntpd did not synchronize.\n")
	}
	return 1
}
