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

	"gontp/internal/cli"
	"gontp/internal/ntputil"
	"gontp/internal/perlopt"
)

// command is ntp-wait's option table: the command line, its usage text and the manual page.
var command = cli.Program{
	Name:    "ntp-wait",
	Section: 8,
	Summary: "wait for ntpd to synchronise the system clock (gontp)",
	Style:   cli.Libopts,
	Options: []cli.Option{
		{Short: 'n', Long: "tries", Arg: cli.Number, ArgName: "num", Desc: "Number of times to check ntpd",
			Detail: "The default is 100."},
		{Short: 's', Long: "sleep", Arg: cli.Number, ArgName: "num", Desc: "How long to sleep between tries",
			Detail: "In seconds; the default is 6."},
		{Short: 'v', Long: "verbose", Desc: "Be verbose",
			Detail: "Prints \"Waiting for ntpd to synchronize...\", a spinner while it waits, then OK! or No!."},
		{Short: '?', Long: "help", Desc: "Display usage information and exit"},
		{Long: "more-help", Desc: "Pass the extended usage text through a pager"},
	},
	Description: `ntp-wait asks the local ntpd, over the mode-6 control protocol as ntpq -c rv does, whether the system clock is synchronised, every --sleep seconds up to --tries times. It exits 0 as soon as the leap indicator is leap_none, leap_add_sec or leap_del_sec, and 1 when ntpd did not synchronise in time or did not answer (then it prints "Leap status not available"). Boot scripts and time-sync.target units run it to wait for the time.

Options, output (the spinner's backspaces included) and exit status are classic ntp-wait 4.2.8p15's; like classic's Perl script it reads its options with Getopt::Long's defaults: long names with one or two dashes, unambiguous prefixes, no bundling.`,
	Sections: []cli.Section{
		{Title: "Exit status", Items: []cli.Entry{
			{Tag: "0", Text: "ntpd is synchronised."},
			{Tag: "1", Text: "ntpd did not synchronise within the tries, did not answer, or the command line was wrong."},
		}},
		{Title: "See also", Text: "ntpd(8), ntpq(1)"},
	},
}

// tool reads the command line as classic's Perl script does.
var tool = perlopt.Tool{Program: &command, Title: "Wait for ntpd to stabilize the system clock", Version: "4.2.8p15"}

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
