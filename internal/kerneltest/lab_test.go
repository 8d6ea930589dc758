// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
	"gontp/internal/uml"
	"gontp/internal/uml/plan"
)

// Kernel constants the tests read in samples (linux/timex.h).
const (
	staPLL    = 0x0001
	staFLL    = 0x0008
	staIns    = 0x0010
	staUnsync = 0x0040
	staNano   = 0x2000
	staMode   = 0x4000

	timeOK   = 0
	timeIns  = 1
	timeOOP  = 3
	timeWait = 4
)

// lab is one test's private network: a host "server" at 198.18.0.2 running the reference
// chronyd (serving the host's clock; -x and no CAP_SYS_TIME, so it never touches it), and the
// hub where guests attach.
type lab struct {
	net    *testnet.Net
	server *testnet.Host
}

// newLab makes the network and starts the reference server. chronyConf is added to the
// server's configuration (e.g. a bindaddress for a delay relay).
func newLab(t testing.TB, chronyConf string) *lab {
	t.Helper()
	uml.Require(t)
	testnet.Reference(t, "chronyd")
	n := testnet.New(t)
	srv := n.Host("server")
	testnet.Chronyd(t, srv, "local stratum 3\nallow\n"+chronyConf)
	return &lab{net: n, server: srv}
}

// ntpdConf is a gontp configuration for a guest: the lab's server plus extra lines.
func ntpdConf(server string, extra ...string) string {
	return fmt.Sprintf("server %s iburst\n%s", server, strings.Join(append(extra, ""), "\n"))
}

// write puts a file into dir.
func write(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// point is one sample seen from the host: the guest clock's error against the host clock.
type point struct {
	mono float64 // seconds since the plan's start
	err  float64 // guest ahead of host, s
	s    plan.Sample
}

func points(g *uml.Guest) []point {
	h := uml.Host()
	var out []point
	for _, s := range g.Samples() {
		out = append(out, point{mono: s.Mono, err: h.Error(s), s: s})
	}
	return out
}

// window returns the points with from <= mono < to.
func window(ps []point, from, to float64) []point {
	var out []point
	for _, p := range ps {
		if p.mono >= from && p.mono < to {
			out = append(out, p)
		}
	}
	return out
}

// maxAbs is the largest |error| of ps.
func maxAbs(ps []point) float64 {
	m := 0.0
	for _, p := range ps {
		m = math.Max(m, math.Abs(p.err))
	}
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// rateError is the guest clock's rate error against the host in a sample, ppm: the tick's
// (100 ppm per µs above 10000) plus the kernel's frequency correction.
func rateError(s plan.Sample) float64 {
	return 100*float64(s.Kernel.Tick-10000) + float64(s.Kernel.Freq)/65536
}

// trace logs the error once every step seconds, for the test's -v output and failures.
func trace(t *testing.T, ps []point, step float64) {
	t.Helper()
	var b strings.Builder
	next := 0.0
	for _, p := range ps {
		if p.mono >= next {
			fmt.Fprintf(&b, "  t=%6.1fs err=%+11.6fs freq=%+8.3fppm status=%#04x state=%d steps=%d\n",
				p.mono, p.err, float64(p.s.Kernel.Freq)/65536, p.s.Kernel.Status, p.s.Kernel.State, p.s.Steps)
			next = p.mono + step
		}
	}
	t.Logf("guest clock against the host:\n%s", b.String())
}

// secs converts seconds to a duration.
func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
