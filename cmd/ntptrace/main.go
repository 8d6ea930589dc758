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

	"gontp/internal/ntputil"
	"gontp/internal/perlopt"
)

// tool is ntptrace's option table: the command line, --help and the manual page.
var tool = perlopt.Tool{
	Name: "ntptrace", Title: "Trace peers of an NTP server", Args: "[host]", Version: "4.2.8p15",
	Options: []perlopt.Option{
		{Long: "numeric", Short: 'n', Help: "Print IP addresses instead of hostnames"},
		{Long: "max-hosts", Short: 'm', Kind: perlopt.Int, Arg: "num", Help: "Maximum number of peers to trace"},
		{Long: "host", Short: 'r', Kind: perlopt.String, Arg: "str", Help: "Single remote host"},
	},
}

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
