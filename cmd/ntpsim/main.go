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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gontp/internal/engine"
	"gontp/internal/sim"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("ntpsim", flag.ContinueOnError)
	trace := fs.String("trace", "", "write the true offset over time as CSV to `FILE`")
	plot := fs.String("plot", "", "write an SVG plot of the true offset to `FILE`")
	seed := fs.Uint64("seed", 0, "use this random seed instead of the scenario's")
	verbose := fs.Bool("v", false, "print the engine's log lines (stamped with simulated time)")
	hostName := fs.String("host", "kernel", "the host's discipline: `kernel` (gontp's clock.Discipline) or standin")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ntpsim [-trace FILE] [-plot FILE] [-seed N] [-host kernel|standin] [-v] SCENARIO...\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if (*trace != "" || *plot != "") && fs.NArg() > 1 {
		fmt.Fprintln(os.Stderr, "ntpsim: -trace and -plot take one scenario")
		return 2
	}
	var host func(*sim.Scenario, time.Time, func() time.Duration, *rand.Rand) (sim.HostClock, engine.Loop)
	switch *hostName {
	case "kernel":
		host = sim.KernelHost
	case "standin":
		host = sim.StandInHost
	default:
		fmt.Fprintf(os.Stderr, "ntpsim: -host %q: want kernel or standin\n", *hostName)
		return 2
	}
	status := 0
	for _, file := range fs.Args() {
		st := runOne(file, *seed, *trace, *plot, *verbose, host)
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
