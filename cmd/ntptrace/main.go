// SPDX-License-Identifier: BSD-2-Clause

// Command ntptrace is gontp's drop-in for classic ntptrace 4.2.8p15: starting at a server
// (localhost by default) it reads the system variables over mode 6, prints the server's
// stratum, offset and synchronisation distance, and follows its system peer to the next server,
// until a stratum-1 (or 0, or 16) server, a reference clock or -m hosts. Output, options and
// exit status are classic's (its Perl script with NTP::Util).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gontp/internal/cli"
	"gontp/internal/ntputil"
	"gontp/internal/perlopt"
)

// command is ntptrace's option table: the command line, its usage text and the manual page.
var command = cli.Program{
	Name:     "ntptrace",
	Section:  1,
	Summary:  "trace a chain of NTP servers back to the primary source (gontp)",
	Operands: "[host]",
	Style:    cli.Libopts,
	Options: []cli.Option{
		{Short: 'n', Long: "numeric", Desc: "Print IP addresses instead of hostnames"},
		{Short: 'm', Long: "max-hosts", Arg: cli.Number, ArgName: "num", Desc: "Maximum number of peers to trace",
			Detail: "The default is 99."},
		{Short: 'r', Long: "host", Arg: cli.String, ArgName: "str", Desc: "Single remote host",
			Detail: "Where the trace starts when no host operand is given; the default is 127.0.0.1."},
		{Short: '?', Long: "help", Desc: "Display usage information and exit"},
		{Long: "more-help", Desc: "Pass the extended usage text through a pager"},
	},
	Description: `ntptrace starts at a server (the host operand, --host, or 127.0.0.1), reads its system variables over the mode-6 control protocol as ntpq -c rv does, and prints one line: "HOST: stratum N, offset SECONDS, synch distance SECONDS", with ", refid 'ID'" for a stratum-1 server. It then follows the server's system peer to the next server, until a server at stratum 0, 1 or 16, a reference clock, or --max-hosts servers.

Options, output and exit status are classic ntptrace 4.2.8p15's (its Perl script reads options with Getopt::Long's defaults). Without --numeric each address is shown by its name, looked up in the DNS.`,
	Sections: []cli.Section{
		{Title: "See also", Text: "ntpq(1), ntpd(8)"},
	},
}

// tool reads the command line as classic's Perl script does.
var tool = perlopt.Tool{Program: &command, Title: "Trace peers of an NTP server", Version: "4.2.8p15"}

func main() {
	os.Exit(run(os.Args[1:], ntputil.Ntpq, reverseName, os.Stdout, os.Stderr))
}

// refclock is a reference clock's pseudo address, where the trace ends.
var refclock = regexp.MustCompile(`^127\.127\.\d{1,3}\.\d{1,3}$`)

// run is the program; it returns the exit status.
func run(args []string, q ntputil.Querier, name func(string) (string, bool), stdout, stderr io.Writer) int {
	v, outcome := tool.Parse(args, perlopt.Values{
		Ints: map[string]int{"max-hosts": 99}, Strings: map[string]string{"host": "127.0.0.1"},
	}, stdout, stderr)
	switch outcome {
	case perlopt.Help, perlopt.MoreHelp:
		return 0
	case perlopt.Bad:
		return 1
	}
	host := v.Strings["host"]
	if len(v.Rest) > 0 && v.Rest[0] != "" {
		host = v.Rest[0]
	}
	for n := 1; ; n++ {
		info := ntputil.ReadVars(q, 0, nil, host, stderr)
		stratumText, ok := info.Values["stratum"]
		if !ok {
			break
		}
		stratum := int(ntputil.Number(stratumText))
		offset := ntputil.Number(info.Values["offset"]) / 1000
		dist := (ntputil.Number(info.Values["rootdisp"]) + ntputil.Number(info.Values["rootdelay"])/2) / 1000
		shown := host
		if !v.Flags["numeric"] {
			if n, ok := name(host); ok {
				shown = n
			}
		}
		fmt.Fprintf(stdout, "%s: stratum %d, offset %f, synch distance %f", shown, stratum, offset, dist)
		refid := info.Values["refid"]
		if stratum == 1 {
			fmt.Fprintf(stdout, ", refid '%s'", refid)
		}
		fmt.Fprint(stdout, "\n")
		if stratum == 0 || stratum == 1 || stratum == 16 || refclock.MatchString(refid) || n == v.Ints["max-hosts"] {
			break
		}
		peer, err := strconv.ParseUint(strings.TrimSpace(info.Values["peer"]), 10, 16)
		if err != nil {
			peer = 0
		}
		next := ntputil.ReadVars(q, uint16(peer), []string{"srcadr"}, host, stderr).Values["srcadr"]
		if next == "" || refclock.MatchString(next) {
			break
		}
		host = next
	}
	return 0
}

// reverseName is NTP::Util's do_dns: the address of host, then the name of that address
// (getnameinfo, which gives the address itself when it has no name).
func reverseName(host string) (string, bool) {
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), host)
	if err != nil || len(addrs) == 0 {
		return "", false
	}
	names, err := net.DefaultResolver.LookupAddr(context.Background(), addrs[0])
	if err != nil || len(names) == 0 {
		return addrs[0], true
	}
	return strings.TrimSuffix(names[0], "."), true
}
