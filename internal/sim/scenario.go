// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"gontp/system"
)

// Scenario is one parsed scenario file (the format is described in the package
// documentation). Times are true time since the start of the run.
type Scenario struct {
	File        string // the name it was parsed from, for messages
	Name        string
	Description string
	Seed        uint64
	Duration    time.Duration
	Sample      time.Duration // how often the true offset is recorded
	Client      ClientSpec
	Servers     []ServerSpec
	Pools       []PoolSpec
	Downs       []Down
	Outages     []Outage
	Darkens     []Darken
	Limits      []Limit
	// Tos is the `tos` configuration of the gontp host; nil means classic's defaults.
	Tos *system.Tos
}

// Darken takes N of a pool's servers that the engine is using at time At down for good:
// which ones depends on what the pool picked, so the scenario names only how many.
type Darken struct {
	Pool string
	N    int
	At   time.Duration
	Line int
}

// ClientSpec is the gontp host: its clock and the daemon options that matter here.
type ClientSpec struct {
	Offset    float64 // initial clock offset, s (local minus true)
	FreqPPM   float64 // intrinsic frequency error, ppm
	WanderPPB float64 // random-walk wander, ppb per sqrt(s)
	// AllowPanic is ntpd's -g: the first correction may exceed the panic threshold.
	AllowPanic bool
	// Drift is the frequency, ppm, read from a drift file at start (nil: no drift file):
	// the discipline then starts in FSET instead of NSET.
	Drift *float64
}

// ServerSpec is one reference server and the link to it.
type ServerSpec struct {
	Name      string
	Line      int
	Offset    float64 // the server's clock offset from true time, s: a falseticker is far off
	FreqPPM   float64
	WanderPPB float64
	Stratum   uint8
	RootDelay float64 // s, advertised
	RootDisp  float64 // s, advertised
	// What the gontp configuration says about it (server line options).
	IBurst, Burst, Prefer bool
	MinPoll, MaxPoll      int8
	// KoD makes the server rate-limit: a request that comes sooner than KoD after the
	// previous one gets a RATE kiss-o'-death. Zero: never.
	KoD time.Duration
	// KoDPoll is the poll exponent the server puts in its replies and kisses (classic's
	// ntp_minpoll; with a RATE kiss it becomes the client's new minpoll).
	KoDPoll int8
	Link    Link
	hasLink bool
}

// PoolSpec is a `pool` line: Size servers (NAME.1 ... NAME.Size) behind one name, whose
// DNS answers carry Count addresses each, rotating through the servers as pool DNS does.
type PoolSpec struct {
	Name  string
	Line  int
	Count int
	Size  int
	// Server is the template of the members (their clocks, stratum, iburst...).
	Server ServerSpec
}

// Link is the network path to one server. One-way delays are Delay plus an exponentially
// distributed queueing delay of mean Jitter, with the outbound direction Asym longer than
// the return direction (Delay+Asym/2 out, Delay-Asym/2 back). Each direction loses packets
// with its own probability.
type Link struct {
	Delay, Jitter, Asym float64 // s
	// Normal is the standard deviation of a normal jitter added to each direction (s),
	// independent per packet and never making the delay negative: the kernel lab's relay
	// (200 µs ± 100 µs each way), where the delay says nothing of a sample's offset error,
	// unlike the queueing jitter.
	Normal            float64
	LossOut, LossBack float64 // probability 0..1
}

// Down is a period in which a server (every server of a pool when Target names the pool,
// every server at all when it is "*") neither receives nor answers: the server vanished,
// or the network is down. For zero means until the end.
type Down struct {
	Target  string
	At, For time.Duration
	Line    int
}

// Outage is a repeating Down: from Start, every Every, for For.
type Outage struct {
	Target            string
	Every, For, Start time.Duration
	Line              int
}

// Limit is a pass limit: Metric(Args) Op Value. XFail names the issue whose work the limit
// waits for (it is expected to fail until then, and reported, not asserted).
type Limit struct {
	Metric string
	Args   []string
	Op     string
	Value  float64
	XFail  string
	Line   int
	Text   string
}

// metricArity lists the metrics a limit may name, with the number of arguments each takes
// (min, max). The package documentation describes them.
var metricArity = map[string][2]int{
	"first_syspeer":      {0, 0},
	"sync_time":          {0, 0},
	"settle_time":        {1, 1},
	"max_offset":         {0, 2},
	"rms_offset":         {0, 2},
	"sd_offset":          {0, 2},
	"freq_error":         {0, 1},
	"steps":              {0, 0},
	"syspeer_changes":    {0, 0},
	"syspeer_time":       {1, 1},
	"x_fraction":         {1, 1},
	"falsetickers":       {0, 0},
	"reselect_time":      {0, 0},
	"kod_poll_interval":  {1, 1},
	"kods":               {1, 1},
	"exited":             {0, 0},
	"outage_end_offset":  {0, 0},
	"pool_replace_polls": {0, 0},
}

// Parse reads a scenario. Every problem is reported, each with the file and line.
func Parse(name string, r io.Reader) (*Scenario, error) {
	sc := &Scenario{File: name, Seed: 1, Sample: time.Second}
	var errs *multierror.Error
	fail := func(line int, format string, a ...any) {
		errs = multierror.Append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, a...)))
	}
	var defLink *Link
	links := map[string]Link{}
	linkLines := map[string]int{}
	s := bufio.NewScanner(r)
	ln := 0
	for s.Scan() {
		ln++
		text := s.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		kw, args := f[0], f[1:]
		switch kw {
		case "name":
			sc.Name = strings.Join(args, " ")
		case "description":
			if sc.Description != "" {
				sc.Description += " "
			}
			sc.Description += strings.Join(args, " ")
		case "seed":
			if len(args) != 1 {
				fail(ln, "seed takes one number")
				continue
			}
			v, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				fail(ln, "seed %q: %v", args[0], err)
			}
			sc.Seed = v
		case "duration", "sample":
			if len(args) != 1 {
				fail(ln, "%s takes one duration", kw)
				continue
			}
			d, err := parseDuration(args[0])
			if err != nil || d <= 0 {
				fail(ln, "%s %q: want a positive duration like 90s, 30m, 24h, 3d", kw, args[0])
				continue
			}
			if kw == "duration" {
				sc.Duration = d
			} else {
				sc.Sample = d
			}
		case "client":
			kv, flags, err := options(args)
			if err != nil {
				fail(ln, "client: %v", err)
				continue
			}
			c := &sc.Client
			for k, v := range kv {
				var err error
				switch k {
				case "offset":
					c.Offset, err = parseSeconds(v)
				case "freq":
					c.FreqPPM, err = strconv.ParseFloat(v, 64)
				case "wander":
					c.WanderPPB, err = strconv.ParseFloat(v, 64)
				case "drift":
					var f float64
					if f, err = strconv.ParseFloat(v, 64); err == nil {
						c.Drift = &f
					}
				default:
					err = fmt.Errorf("unknown option %q (offset, freq, wander, drift, g)", k)
				}
				if err != nil {
					fail(ln, "client %s: %v", k, err)
				}
			}
			for _, fl := range flags {
				if fl == "g" {
					c.AllowPanic = true
				} else {
					fail(ln, "client: unknown flag %q (g)", fl)
				}
			}
		case "server", "pool":
			if len(args) < 1 {
				fail(ln, "%s needs a name", kw)
				continue
			}
			sv := ServerSpec{Name: args[0], Line: ln, Stratum: 1, RootDisp: 0.0001, KoDPoll: 3}
			count, size := 0, 0
			if err := serverOptions(&sv, args[1:], kw == "pool", &count, &size); err != nil {
				fail(ln, "%s %s: %v", kw, args[0], err)
				continue
			}
			if kw == "pool" {
				if count < 1 {
					fail(ln, "pool %s: count=N (N >= 1) is required", args[0])
					continue
				}
				if size == 0 {
					size = count
				}
				if size < count {
					fail(ln, "pool %s: size=%d is less than count=%d", args[0], size, count)
					continue
				}
				sc.Pools = append(sc.Pools, PoolSpec{Name: sv.Name, Line: ln, Count: count, Size: size, Server: sv})
			} else {
				sc.Servers = append(sc.Servers, sv)
			}
		case "link":
			if len(args) < 1 {
				fail(ln, "link needs a server name or *")
				continue
			}
			l, err := parseLink(args[1:])
			if err != nil {
				fail(ln, "link %s: %v", args[0], err)
				continue
			}
			if args[0] == "*" {
				defLink = &l
			} else {
				links[args[0]] = l
				linkLines[args[0]] = ln
			}
		case "down":
			kv, flags, err := options(args[min(1, len(args)):])
			if err != nil || len(args) < 1 || len(flags) > 0 {
				fail(ln, "down: want `down TARGET at=DURATION [for=DURATION]`")
				continue
			}
			d := Down{Target: args[0], Line: ln}
			for k, v := range kv {
				var err error
				switch k {
				case "at":
					d.At, err = parseDuration(v)
				case "for":
					d.For, err = parseDuration(v)
				default:
					err = fmt.Errorf("unknown option (at, for)")
				}
				if err != nil {
					fail(ln, "down %s=%s: %v", k, v, err)
				}
			}
			if _, ok := kv["at"]; !ok {
				fail(ln, "down: at= is required")
			}
			sc.Downs = append(sc.Downs, d)
		case "outage":
			kv, flags, err := options(args[min(1, len(args)):])
			if err != nil || len(args) < 1 || len(flags) > 0 {
				fail(ln, "outage: want `outage TARGET every=DURATION for=DURATION [start=DURATION]`")
				continue
			}
			o := Outage{Target: args[0], Line: ln}
			for k, v := range kv {
				var err error
				switch k {
				case "every":
					o.Every, err = parseDuration(v)
				case "for":
					o.For, err = parseDuration(v)
				case "start":
					o.Start, err = parseDuration(v)
				default:
					err = fmt.Errorf("unknown option (every, for, start)")
				}
				if err != nil {
					fail(ln, "outage %s=%s: %v", k, v, err)
				}
			}
			if o.Every <= 0 || o.For <= 0 || o.For >= o.Every {
				fail(ln, "outage: need every > for > 0")
				continue
			}
			sc.Outages = append(sc.Outages, o)
		case "darken":
			kv, flags, err := options(args[min(1, len(args)):])
			if err != nil || len(args) < 1 || len(flags) > 0 {
				fail(ln, "darken: want `darken POOL n=N at=DURATION`")
				continue
			}
			d := Darken{Pool: args[0], Line: ln}
			for k, v := range kv {
				var err error
				switch k {
				case "n":
					d.N, err = strconv.Atoi(v)
				case "at":
					d.At, err = parseDuration(v)
				default:
					err = fmt.Errorf("unknown option (n, at)")
				}
				if err != nil {
					fail(ln, "darken %s=%s: %v", k, v, err)
				}
			}
			if d.N < 1 {
				fail(ln, "darken: n=N (N >= 1) is required")
				continue
			}
			sc.Darkens = append(sc.Darkens, d)
		case "tos":
			if sc.Tos == nil {
				t := system.DefaultTos()
				sc.Tos = &t
			}
			kv, flags, err := options(args)
			if err != nil || len(flags) > 0 {
				fail(ln, "tos: want `tos OPTION=VALUE ...` (minclock, maxclock, minsane, mindist, maxdist)")
				continue
			}
			for k, v := range kv {
				var err error
				var n int
				switch k {
				case "minclock", "maxclock", "minsane":
					n, err = strconv.Atoi(v)
					switch k {
					case "minclock":
						sc.Tos.MinClock = n
					case "maxclock":
						sc.Tos.MaxClock = n
					default:
						sc.Tos.MinSane = n
					}
				case "mindist":
					sc.Tos.MinDist, err = parseSeconds(v)
				case "maxdist":
					sc.Tos.MaxDist, err = parseSeconds(v)
				default:
					err = fmt.Errorf("unknown option (minclock, maxclock, minsane, mindist, maxdist)")
				}
				if err != nil {
					fail(ln, "tos %s=%s: %v", k, v, err)
				}
			}
			if err := sc.Tos.Validate(); err != nil {
				fail(ln, "%v", err)
			}
		case "limit":
			l, err := parseLimit(args)
			if err != nil {
				fail(ln, "limit: %v", err)
				continue
			}
			l.Line = ln
			sc.Limits = append(sc.Limits, l)
		default:
			fail(ln, "unknown keyword %q (name, description, seed, duration, sample, client, tos, server, pool, link, down, outage, darken, limit)", kw)
		}
	}
	if err := s.Err(); err != nil {
		errs = multierror.Append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if sc.Duration <= 0 {
		fail(ln, "no duration given")
	}
	if len(sc.Servers) == 0 && len(sc.Pools) == 0 {
		fail(ln, "no server or pool")
	}
	names := map[string]bool{}
	for i := range sc.Servers {
		sv := &sc.Servers[i]
		if names[sv.Name] {
			fail(sv.Line, "server %s defined twice", sv.Name)
		}
		names[sv.Name] = true
		if l, ok := links[sv.Name]; ok {
			sv.Link, sv.hasLink = l, true
		} else if defLink != nil {
			sv.Link, sv.hasLink = *defLink, true
		}
	}
	for i := range sc.Pools {
		p := &sc.Pools[i]
		if names[p.Name] {
			fail(p.Line, "pool %s: name already used", p.Name)
		}
		names[p.Name] = true
		for m := 1; m <= p.Size; m++ {
			names[fmt.Sprintf("%s.%d", p.Name, m)] = true
		}
		if l, ok := links[p.Name]; ok {
			p.Server.Link, p.Server.hasLink = l, true
		} else if defLink != nil {
			p.Server.Link, p.Server.hasLink = *defLink, true
		}
	}
	for n, line := range linkLines {
		if !names[n] {
			fail(line, "link for unknown server %s", n)
		}
	}
	for _, d := range sc.Downs {
		if d.Target != "*" && !names[d.Target] {
			fail(d.Line, "down: unknown server %s", d.Target)
		}
	}
	for _, o := range sc.Outages {
		if o.Target != "*" && !names[o.Target] {
			fail(o.Line, "outage: unknown server %s", o.Target)
		}
	}
	for _, d := range sc.Darkens {
		found := false
		for _, p := range sc.Pools {
			if p.Name == d.Pool {
				found = true
				if d.N > p.Size {
					fail(d.Line, "darken %s: n=%d is more than its %d servers", d.Pool, d.N, p.Size)
				}
			}
		}
		if !found {
			fail(d.Line, "darken: unknown pool %s", d.Pool)
		}
	}
	for _, l := range sc.Limits {
		if (l.Metric == "syspeer_time" || l.Metric == "x_fraction" || l.Metric == "kod_poll_interval" ||
			l.Metric == "kods") && !names[l.Args[0]] {
			fail(l.Line, "limit %s: unknown server %s", l.Text, l.Args[0])
		}
	}
	if sc.Name == "" {
		sc.Name = name
	}
	return sc, errs.ErrorOrNil()
}

// options splits key=value options from bare flags.
func options(args []string) (map[string]string, []string, error) {
	kv := map[string]string{}
	var flags []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			flags = append(flags, a)
			continue
		}
		if _, dup := kv[k]; dup {
			return nil, nil, fmt.Errorf("option %s given twice", k)
		}
		kv[k] = v
	}
	return kv, flags, nil
}

func serverOptions(sv *ServerSpec, args []string, pool bool, count, size *int) error {
	kv, flags, err := options(args)
	if err != nil {
		return err
	}
	for k, v := range kv {
		var err error
		var n int64
		switch k {
		case "offset":
			sv.Offset, err = parseSeconds(v)
		case "freq":
			sv.FreqPPM, err = strconv.ParseFloat(v, 64)
		case "wander":
			sv.WanderPPB, err = strconv.ParseFloat(v, 64)
		case "stratum":
			n, err = strconv.ParseInt(v, 10, 8)
			if err == nil && (n < 1 || n > 15) {
				err = fmt.Errorf("stratum %d outside 1..15", n)
			}
			sv.Stratum = uint8(n)
		case "rootdelay":
			sv.RootDelay, err = parseSeconds(v)
		case "rootdisp":
			sv.RootDisp, err = parseSeconds(v)
		case "minpoll", "maxpoll", "kodpoll":
			n, err = strconv.ParseInt(v, 10, 8)
			if err == nil && (n < 3 || n > 17) {
				err = fmt.Errorf("%d outside 3..17", n)
			}
			switch k {
			case "minpoll":
				sv.MinPoll = int8(n)
			case "maxpoll":
				sv.MaxPoll = int8(n)
			default:
				sv.KoDPoll = int8(n)
			}
		case "kod":
			sv.KoD, err = parseDuration(v)
		case "count", "size":
			if !pool {
				err = fmt.Errorf("%s is for pool lines", k)
				break
			}
			n, err = strconv.ParseInt(v, 10, 16)
			if err == nil && (n < 1 || n > 250) {
				err = fmt.Errorf("%d outside 1..250", n)
			}
			if k == "count" {
				*count = int(n)
			} else {
				*size = int(n)
			}
		default:
			err = fmt.Errorf("unknown option %q (offset, freq, wander, stratum, rootdelay, rootdisp, minpoll, maxpoll, kod, kodpoll, count, size)", k)
		}
		if err != nil {
			return fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	for _, fl := range flags {
		switch fl {
		case "iburst":
			sv.IBurst = true
		case "burst":
			sv.Burst = true
		case "prefer":
			sv.Prefer = true
		default:
			return fmt.Errorf("unknown flag %q (iburst, burst, prefer)", fl)
		}
	}
	return nil
}

func parseLink(args []string) (Link, error) {
	var l Link
	kv, flags, err := options(args)
	if err != nil {
		return l, err
	}
	if len(flags) > 0 {
		return l, fmt.Errorf("unexpected %q (options are key=value)", flags[0])
	}
	for k, v := range kv {
		var err error
		switch k {
		case "delay":
			l.Delay, err = parseSeconds(v)
		case "jitter":
			l.Jitter, err = parseSeconds(v)
		case "asym":
			l.Asym, err = parseSeconds(v)
		case "normal":
			l.Normal, err = parseSeconds(v)
		case "loss":
			l.LossOut, err = parseProb(v)
			l.LossBack = l.LossOut
		case "lossout":
			l.LossOut, err = parseProb(v)
		case "lossback":
			l.LossBack, err = parseProb(v)
		default:
			err = fmt.Errorf("unknown option (delay, jitter, normal, asym, loss, lossout, lossback)")
		}
		if err != nil {
			return l, fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	if l.Delay < 0 || l.Jitter < 0 || l.Normal < 0 || l.Delay-math.Abs(l.Asym)/2 < 0 {
		return l, fmt.Errorf("delays must not be negative (delay >= |asym|/2)")
	}
	return l, nil
}

func parseProb(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err == nil && (p < 0 || p > 1) {
		err = fmt.Errorf("probability outside 0..1")
	}
	return p, err
}

// parseLimit reads `METRIC[(ARG,...)] OP VALUE [xfail=ISSUE]`.
func parseLimit(args []string) (Limit, error) {
	var l Limit
	if len(args) < 3 {
		return l, fmt.Errorf("want `limit METRIC[(ARGS)] OP VALUE [xfail=ISSUE]`")
	}
	l.Text = strings.Join(args[:3], " ")
	m := args[0]
	if i := strings.IndexByte(m, '('); i >= 0 {
		if !strings.HasSuffix(m, ")") {
			return l, fmt.Errorf("%s: missing )", m)
		}
		for _, a := range strings.Split(m[i+1:len(m)-1], ",") {
			if a = strings.TrimSpace(a); a != "" {
				l.Args = append(l.Args, a)
			}
		}
		m = m[:i]
	}
	ar, ok := metricArity[m]
	if !ok {
		return l, fmt.Errorf("unknown metric %q", m)
	}
	if len(l.Args) < ar[0] || len(l.Args) > ar[1] {
		return l, fmt.Errorf("%s takes %d to %d arguments, got %d", m, ar[0], ar[1], len(l.Args))
	}
	l.Metric = m
	switch args[1] {
	case "<", "<=", ">", ">=", "==":
		l.Op = args[1]
	default:
		return l, fmt.Errorf("operator %q: want <, <=, >, >= or ==", args[1])
	}
	v, err := parseSeconds(args[2])
	if err != nil {
		return l, fmt.Errorf("value %q: %w", args[2], err)
	}
	l.Value = v
	for _, a := range args[3:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k != "xfail" || v == "" {
			return l, fmt.Errorf("unexpected %q (only xfail=ISSUE may follow the value)", a)
		}
		l.XFail = v
	}
	// Check the arguments that are times now rather than at the end of a run.
	switch m {
	case "settle_time", "max_offset", "rms_offset", "sd_offset", "freq_error":
		for _, a := range l.Args {
			if _, err := parseSeconds(a); err != nil {
				return l, fmt.Errorf("%s argument %q: %w", m, a, err)
			}
		}
	}
	return l, nil
}

// parseDuration is time.ParseDuration that also knows days ("3d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, err
			}
		}
		return time.Duration(days*24*float64(time.Hour)) + rest, nil
	}
	return time.ParseDuration(s)
}

// parseSeconds reads a plain number of seconds ("0.3", "-5", "inf") or a duration with a
// unit ("200us", "50ms", "2h", "1d").
func parseSeconds(s string) (float64, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number of seconds nor a duration like 200us", s)
	}
	return d.Seconds(), nil
}
