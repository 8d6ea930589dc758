// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package uml

import (
	"sort"
	"sync"
	"time"

	"gontp/internal/uml/plan"
	"gontp/internal/uml/probe"
)

// HostClock maps time-stamp counter values to the host's CLOCK_REALTIME. It reads the host's
// clock against the counter every 200 ms for as long as the test binary runs (it only reads) and
// interpolates between the two readings around a counter value; beyond the last reading it
// extrapolates at the rate measured over the whole record.
type HostClock struct {
	mu   sync.Mutex
	recs []probe.Reading
}

var (
	hostOnce sync.Once
	host     *HostClock
)

// Host returns the process-wide host clock recorder, starting it on first use (the first call
// takes a second, to measure the counter's rate).
func Host() *HostClock {
	hostOnce.Do(func() {
		host = &HostClock{}
		host.add()
		time.Sleep(time.Second)
		host.add()
		go func() {
			for range time.Tick(200 * time.Millisecond) {
				host.add()
			}
		}()
	})
	return host
}

func (h *HostClock) add() {
	r := probe.Read(15)
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
}

// ghz is the counter's rate over the record, ticks per ns.
func (h *HostClock) ghz() float64 {
	a, b := h.recs[0], h.recs[len(h.recs)-1]
	return float64(b.TSC-a.TSC) / float64(b.Ns-a.Ns)
}

// Anchor is the latest reading and the rate, for a guest to set its clock from.
func (h *HostClock) Anchor() plan.Anchor {
	h.add()
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.recs[len(h.recs)-1]
	return plan.Anchor{TSC: last.TSC, Ns: last.Ns, GHz: h.ghz()}
}

// Ns returns the host's CLOCK_REALTIME at counter value tsc, ns.
func (h *HostClock) Ns(tsc uint64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].TSC >= tsc })
	if i > 0 && i < len(h.recs) {
		a, b := h.recs[i-1], h.recs[i]
		f := float64(tsc-a.TSC) / float64(b.TSC-a.TSC)
		return a.Ns + int64(f*float64(b.Ns-a.Ns))
	}
	ref := h.recs[len(h.recs)-1]
	if i == 0 {
		ref = h.recs[0]
	}
	return ref.Ns + int64(float64(int64(tsc-ref.TSC))/h.ghz())
}

// Error returns how far a guest sample's clock was ahead of the host's, seconds.
func (h *HostClock) Error(s plan.Sample) float64 {
	return float64(s.Ns-h.Ns(s.TSC)) / 1e9
}

// GHz is the counter's rate, ticks per ns.
func (h *HostClock) GHz() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ghz()
}
