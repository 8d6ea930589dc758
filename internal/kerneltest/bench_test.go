// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/uml"
	"gontp/internal/uml/plan"
)

// BenchmarkKernelLab is issue 13's comparison on a real kernel: in each scenario three guests
// start 0.3 s ahead of the host with tick 10001 (+100 ppm), one daemon each — gontp, chrony 4.3
// and classic ntpd 4.2.8p15, all cold (no drift file) — against one reference chronyd on the
// host side, and each guest's true clock error is read against the host clock once a second.
// A fourth guest, the reference, runs no daemon and measures where a daemon that zeroes its
// offset settles on the same network (bootReference), so that the means can be read against
// the path's asymmetry. It prints one table per scenario and that figure under it.
// Scenarios: lan (clean link), jitter (200 µs ± 100 µs, normal, each way, through the relay
// in relay_test.go) and restart (the clean link, each daemon started with a drift file
// 0.05 ppm from the truth, as after a restart).
//
// It takes long (20 minutes per scenario by default), so it runs only with
// GONTP_KERNEL_BENCH=1:
//
//	GONTP_KERNEL_BENCH=1 go test -run '^$' -bench KernelLab -benchtime 1x -timeout 90m ./internal/kerneltest
//
// GONTP_KERNEL_BENCH_MINUTES (default 20) and GONTP_KERNEL_BENCH_SCENARIOS (default
// "lan,jitter") change the run; GONTP_KERNEL_BENCH_DAEMONS (default "gontp,chrony,classic")
// chooses the daemon guests, a daemon named twice running in two guests side by side (one
// run of a noisy link is a single draw: "gontp,chrony,gontp,chrony" gives two pairs);
// GONTP_KERNEL_BENCH_KEEP=DIR keeps each guest's run directory and error trace
// (DIR/SCENARIO/DAEMON/trace.csv, DAEMON-2 for the second guest of a daemon).
func BenchmarkKernelLab(b *testing.B) {
	if os.Getenv("GONTP_KERNEL_BENCH") != "1" {
		b.Skip("the real-kernel comparison takes 20 minutes a scenario: run it with GONTP_KERNEL_BENCH=1")
	}
	minutes := 20.0
	if v := os.Getenv("GONTP_KERNEL_BENCH_MINUTES"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil || m <= 0 {
			b.Fatalf("GONTP_KERNEL_BENCH_MINUTES=%q: want a positive number of minutes", v)
		}
		minutes = m
	}
	scen := "lan,jitter"
	if v := os.Getenv("GONTP_KERNEL_BENCH_SCENARIOS"); v != "" {
		scen = v
	}
	daemons, err := pickDaemons(os.Getenv("GONTP_KERNEL_BENCH_DAEMONS"))
	if err != nil {
		b.Fatalf("GONTP_KERNEL_BENCH_DAEMONS: %v", err)
	}
	for _, s := range strings.Split(scen, ",") {
		b.Run(s, func(b *testing.B) { benchScenario(b, s, minutes, daemons) })
	}
}

// pickDaemons is the guests' daemons for a comma-separated list of daemon names (the first
// word of a daemonSpec's name: gontp, chrony, classic); "" is each once.
func pickDaemons(list string) ([]daemonSpec, error) {
	if list == "" {
		return benchDaemons, nil
	}
	var out []daemonSpec
	for _, w := range strings.Split(list, ",") {
		i := slices.IndexFunc(benchDaemons, func(d daemonSpec) bool { return d.word() == w })
		if i < 0 {
			return nil, fmt.Errorf("%q: no such daemon (gontp, chrony, classic)", w)
		}
		out = append(out, benchDaemons[i])
	}
	return out, nil
}

// display is a guest's name in the tables: the daemon's, followed by its kept directory's
// for a daemon's second and later guests.
func display(d daemonSpec, kept string) string {
	if kept != d.word() {
		return d.name + " (" + kept + ")"
	}
	return d.name
}

// keepNames names the kept run directories of the guests running daemons: the daemon's first
// word, with -2, -3, ... for its second and later guests.
func keepNames(ds []daemonSpec) []string {
	seen := map[string]int{}
	out := make([]string, len(ds))
	for i, d := range ds {
		w := d.word()
		seen[w]++
		out[i] = w
		if seen[w] > 1 {
			out[i] = fmt.Sprintf("%s-%d", w, seen[w])
		}
	}
	return out
}

type daemonSpec struct {
	name  string
	files func(dir, server string) map[string]string
	// drift is the drift file the restart scenario starts the daemon with, in its own
	// convention, 0.05 ppm from the truth (the guest runs fast by +0.05 ppm with it):
	// classic's and gontp's hold the kernel's frequency correction (-100 ppm for tick
	// 10001); chrony sets the tick itself and counts its value as the clock's own rate
	// error (positive: fast), which is 0 here.
	drift  [2]string
	argv   func(dir string, bd uml.Builds) []string
	env    []string
	mkdirs []string
}

// word is the daemon's name in GONTP_KERNEL_BENCH_DAEMONS and in the kept directories: the
// first word of its name.
func (d daemonSpec) word() string { return strings.Fields(d.name)[0] }

var benchDaemons = []daemonSpec{
	{
		name: "gontp",
		files: func(dir, server string) map[string]string {
			return map[string]string{"ntp.conf": ntpdConf(server, append([]string{"driftfile " + dir + "/ntp.drift"}, statsLines(dir)...)...)}
		},
		argv: func(dir string, bd uml.Builds) []string {
			return []string{bd.NTPD, "-n", "-g", "-c", dir + "/ntp.conf"}
		},
		drift: [2]string{"ntp.drift", "-99.950\n"},
	},
	{
		name: "chrony 4.3",
		files: func(dir, server string) map[string]string {
			return map[string]string{"chrony.conf": fmt.Sprintf("server %s iburst\ndriftfile %s/chrony.drift\nmakestep 1 3\ncmdport 0\npidfile %s/chronyd.pid\n", server, dir, dir)}
		},
		argv: func(dir string, _ uml.Builds) []string {
			return []string{"/opt/ntp-reference/chrony/usr/sbin/chronyd", "-d", "-u", "root", "-f", dir + "/chrony.conf"}
		},
		mkdirs: []string{"/run/chrony", "/var/lib/chrony"},
		drift:  [2]string{"chrony.drift", "-0.050000 0.050000\n"},
	},
	{
		name: "classic 4.2.8p15",
		files: func(dir, server string) map[string]string {
			return map[string]string{"ntp.conf": ntpdConf(server, append([]string{"driftfile " + dir + "/ntp.drift"}, statsLines(dir)...)...)}
		},
		argv: func(dir string, _ uml.Builds) []string {
			return []string{"/opt/ntp-reference/classic/usr/sbin/ntpd", "-n", "-g", "-c", dir + "/ntp.conf"}
		},
		env:   []string{"LD_LIBRARY_PATH=/opt/ntp-reference/classic/usr/lib/x86_64-linux-gnu"},
		drift: [2]string{"ntp.drift", "-99.950\n"},
	},
}

// statsLines make an ntpd of the classic family write loopstats, peerstats and rawstats into
// dir, for the kept run directories (GONTP_KERNEL_BENCH_KEEP); with the relay's log, rawstats
// place each exchange's delays on the path.
func statsLines(dir string) []string {
	return []string{"statsdir " + dir + "/", "statistics loopstats peerstats rawstats",
		"filegen loopstats file loopstats type none enable", "filegen peerstats file peerstats type none enable",
		"filegen rawstats file rawstats type none enable"}
}

func benchScenario(b *testing.B, scen string, minutes float64, daemons []daemonSpec) {
	var chronyConf string
	var delay, jitter time.Duration
	switch scen {
	case "lan", "restart":
	case "jitter":
		delay, jitter = 200*time.Microsecond, 100*time.Microsecond
		chronyConf = "bindaddress 127.0.0.1\n"
	default:
		b.Fatalf("unknown scenario %q (lan, jitter, restart)", scen)
	}
	l := newLab(b, chronyConf)
	var rel *relay
	if scen == "jitter" {
		rel = startRelay(b, l.server, netip.AddrPortFrom(l.server.Addr(), 123), netip.MustParseAddrPort("127.0.0.1:123"), delay, jitter)
	}
	bd := uml.Build(b)
	run := minutes * 60
	guests := make([]*uml.Guest, len(daemons))
	names := keepNames(daemons)
	for i, d := range daemons {
		dir := b.TempDir()
		for name, content := range d.files(dir, l.server.Addr().String()) {
			write(b, dir, name, content)
		}
		if scen == "restart" {
			write(b, dir, d.drift[0], d.drift[1])
		}
		guests[i] = uml.Boot(b, l.net, uml.Config{Name: d.name, Dir: dir, Timeout: secs(run + 180), Plan: plan.Plan{
			Offset: startOffset, Tick: startTick, Mkdirs: d.mkdirs,
			Steps: []plan.Step{
				{Name: "daemon", Argv: d.argv(dir, bd), Env: d.env, Background: true},
				{At: run, Stop: "daemon"},
			},
		}})
	}
	ref := bootReference(b, l, run)
	var out strings.Builder
	fmt.Fprintf(&out, "\nscenario %s: +0.3 s, +100 ppm (tick 10001), %g min, samples once a second\n\n", scen, minutes)
	fmt.Fprintf(&out, "| daemon | < 1 ms from | < 100 µs from | 2nd half: mean | SD | max | rate error at 10 min | at end | steps | set aside |\n")
	fmt.Fprintf(&out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	keep := os.Getenv("GONTP_KERNEL_BENCH_KEEP")
	for i, g := range guests {
		g.Wait()
		all := points(g)
		ps, aside := narrow(all)
		fmt.Fprintf(&out, "| %s | %s | %d |\n", display(daemons[i], names[i]), summarize(ps, run), aside)
		if keep != "" {
			keepRun(b, filepath.Join(keep, scen, names[i]), g.Dir, all)
		}
	}
	ref.Wait()
	fmt.Fprintf(&out, "\nset aside: samples whose reading took over %.0f µs (narrow)\n", maxBracket*1e6)
	out.WriteString(asymmetry(b, ref) + "\n")
	if rel != nil {
		// Where the delays went, for the guests that write rawstats (the relay's log).
		rel.close()
		for i, g := range guests {
			xs, me, err := readRawstats(g.ReadFile("rawstats"))
			if err != nil || len(xs) == 0 {
				continue
			}
			var errs []float64
			for _, p := range window(points(g), run/2, run+1) {
				errs = append(errs, p.err)
			}
			fmt.Fprintf(&out, "%s, 2nd half: %v\n", display(daemons[i], names[i]), pathLegs(secondHalf(xs, run), median(errs), rel.sent, me))
		}
	}
	if keep != "" {
		keepRun(b, filepath.Join(keep, scen, "reference"), ref.Dir, points(ref))
		if rel != nil {
			keepRelay(b, filepath.Join(keep, scen, "relay.csv"), rel)
		}
	}
	fmt.Print(out.String())
}

// refEvery is the reference guest's query interval, s.
const refEvery = 30

// bootReference starts the reference guest: no daemon and no clock error (the host's tick),
// asking the server for its offset with `chronyd -Q` (measure, never set) every refEvery
// seconds. Where those answers put a clock is where a daemon that zeroes its measured offset
// settles on this network: the path's asymmetry, against which issue 13 reads the daemons'
// means ("a perfect estimator settles near −50 µs there, as chrony does"). chronyd is the
// measuring tool because it is not gontp: gontp's own measurement must not be its judge.
func bootReference(b *testing.B, l *lab, run float64) *uml.Guest {
	var steps []plan.Step
	for at := float64(refEvery); at < run; at += refEvery {
		steps = append(steps, plan.Step{At: at, Name: "query", Output: "reference.log", Timeout: 20,
			Argv: []string{"/opt/ntp-reference/chrony/usr/sbin/chronyd", "-Q", "-d", "-u", "root", "-t", "10",
				"-f", "/dev/null", "server " + l.server.Addr().String() + " iburst", "cmdport 0",
				"pidfile /run/chrony/reference.pid"}})
	}
	return uml.Boot(b, l.net, uml.Config{Name: "reference", Dir: b.TempDir(), Timeout: secs(run + 180),
		Plan: plan.Plan{Mkdirs: []string{"/run/chrony", "/var/lib/chrony"}, Steps: steps}})
}

// chronyWrong is chronyd -Q's answer: the clock's offset from the server (positive: behind).
var chronyWrong = regexp.MustCompile(`System clock wrong by ([-+]?[0-9.]+) seconds`)

// asymmetry reads the reference guest's answers: the median offset chronyd measured, plus the
// guest clock's own median error (near 0: nothing disciplines it), is where a daemon that
// zeroes its offset settles.
func asymmetry(b *testing.B, g *uml.Guest) string {
	var offs, errs []float64
	for _, m := range chronyWrong.FindAllStringSubmatch(g.ReadFile("reference.log"), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			b.Fatalf("reference guest: %q: %v", m[0], err)
		}
		offs = append(offs, v)
	}
	for _, p := range points(g) {
		errs = append(errs, p.err)
	}
	if len(offs) == 0 || len(errs) == 0 {
		log := g.ReadFile("reference.log")
		b.Fatalf("reference guest: %d answers from chronyd -Q, %d samples; the end of its log:\n%s",
			len(offs), len(errs), log[max(len(log)-2000, 0):])
	}
	return fmt.Sprintf("reference guest (no daemon, its own error %+.1f µs): a daemon that zeroes chronyd's measured "+
		"offset settles at %+.1f µs here (the path's asymmetry; median of %d `chronyd -Q` queries)",
		median(errs)*1e6, (median(offs)+median(errs))*1e6, len(offs))
}

// narrow sets aside the samples whose reading of the guest's clock took longer than
// maxBracket (as TestModelMatchesKernel does): the guest was descheduled in the middle of it,
// and its error is off by up to the bracket. One such sample (a bracket of 153 µs, its
// neighbours' 10 µs) once put a clock that had held −60 to −80 µs for minutes at −153 µs, and
// its "< 100 µs from" at 436 s instead of 7 s. It returns the rest and how many it set aside.
func narrow(ps []point) ([]point, int) {
	ghz := uml.Host().GHz()
	out := ps[:0:0]
	for _, p := range ps {
		if float64(p.s.Width)/ghz <= maxBracket*1e9 {
			out = append(out, p)
		}
	}
	return out, len(ps) - len(out)
}

// keepRun copies a guest's run directory (configuration, the daemon's log and statistics,
// the agent's log) to dst and writes its error trace there as trace.csv: seconds since the
// start, the guest's error (s), the rate error (ppm), the kernel's status word.
func keepRun(b *testing.B, dst, dir string, ps []point) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && e.Type().IsRegular() {
			if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	var csv strings.Builder
	csv.WriteString("elapsed_s,error_s,rate_error_ppm,status\n")
	for _, p := range ps {
		fmt.Fprintf(&csv, "%.3f,%.9f,%.4f,%#x\n", p.mono, p.err, rateError(p.s), p.s.Kernel.Status)
	}
	if err := os.WriteFile(filepath.Join(dst, "trace.csv"), []byte(csv.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// keepRelay writes what the relay forwarded to path (relay.writeLog). It stops the relay
// first: its log is its own thread's until then.
func keepRelay(b *testing.B, path string, r *relay) {
	r.close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.writeLog(f); err != nil {
		f.Close()
		b.Fatalf("%s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// summarize gives one table row: when the error came below 1 ms and 100 µs for good, the second
// half's mean, SD and max |error|, the rate error at 10 minutes (issue 13's target) and at the
// end, and the steps.
func summarize(ps []point, run float64) string {
	from := func(limit float64) string {
		if len(ps) == 0 || math.Abs(ps[len(ps)-1].err) >= limit {
			return "never"
		}
		t := 0.0
		for i := len(ps) - 1; i >= 0; i-- {
			if math.Abs(ps[i].err) >= limit {
				t = ps[min(i+1, len(ps)-1)].mono
				break
			}
		}
		return fmt.Sprintf("%.0f s", t)
	}
	half := window(ps, run/2, run+1)
	var sum, sq, mx float64
	for _, p := range half {
		sum += p.err
		mx = math.Max(mx, math.Abs(p.err))
	}
	n := float64(len(half))
	mean := sum / n
	for _, p := range half {
		sq += (p.err - mean) * (p.err - mean)
	}
	sd := math.Sqrt(sq / n)
	last := ps[len(ps)-1].s
	// The sample nearest 10 minutes, within 2 s: a run of exactly 10 minutes ends just
	// before 600 s.
	at10, best := "-", 2.0
	for _, p := range ps {
		if d := math.Abs(p.mono - 600); d <= best {
			at10, best = fmt.Sprintf("%+.3f ppm", rateError(p.s)), d
		}
	}
	return fmt.Sprintf("%s | %s | %+.1f µs | %.1f µs | %.0f µs | %s | %+.3f ppm | %d",
		from(1e-3), from(100e-6), mean*1e6, sd*1e6, mx*1e6, at10, rateError(last), last.Steps)
}
