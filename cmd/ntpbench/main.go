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
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ntpbench:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ntpbench", flag.ContinueOnError)
	var o Options
	var pids string
	fs.StringVar(&o.Server, "server", "127.0.0.1:123", "server address:port")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long to send")
	fs.IntVar(&o.InFlight, "inflight", 64, "closed loop: requests in flight (ignored with -rate)")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: requests per second offered (0: closed loop)")
	fs.IntVar(&o.Sockets, "sockets", 16, "client UDP sockets (source ports)")
	fs.DurationVar(&o.Timeout, "timeout", time.Second, "a reply later than this counts as lost")
	fs.DurationVar(&o.Sane, "sane", 10*time.Second, "largest accepted difference between the reply's timestamps and the local clock")
	fs.StringVar(&pids, "pid", "", "comma-separated process ids of the server, for CPU time and memory")
	fs.IntVar(&o.Procs, "procs", 1, "GOMAXPROCS for the generator (it should leave the other cores to the server)")
	fs.StringVar(&o.Label, "label", "", "name of the server in the report")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	floor := fs.Bool("floor", false, "instead of measuring, serve on -server as the kernel floor: a minimal NTP responder (blocking recvmmsg/sendmmsg on one thread, kernel receive timestamps, no checks) to measure real servers against; runs until killed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *floor {
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
	if *jsonOut {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}
