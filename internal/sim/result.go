// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"gontp/internal/snapshot"

	"gontp/system"
)

// Sample is the state of the gontp host at one instant of true time.
type Sample struct {
	T       time.Duration // true time since the start
	Offset  float64       // local clock minus true time, s
	FreqErr float64       // remaining frequency error, ppm
	SysPeer string        // name of the system peer, "" if none
}

// Result is what a run produced: the samples, the events the summary reports, and the
// verdict on each limit.
type Result struct {
	Scenario *Scenario
	Samples  []Sample
	// FirstSysPeer and SyncTime are when the engine first had a system peer and first
	// reported itself synchronised (leap not alarm); +Inf if never.
	FirstSysPeer, SyncTime float64
	Steps                  int
	SysPeerChanges         int
	// PeerChanges lists each system peer change: when, and to whom ("" is none).
	PeerChanges []PeerChange
	// Falsetickers are the servers the selection marked 'x' at least once.
	Falsetickers []string
	// OutageEnds are the |offset| values at the end of each down period or outage.
	OutageEnds []float64
	// Exit is the error with which the discipline ended the run (ntpd's panic), and when.
	Exit   error
	ExitAt time.Duration
	// Darkened are the pool servers a darken line took down.
	Darkened []string
	// Unroutable counts packets the engine sent to addresses no server has.
	Unroutable int
	Limits     []LimitResult
	Servers    []ServerResult

	ticks   map[string]bool // servers ever marked 'x'
	xTime   map[string]time.Duration
	spTime  map[string]time.Duration
	lastObs time.Duration
	lastSP  string
	lastX   map[string]bool
	live    []liveCount
}

// liveCount is the number of associations that are reachable and whose server is up (N),
// and of all associations, pool prototypes included (All: ntpd's peer_associations), from T
// on.
type liveCount struct {
	T      time.Duration
	N, All int
}

// PeerChange is one change of the system peer.
type PeerChange struct {
	T  time.Duration
	To string
}

// ServerResult is what a reference server saw.
type ServerResult struct {
	Name      string
	Requests  int
	KoDs      int
	MinKoDGap float64 // s between requests after the first KoD; +Inf if none
}

// LimitResult is the verdict on one limit.
type LimitResult struct {
	Limit
	Got  float64
	Pass bool
}

func newResult(sc *Scenario) *Result {
	return &Result{Scenario: sc, FirstSysPeer: math.Inf(1), SyncTime: math.Inf(1),
		ticks: map[string]bool{}, xTime: map[string]time.Duration{},
		spTime: map[string]time.Duration{}, lastX: map[string]bool{}}
}

// observe takes the engine's snapshot after each call.
func (r *Result) observe(w *world, s *snapshot.Snapshot) {
	dt := w.now - r.lastObs
	r.lastObs = w.now
	if r.lastSP != "" {
		r.spTime[r.lastSP] += dt
	}
	for n, x := range r.lastX {
		if x && !math.IsInf(r.FirstSysPeer, 1) {
			r.xTime[n] += dt
		}
	}
	sp := ""
	live := 0
	for i := range s.Peers {
		p := &s.Peers[i]
		n, ok := w.names[p.Vars.Addr]
		if !ok {
			continue // a pool prototype
		}
		if rs := w.byAddr[p.Vars.Addr]; p.Vars.Reach != 0 && rs != nil && !rs.down(w.now) {
			live++
		}
		x := p.Vars.Selection == system.SelFalsetick
		r.lastX[n] = x
		if x {
			r.ticks[n] = true
		}
		if p.ID == s.SysPeer && s.SysPeer != 0 {
			sp = n
		}
	}
	if c := (liveCount{T: w.now, N: live, All: len(s.Peers)}); len(r.live) == 0 ||
		r.live[len(r.live)-1].N != c.N || r.live[len(r.live)-1].All != c.All {
		r.live = append(r.live, c)
	}
	if sp != "" && math.IsInf(r.FirstSysPeer, 1) {
		r.FirstSysPeer = w.now.Seconds()
	}
	if s.Sys.Synchronised() && math.IsInf(r.SyncTime, 1) {
		r.SyncTime = w.now.Seconds()
	}
	if sp != r.lastSP {
		if r.lastSP != "" && sp != "" || len(r.PeerChanges) > 0 {
			r.SysPeerChanges++
		}
		r.PeerChanges = append(r.PeerChanges, PeerChange{T: w.now, To: sp})
		r.lastSP = sp
	}
}

func (r *Result) sample(w *world) {
	r.Samples = append(r.Samples, Sample{T: w.now, Offset: w.clock.Offset(),
		FreqErr: w.clock.FreqError(), SysPeer: r.lastSP})
}

func (r *Result) outageEnd(w *world) {
	r.OutageEnds = append(r.OutageEnds, math.Abs(w.clock.Offset()))
}

// finish computes the figures and the limits at the end of the run.
func (r *Result) finish(w *world) {
	r.observe(w, w.eng.Snapshot())
	r.Steps = w.clock.Steps()
	for n := range r.ticks {
		r.Falsetickers = append(r.Falsetickers, n)
	}
	sort.Strings(r.Falsetickers)
	for _, rs := range w.servers {
		r.Servers = append(r.Servers, ServerResult{Name: rs.spec.Name, Requests: rs.requests,
			KoDs: rs.kods, MinKoDGap: rs.minKoDGap})
	}
	for _, l := range w.sc.Limits {
		got := r.Metric(l.Metric, l.Args)
		r.Limits = append(r.Limits, LimitResult{Limit: l, Got: got, Pass: compare(got, l.Op, l.Value)})
	}
}

func compare(got float64, op string, want float64) bool {
	switch op {
	case "<":
		return got < want
	case "<=":
		return got <= want
	case ">":
		return got > want
	case ">=":
		return got >= want
	case "==":
		return got == want
	}
	return false
}

// window returns the samples in [from, to) seconds; a missing bound is from the
// synchronisation (or the start) and to the end.
func (r *Result) window(args []string) []Sample {
	from := r.SyncTime
	if math.IsInf(from, 1) {
		return nil
	}
	to := math.Inf(1)
	if len(args) > 0 {
		from, _ = parseSeconds(args[0])
	}
	if len(args) > 1 {
		to, _ = parseSeconds(args[1])
	}
	var out []Sample
	for _, s := range r.Samples {
		if t := s.T.Seconds(); t >= from && t < to {
			out = append(out, s)
		}
	}
	return out
}

// Metric evaluates one metric (see the package documentation for each). A time that never
// came is +Inf; a figure over an empty window is NaN, which fails every limit.
func (r *Result) Metric(name string, args []string) float64 {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "first_syspeer":
		return r.FirstSysPeer
	case "sync_time":
		return r.SyncTime
	case "settle_time":
		x, _ := parseSeconds(arg(0))
		last := -1
		for i, s := range r.Samples {
			if math.Abs(s.Offset) >= x {
				last = i
			}
		}
		switch {
		case len(r.Samples) == 0 || last == len(r.Samples)-1:
			return math.Inf(1)
		case last < 0:
			return 0
		}
		return r.Samples[last+1].T.Seconds()
	case "max_offset", "rms_offset":
		win := r.window(args)
		if len(win) == 0 {
			return math.NaN()
		}
		m, sq := 0.0, 0.0
		for _, s := range win {
			m = math.Max(m, math.Abs(s.Offset))
			sq += s.Offset * s.Offset
		}
		if name == "max_offset" {
			return m
		}
		return math.Sqrt(sq / float64(len(win)))
	case "freq_error":
		from := 0.0
		if len(args) > 0 {
			from, _ = parseSeconds(args[0])
		}
		m := math.NaN()
		for _, s := range r.Samples {
			if s.T.Seconds() >= from {
				if math.IsNaN(m) {
					m = 0
				}
				m = math.Max(m, math.Abs(s.FreqErr))
			}
		}
		return m
	case "steps":
		return float64(r.Steps)
	case "syspeer_changes":
		return float64(r.SysPeerChanges)
	case "syspeer_time":
		return r.spTime[arg(0)].Seconds()
	case "x_fraction":
		total := r.lastObs.Seconds() - r.FirstSysPeer
		if !(total > 0) {
			return math.NaN()
		}
		return r.xTime[arg(0)].Seconds() / total
	case "falsetickers":
		return float64(len(r.Falsetickers))
	case "reselect_time":
		return r.reselectTime()
	case "kod_poll_interval", "kods":
		for _, s := range r.Servers {
			if s.Name == arg(0) {
				if name == "kods" {
					return float64(s.KoDs)
				}
				return s.MinKoDGap
			}
		}
		return math.NaN()
	case "pool_replace_polls":
		return r.poolReplacePolls()
	case "exited":
		if r.Exit != nil {
			return 1
		}
		return 0
	case "outage_end_offset":
		if len(r.OutageEnds) == 0 {
			return math.NaN()
		}
		m := 0.0
		for _, v := range r.OutageEnds {
			m = math.Max(m, v)
		}
		return m
	}
	return math.NaN()
}

// Failed returns the limits that failed and are not expected to (no xfail).
func (r *Result) Failed() []LimitResult {
	var out []LimitResult
	for _, l := range r.Limits {
		if !l.Pass && l.XFail == "" {
			out = append(out, l)
		}
	}
	return out
}

// WriteSummary prints the figures of the run and the verdict on each limit.
func (r *Result) WriteSummary(out io.Writer) error {
	sc := r.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (%s)\n", sc.Name, sc.File)
	if sc.Description != "" {
		fmt.Fprintf(&b, "  %s\n", sc.Description)
	}
	fmt.Fprintf(&b, "simulated        %s, seed %d, %d servers\n", sc.Duration, sc.Seed, len(r.Servers))
	fmt.Fprintf(&b, "first sys peer   %s\n", fmtSeconds(r.FirstSysPeer))
	fmt.Fprintf(&b, "time to sync     %s\n", fmtSeconds(r.SyncTime))
	if w := r.window(nil); len(w) > 0 {
		fmt.Fprintf(&b, "after sync       max |offset| %s, RMS offset %s\n",
			fmtSeconds(r.Metric("max_offset", nil)), fmtSeconds(r.Metric("rms_offset", nil)))
	}
	if n := len(r.Samples); n > 0 {
		last := r.Samples[n-1]
		fmt.Fprintf(&b, "at the end       offset %s, frequency error %+.3f ppm\n",
			fmtSeconds(last.Offset), last.FreqErr)
	}
	fmt.Fprintf(&b, "steps            %d\n", r.Steps)
	fmt.Fprintf(&b, "sys peer changes %d", r.SysPeerChanges)
	for i, c := range r.PeerChanges {
		if i == 8 {
			fmt.Fprintf(&b, " ...")
			break
		}
		to := c.To
		if to == "" {
			to = "(none)"
		}
		fmt.Fprintf(&b, " %s@%s", to, fmtSeconds(c.T.Seconds()))
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "falsetickers     %d %s\n", len(r.Falsetickers), strings.Join(r.Falsetickers, " "))
	for _, s := range r.Servers {
		if s.KoDs > 0 {
			fmt.Fprintf(&b, "server %-9s %d requests, %d RATE kisses, least gap after the first kiss %s\n",
				s.Name, s.Requests, s.KoDs, fmtSeconds(s.MinKoDGap))
		}
	}
	if len(r.Darkened) > 0 {
		fmt.Fprintf(&b, "darkened         %s; replaced after %.1f polls\n", strings.Join(r.Darkened, " "),
			r.poolReplacePolls())
	}
	if len(r.OutageEnds) > 0 {
		fmt.Fprintf(&b, "outage ends      %d, worst |offset| %s\n", len(r.OutageEnds),
			fmtSeconds(r.Metric("outage_end_offset", nil)))
	}
	if r.Exit != nil {
		fmt.Fprintf(&b, "exited           at %s: %v\n", fmtSeconds(r.ExitAt.Seconds()), r.Exit)
	}
	for _, l := range r.Limits {
		verdict := "PASS"
		switch {
		case !l.Pass && l.XFail != "":
			verdict = "XFAIL(" + l.XFail + ")"
		case !l.Pass:
			verdict = "FAIL"
		case l.XFail != "":
			verdict = "XPASS(" + l.XFail + ")"
		}
		fmt.Fprintf(&b, "limit %-13s %s (got %s) line %d\n", verdict, l.Text, fmtValue(l.Metric, l.Got), l.Line)
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// fmtSeconds prints seconds with a unit that suits the size.
func fmtSeconds(s float64) string {
	a := math.Abs(s)
	switch {
	case math.IsInf(s, 0) || math.IsNaN(s):
		return fmt.Sprint(s)
	case a == 0:
		return "0s"
	case a < 1e-3:
		return fmt.Sprintf("%.1fus", s*1e6)
	case a < 1:
		return fmt.Sprintf("%.3fms", s*1e3)
	}
	return fmt.Sprintf("%.3fs", s)
}

func fmtValue(metric string, v float64) string {
	switch metric {
	case "steps", "syspeer_changes", "falsetickers", "kods", "exited", "x_fraction":
		return fmt.Sprintf("%g", v)
	case "freq_error":
		return fmt.Sprintf("%.4f ppm", v)
	case "pool_replace_polls":
		return fmt.Sprintf("%.1f polls", v)
	}
	return fmtSeconds(v)
}

// poolReplacePolls measures how fast a pool replaces servers that went dark: from the
// first darken line until the engine again has as many reachable
// associations with a live server as it had just before, in polls of the pool's minpoll.
//
// "As many as before" leaves out what the pool will never replace: as classic's pool
// (transmit() for MDF_POOL), gontp's solicits servers while there are fewer than `tos
// maxclock` associations (the prototype counts), or beyond that while fewer than `tos
// minclock` survived the last selection, which happens at the start before the first
// selection. A pool that overfilled then (10 servers and the prototype, 11 associations)
// refills only to maxclock (9 servers) once enough servers survive, so the target is the
// count before less that overfill.
func (r *Result) poolReplacePolls() float64 {
	sc := r.Scenario
	first := time.Duration(-1)
	minpoll := int8(6)
	for _, d := range sc.Darkens {
		for _, p := range sc.Pools {
			if p.Name == d.Pool && (first < 0 || d.At < first) {
				first = d.At
				if p.Server.MinPoll != 0 {
					minpoll = p.Server.MinPoll
				}
			}
		}
	}
	if first < 0 {
		return math.NaN()
	}
	maxclock := system.DefaultTos().MaxClock
	if sc.Tos != nil {
		maxclock = sc.Tos.MaxClock
	}
	before := -1
	for _, l := range r.live {
		if l.T < first {
			before = l.N - max(0, l.All-maxclock)
			continue
		}
		if before >= 0 && l.T > first && l.N >= before {
			return (l.T - first).Seconds() / math.Ldexp(1, int(minpoll))
		}
	}
	return math.Inf(1)
}

// reselectTime is how long after the first down line the system peer was a server that
// was down: zero if the system peer at that moment was not one of the servers going down,
// +Inf if no live server was selected afterwards.
func (r *Result) reselectTime() float64 {
	var first *Down
	for i, d := range r.Scenario.Downs {
		if first == nil || d.At < first.At {
			first = &r.Scenario.Downs[i]
		}
	}
	if first == nil {
		return math.NaN()
	}
	isDown := func(name string, t time.Duration) bool {
		for _, d := range r.Scenario.Downs {
			hit := d.Target == "*" || d.Target == name || strings.HasPrefix(name, d.Target+".")
			if hit && t >= d.At && (d.For == 0 || t < d.At+d.For) {
				return true
			}
		}
		return false
	}
	sp := ""
	for _, c := range r.PeerChanges {
		if c.T > first.At {
			break
		}
		sp = c.To
	}
	if sp != "" && !isDown(sp, first.At) {
		return 0
	}
	for _, c := range r.PeerChanges {
		if c.T > first.At && c.To != "" && !isDown(c.To, c.T) {
			return (c.T - first.At).Seconds()
		}
	}
	return math.Inf(1)
}
