// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"gontp/clock"
	"gontp/internal/engine"
)

// KernelHost is the host of a run without Options.Host: gontp's clock discipline
// (clock.Discipline, with classic ntpd's default parameters and -g from the client line)
// adjusting a simulated Linux kernel clock (clock.Model) with the client line's offset,
// frequency error and wander. Without the client line's drift= the discipline starts in
// NSET (no drift file); with it, in FSET at that frequency. The engine drives the
// discipline as its engine.Loop, so it clears the associations after a step and stops at a
// panic itself.
func KernelHost(sc *Scenario, origin time.Time, elapsed func() time.Duration, rng *rand.Rand) (HostClock, engine.Loop) {
	return KernelHostWith(clock.DefaultParams(), nil)(sc, origin, elapsed, rng)
}

// KernelHostWith is KernelHost with other discipline parameters (the client line's g still
// sets PanicGate) and a logger for the discipline's own warnings.
func KernelHostWith(p clock.Params, log *slog.Logger) func(*Scenario, time.Time, func() time.Duration, *rand.Rand) (HostClock, engine.Loop) {
	return func(sc *Scenario, origin time.Time, elapsed func() time.Duration, rng *rand.Rand) (HostClock, engine.Loop) {
		m := clock.NewModel(origin, elapsed, sc.Client.Offset, sc.Client.FreqPPM)
		h := &modelHost{m: m, elapsed: elapsed, at: elapsed(), wander: sc.Client.WanderPPB * 1e-9, rng: rng}
		// Each run gets its own copy: the scenario's g and drift= must not stay in p for
		// the next run of this host.
		q := p
		q.PanicGate = p.PanicGate || sc.Client.AllowPanic
		if sc.Client.Drift != nil && q.Drift == nil {
			q.Drift = sc.Client.Drift
		}
		d := clock.New(h, q, log)
		// The daemon writes the kernel's starting state when it starts (Begin).
		if err := d.Begin(h.Now()); err != nil {
			panic(err) // the model accepts every write
		}
		return h, d
	}
}

// StandInHost is the simulator's earlier host: a Clock disciplined by the StandIn (with -g
// if the client line has g). It is kept to compare against (ntpsim -host standin); it is
// not gontp's discipline.
func StandInHost(sc *Scenario, origin time.Time, elapsed func() time.Duration, rng *rand.Rand) (HostClock, engine.Loop) {
	c := NewClock(origin, elapsed, sc.Client.Offset, sc.Client.FreqPPM, sc.Client.WanderPPB, rng)
	si := NewStandIn(c)
	si.AllowPanic = sc.Client.AllowPanic
	return c, NewUpdaterLoop(si)
}

// DefaultHost is the host used when Options.Host is nil.
var DefaultHost = KernelHost

// modelHost is a clock.Model with the oscillator's random-walk wander, which the model
// itself does not have: before every access the natural frequency takes its step for the
// true time passed, as Clock does. It is both the world's HostClock and the discipline's
// clock.Kernel.
type modelHost struct {
	m       *clock.Model
	elapsed func() time.Duration
	at      time.Duration
	wander  float64 // s/s per √s
	rng     *rand.Rand
}

func (h *modelHost) walk() {
	e := h.elapsed()
	if e <= h.at {
		return
	}
	dt := (e - h.at).Seconds()
	h.at = e
	if h.wander > 0 && h.rng != nil {
		h.m.SetNatural(h.m.Natural() + h.rng.NormFloat64()*h.wander*math.Sqrt(dt))
	}
}

func (h *modelHost) Now() time.Time { h.walk(); return h.m.Now() }

func (h *modelHost) Adjtimex(tx *clock.Timex) (int, error) { h.walk(); return h.m.Adjtimex(tx) }

// Offset is how far the clock reads ahead of true time, s.
func (h *modelHost) Offset() float64 { h.walk(); return h.m.Error() }

// FreqError is the oscillator's error left after the discipline's frequency correction,
// ppm (the kernel PLL's phase amortisation is not counted: it ends).
func (h *modelHost) FreqError() float64 {
	h.walk()
	var tx clock.Timex
	if _, err := h.m.Adjtimex(&tx); err != nil {
		return math.NaN()
	}
	return (h.m.Natural() + clock.FromScaledPPM(tx.Freq)) * 1e6
}

func (h *modelHost) Steps() int { return h.m.Steps() }
