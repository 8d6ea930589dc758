// SPDX-License-Identifier: BSD-2-Clause

// Command ntpsim runs a simulation scenario (testdata/sim/*.scn) against gontp's engine in
// virtual time and prints a summary: time to the first system peer and to synchronisation,
// the largest and RMS offset after it, the frequency error, steps, system peer changes,
// falsetickers, and the verdict on each of the scenario's limits.
//
//	ntpsim [-trace FILE.csv] [-plot FILE.svg] [-seed N] [-host kernel|standin] [-v] SCENARIO...
//
// The host is gontp's clock discipline over a simulated kernel clock (kernel, the default)
// or the simulator's earlier stand-in loop (standin), kept for comparison.
//
// The exit status is 0 when every limit passed (limits marked xfail may fail), 1 when one
// did not, 2 for a usage or scenario error.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gontp/internal/cli"
	"gontp/internal/engine"
	"gontp/internal/sim"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// command is ntpsim's command line; it parses argv, prints --help and writes the manual page
// (make man).
var command = cli.Program{
	Name:     "ntpsim",
	Section:  1,
	Summary:  "run gontp's engine through a simulated network in virtual time",
	Title:    "ntpsim - gontp's NTP simulator",
	Operands: "SCENARIO...",
	Style:    cli.GoFlag,
	Options: []cli.Option{
		{Long: "trace", Arg: cli.String, ArgName: "file", Desc: "Write the true offset over time as CSV to this file (one scenario)"},
		{Long: "plot", Arg: cli.String, ArgName: "file", Desc: "Write an SVG plot of the true offset to this file (one scenario)"},
		{Long: "seed", Arg: cli.Number, ArgName: "n", Desc: "Use this random seed instead of the scenario's"},
		{Long: "host", Arg: cli.Keyword, ArgName: "kernel|standin", Default: "kernel",
			Desc:   "The host's discipline: kernel (gontp's clock.Discipline) or standin",
			Detail: "kernel runs gontp's clock discipline over a simulated kernel clock; standin is the simulator's earlier stand-in loop, kept for comparison."},
		{Long: "v", Desc: "Print the engine's log lines, stamped with simulated time"},
		{Long: "help", Desc: "Print this list and exit"},
	},
	Description: `ntpsim runs each simulation scenario (testdata/sim/*.scn: servers, network delays and faults, limits) against gontp's engine in virtual time, and prints a summary: time to the first system peer and to synchronisation, the largest and RMS offset after it, the frequency error, steps, system peer changes, falsetickers, and the verdict on each of the scenario's limits. A day of simulated time takes seconds.`,
	Sections: []cli.Section{
		{Title: "Exit status", Text: "0 when every limit passed (limits marked xfail may fail), 1 when one did not, 2 for a usage or scenario error."},
		{Title: "See also", Text: "ntpd(8)"},
	},
}

func run(args []string) int {
	p, err := command.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpsim: %v\n", err)
		fmt.Fprint(os.Stderr, command.Usage(command.Name))
		return 2
	}
	if p.Has("help") {
		command.Help(os.Stdout)
		return 0
	}
	trace, plot, seed, verbose, hostName := p.Last("trace"), p.Last("plot"), p.Uint64("seed"), p.Has("v"), p.Last("host")
	if len(p.Operands) == 0 {
		fmt.Fprint(os.Stderr, command.Usage(command.Name))
		return 2
	}
	if (trace != "" || plot != "") && len(p.Operands) > 1 {
		fmt.Fprintln(os.Stderr, "ntpsim: -trace and -plot take one scenario")
		return 2
	}
	var host func(*sim.Scenario, time.Time, func() time.Duration, *rand.Rand) (sim.HostClock, engine.Loop)
	switch hostName {
	case "kernel":
		host = sim.KernelHost
	case "standin":
		host = sim.StandInHost
	default:
		fmt.Fprintf(os.Stderr, "ntpsim: -host %q: want kernel or standin\n", hostName)
		return 2
	}
	status := 0
	for _, file := range p.Operands {
		st := runOne(file, seed, trace, plot, verbose, host)
		status = max(status, st)
	}
	return status
}

func runOne(file string, seed uint64, trace, plot string, verbose bool,
	host func(*sim.Scenario, time.Time, func() time.Duration, *rand.Rand) (sim.HostClock, engine.Loop)) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ntpsim:", err)
		return 2
	}
	sc, err := sim.Parse(file, f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ntpsim:", strings.TrimSpace(err.Error()))
		return 2
	}
	if seed != 0 {
		sc.Seed = seed
	}
	o := sim.Options{Host: host}
	if verbose {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	res, err := sim.Run(sc, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ntpsim:", err)
		return 2
	}
	if err := res.WriteSummary(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ntpsim:", err)
		return 2
	}
	if trace != "" {
		if err := writeFile(trace, res.WriteTrace); err != nil {
			fmt.Fprintln(os.Stderr, "ntpsim:", err)
			return 2
		}
	}
	if plot != "" {
		if err := writeFile(plot, res.WritePlot); err != nil {
			fmt.Fprintln(os.Stderr, "ntpsim:", err)
			return 2
		}
	}
	if len(res.Failed()) > 0 {
		fmt.Printf("%s: %d limit(s) failed\n", filepath.Base(file), len(res.Failed()))
		return 1
	}
	return 0
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}
