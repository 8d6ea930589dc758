// SPDX-License-Identifier: BSD-2-Clause

// Command ntpbench is a load generator for NTP servers. It sends valid NTPv4 client requests
// from many UDP sockets to one server for a bounded time, either closed loop (a fixed number
// of requests in flight: each reply or timeout lets the next one go) or open loop (a fixed
// offered rate, whatever the server does), checks every reply (length, mode, version, origin
// timestamp equal to the request's transmit timestamp, receive and transmit timestamps within
// -sane of the local clock) and reports requests/s, replies/s, loss and latency percentiles,
// as text or JSON. Given the server's process ids (-pid) it also reports the CPU time the
// server spent per reply (user + system, from /proc/PID/stat) and its resident memory.
//
// Usage:
//
//	ntpbench [-server 127.0.0.1:123] [-duration 5s] [-inflight 64 | -rate 100000]
//	         [-sockets 16] [-timeout 1s] [-pid PID[,PID...]] [-json] [-label NAME]
//	ntpbench -floor [-server 127.0.0.1:123]
//
// With -floor it is instead the yardstick the server benchmark measures against: a minimal
// NTP responder (one thread blocked in recvmmsg, the kernel receive timestamp, the reply built
// in place, one sendmmsg per batch, no checks at all), whose CPU time per reply is what the
// kernel itself costs on the machine: no server can spend less.
package main

import (
	"fmt"
	"gontp/internal/cli"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ntpbench:", err)
		os.Exit(2)
	}
}

// command is ntpbench's command line; it parses argv, prints --help and writes the manual
// page (make man).
var command = cli.Program{
	Name:    "ntpbench",
	Section: 1,
	Summary: "load generator and benchmark for NTP servers",
	Title:   "ntpbench - gontp's NTP server benchmark",
	Style:   cli.GoFlag,
	Options: []cli.Option{
		{Long: "server", Arg: cli.String, ArgName: "address:port", Default: "127.0.0.1:123", Desc: "The server to load"},
		{Long: "duration", Arg: cli.Duration, Default: "5s", Desc: "How long to send"},
		{Long: "inflight", Arg: cli.Number, ArgName: "n", Default: "64", Desc: "Closed loop: requests in flight (ignored with -rate)"},
		{Long: "rate", Arg: cli.Float, ArgName: "per-second", Default: "0", Desc: "Open loop: requests per second offered (0: closed loop)"},
		{Long: "sockets", Arg: cli.Number, ArgName: "n", Default: "16", Desc: "Client UDP sockets (source ports)"},
		{Long: "timeout", Arg: cli.Duration, Default: "1s", Desc: "A reply later than this counts as lost"},
		{Long: "sane", Arg: cli.Duration, Default: "10s", Desc: "Largest accepted difference between the reply's timestamps and the local clock"},
		{Long: "pid", Arg: cli.String, ArgName: "pid[,pid...]", Desc: "Process ids of the server, for its CPU time and memory"},
		{Long: "procs", Arg: cli.Number, ArgName: "n", Default: "1", Desc: "GOMAXPROCS for the generator (leave the other cores to the server)"},
		{Long: "label", Arg: cli.String, ArgName: "name", Desc: "Name of the server in the report"},
		{Long: "json", Desc: "Print the report as JSON"},
		{Long: "floor", Desc: "Serve on -server as the kernel floor instead of measuring",
			Detail: "A minimal NTP responder (one thread blocked in recvmmsg, kernel receive timestamps, the reply built in place, one sendmmsg per batch, no checks) whose CPU time per reply is what the kernel itself costs on the machine: no server can spend less. It runs until killed."},
		{Long: "help", Desc: "Print this list and exit"},
	},
	Description: `ntpbench sends valid NTPv4 client requests from many UDP sockets to one server for a bounded time, either closed loop (a fixed number of requests in flight: each reply or timeout lets the next one go) or open loop (a fixed offered rate, whatever the server does). It checks every reply (length, mode, version, origin timestamp equal to the request's transmit timestamp, receive and transmit timestamps within -sane of the local clock) and reports requests/s, replies/s, loss and latency percentiles, as text or JSON. Given the server's process ids (-pid) it also reports the CPU time the server spent per reply (user and system, from /proc/PID/stat) and its resident memory.

The README's benchmark tables are made with it; the commands are next to each table.`,
	Sections: []cli.Section{
		{Title: "See also", Text: "ntpd(8)"},
	},
}

func run(args []string, stdout io.Writer) error {
	p, err := command.Parse(args)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, command.Usage(command.Name))
	}
	if p.Has("help") {
		return command.Help(stdout)
	}
	if len(p.Operands) > 0 {
		return fmt.Errorf("unexpected argument %q", p.Operands[0])
	}
	o := Options{
		Server:   p.Last("server"),
		Duration: p.Duration("duration"),
		InFlight: p.Int("inflight"),
		Rate:     p.Float("rate"),
		Sockets:  p.Int("sockets"),
		Timeout:  p.Duration("timeout"),
		Sane:     p.Duration("sane"),
		Procs:    p.Int("procs"),
		Label:    p.Last("label"),
	}
	pids := p.Last("pid")
	if p.Has("floor") {
		return serveFloor(o.Server)
	}
	for _, p := range strings.Split(pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("-pid %q: not a process id", p)
		}
		o.PIDs = append(o.PIDs, n)
	}
	if o.Procs > 0 {
		runtime.GOMAXPROCS(o.Procs)
	}
	rep, err := Run(o)
	if err != nil {
		return err
	}
	if p.Has("json") {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}
