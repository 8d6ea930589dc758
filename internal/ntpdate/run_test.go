// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"bytes"
	"context"
	"gontp/internal/cli"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// fakeClock is the host's time for reading; Step and Slew are recorded, never applied.
type fakeClock struct {
	mu    sync.Mutex
	steps []time.Duration
	slews []time.Duration
	err   error
}

func (c *fakeClock) Now() time.Time { return time.Now() }
func (c *fakeClock) Step(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, d)
	return c.err
}
func (c *fakeClock) Slew(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slews = append(c.slews, d)
	return c.err
}

// fakeServer answers mode-3 requests on addr with a clock that is off by offset.
type fakeServer struct {
	offset    time.Duration
	stratum   uint8
	leap      uint8
	precision int8
	refAge    time.Duration
	badOrg    bool // echo a wrong origin timestamp (a spoofed reply)
}

func (f fakeServer) start(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			var req wire.Packet
			if n < wire.HeaderLen || wire.DecodeHeader(buf[:n], &req) != nil || req.Mode != wire.ModeClient {
				continue
			}
			now := time.Now().Add(f.offset)
			resp := wire.Packet{
				Leap: f.leap, Version: req.Version, Mode: wire.ModeServer, Stratum: f.stratum,
				Poll: req.Poll, Precision: f.precision, RootDelay: 0x100, RootDisp: 0x200,
				RefID:   wire.RefIDFromString("GPS"),
				RefTime: ntptime.FromTime(now.Add(-f.refAge)),
				Org:     req.Xmt, Rec: ntptime.FromTime(now),
			}
			if f.badOrg {
				resp.Org++
			}
			var out [wire.HeaderLen]byte
			resp.Encode(out[:])
			wire.PutXmt(out[:], ntptime.FromTime(time.Now().Add(f.offset)))
			c.WriteTo(out[:], from)
		}
	}()
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

func good(offset time.Duration, stratum uint8) fakeServer {
	return fakeServer{offset: offset, stratum: stratum, precision: -20, refAge: 10 * time.Second}
}

type result struct {
	code           int
	stdout, stderr string
	clock          *fakeClock
}

// runWith starts the fake servers on 127.0.0.1 and further loopback addresses sharing one port
// and runs ntpdate with args against them, with 5 ms ticks instead of 200 ms.
func runWith(t *testing.T, args []string, servers ...fakeServer) result {
	t.Helper()
	var names []string
	port := 0
	for i, f := range servers {
		ap := f.start(t, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + 4*i)}), uint16(port)).String())
		port = int(ap.Port())
		names = append(names, ap.Addr().String())
	}
	if port == 0 { // no server: pick a port nobody answers on
		c, _ := net.ListenPacket("udp", "127.0.0.1:0")
		port = c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		names = append(names, "127.0.0.1")
	}
	o, err := Parse("ntpdate", append(append([]string{"-u"}, args...), names...))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	clk := &fakeClock{}
	cfg := Config{
		Clock: clk, Resolver: net.DefaultResolver, Stdout: &stdout, Stderr: &stderr,
		Log:        &TermLogger{Stdout: &stdout, Stderr: &stderr, PID: 4242, Now: time.Now},
		Version:    "ntpdate test",
		serverPort: port, tick: 5 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, o, cfg)
	return result{code, stdout.String(), stderr.String(), clk}
}

var (
	serverLine  = regexp.MustCompile(`^server (\S+), stratum (\d+), offset ([+-]\d+\.\d{6}), delay (\d+\.\d{5})$`)
	summaryLine = regexp.MustCompile(`^([ 123]\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d:\d\d:\d\d ntpdate\[(\d+)\]: (adjust|step) time server (\S+) offset ([+-]\d+\.\d{6}) sec$`)
)

func summary(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	m := summaryLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("last line %q is not a classic summary line; output:\n%s", lines[len(lines)-1], out)
	}
	return m
}

func near(d, want, tol time.Duration) bool { return d > want-tol && d < want+tol }

func TestSlewSmallOffset(t *testing.T) {
	r := runWith(t, []string{"-p", "2"}, good(100*time.Millisecond, 2))
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	m := summary(t, r.stdout)
	if m[4] != "adjust" || m[5] != "127.0.0.1" {
		t.Errorf("summary %q: want adjust from 127.0.0.1", m[0])
	}
	// Classic slews 50% more than the offset, at most 1/16 s more.
	if len(r.clock.steps) != 0 || len(r.clock.slews) != 1 || !near(r.clock.slews[0], 150*time.Millisecond, 5*time.Millisecond) {
		t.Errorf("steps %v slews %v; want one slew of about 150ms", r.clock.steps, r.clock.slews)
	}
	if strings.Contains(r.stdout, "server 127.0.0.1,") {
		t.Errorf("per-server line printed without -q/-d:\n%s", r.stdout)
	}
}

func TestStepLargeOffset(t *testing.T) {
	r := runWith(t, []string{"-p", "1"}, good(-2*time.Second, 3))
	m := summary(t, r.stdout)
	if r.code != ExitOK || m[4] != "step" || !strings.HasPrefix(m[6], "-1.99") && !strings.HasPrefix(m[6], "-2.00") {
		t.Fatalf("exit %d, summary %q", r.code, m[0])
	}
	if len(r.clock.steps) != 1 || !near(r.clock.steps[0], -2*time.Second, 5*time.Millisecond) || len(r.clock.slews) != 0 {
		t.Errorf("steps %v slews %v; want one step of about -2s", r.clock.steps, r.clock.slews)
	}
}

func TestForcedSlewAndStep(t *testing.T) {
	r := runWith(t, []string{"-p", "1", "-B"}, good(2*time.Second, 3))
	if len(r.clock.slews) != 1 || !near(r.clock.slews[0], 2*time.Second+62500*time.Microsecond, 5*time.Millisecond) {
		t.Errorf("-B: slews %v, want about 2.0625s (overshoot capped at 1/16 s)", r.clock.slews)
	}
	if summary(t, r.stdout)[4] != "adjust" {
		t.Errorf("-B: %q", r.stdout)
	}
	r = runWith(t, []string{"-p", "1", "-b"}, good(10*time.Millisecond, 3))
	if len(r.clock.steps) != 1 || len(r.clock.slews) != 0 || summary(t, r.stdout)[4] != "step" {
		t.Errorf("-b: steps %v slews %v out %q", r.clock.steps, r.clock.slews, r.stdout)
	}
}

func TestQueryNeverSets(t *testing.T) {
	r := runWith(t, []string{"-q", "-p", "3"}, good(5*time.Second, 2), good(0, 3))
	if len(r.clock.steps)+len(r.clock.slews) != 0 {
		t.Errorf("-q changed the clock: %v %v", r.clock.steps, r.clock.slews)
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 3 || !serverLine.MatchString(lines[0]) || !serverLine.MatchString(lines[1]) {
		t.Fatalf("want two server lines then the summary, got:\n%s", r.stdout)
	}
	// The lower stratum wins even though its offset is larger.
	m := summary(t, r.stdout)
	if m[4] != "step" || m[5] != "127.0.0.1" {
		t.Errorf("summary %q: want step from the stratum-2 server 127.0.0.1", m[0])
	}
}

func TestRejectedServers(t *testing.T) {
	unsync := good(0, 3)
	unsync.leap = wire.LeapAlarm
	kod := good(0, 0)
	stale := good(0, 2)
	stale.refAge = 2 * 86400 * time.Second
	r := runWith(t, []string{"-q"}, unsync, kod, stale)
	if r.code != ExitFail || !strings.HasSuffix(r.stderr, "no server suitable for synchronization found\n") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
	// Stratum 0 on the wire is shown as 16, as classic does; all three answered, so all print.
	if !strings.Contains(r.stdout, "server 127.0.0.5, stratum 16, offset") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	d := runWith(t, []string{"-d", "-p", "1"}, unsync, kod, stale)
	for _, want := range []string{
		"127.0.0.1: Server dropped: leap not in sync",
		"127.0.0.5: Server dropped: strata too high",
		"127.0.0.9: Server dropped: server has gone too long without sync",
	} {
		if !strings.Contains(d.stdout, want) {
			t.Errorf("-d output lacks %q:\n%s", want, d.stdout)
		}
	}
}

func TestNoAnswerAndSpoof(t *testing.T) {
	r := runWith(t, []string{"-q"})
	if r.code != ExitFail || r.stdout != "" || !strings.Contains(r.stderr, "no server suitable for synchronization found") {
		t.Errorf("dead server: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	spoof := good(0, 2)
	spoof.badOrg = true
	r = runWith(t, []string{"-q"}, spoof)
	if r.code != ExitFail || r.stdout != "" {
		t.Errorf("reply with a wrong origin timestamp was accepted: exit %d stdout %q", r.code, r.stdout)
	}
}

func TestClockFailures(t *testing.T) {
	// A failed step is reported and, as in classic, the exit status stays 0.
	o := &Options{Samples: 1}
	srv := &server{addr: netip.MustParseAddrPort("127.0.0.1:123"), stratum: 2, org: 5 << 32, reftime: 4 << 32}
	srv.shift(0x1000, 3<<32)
	for _, tc := range []struct {
		offset lfp
		code   int
		msg    string
	}{
		{3 << 32, ExitOK, "step-systime: denied"},
		{1 << 28, ExitFail, "Can't adjust the time of day: denied"},
	} {
		srv.fOffset[0] = tc.offset
		var out, errb bytes.Buffer
		clk := &fakeClock{err: errString("denied")}
		r := &run{o: o, cfg: Config{Clock: clk, Stdout: &out, Stderr: &errb}, servers: []*server{srv},
			log: &TermLogger{Stdout: &out, Stderr: &errb, PID: 1, Now: time.Now}}
		if code := r.adjust(); code != tc.code || !strings.HasSuffix(errb.String(), tc.msg+"\n") {
			t.Errorf("offset %s: exit %d stderr %q; want %d %q", lfptoa(tc.offset, 6), code, errb.String(), tc.code, tc.msg)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestGoldenLines rebuilds every per-server and summary line of the captured classic runs from
// its numbers and checks the text is byte-identical (widths, signs, decimals, date, pid).
func TestGoldenLines(t *testing.T) {
	for _, name := range []string{"q-three-servers.txt", "q-p2.txt", "q-step-negative.txt", "q-kod-stratum0.txt", "q-dead.txt", "no-servers.txt"} {
		c := readCapture(t, name)
		for _, line := range strings.Split(strings.TrimSuffix(c.stdout+c.stderr, "\n"), "\n") {
			if m := serverLine.FindStringSubmatch(line); m != nil {
				off, _ := atolfp(m[3])
				del, _ := atolfp(m[4])
				s := &server{addr: netip.AddrPortFrom(netip.MustParseAddr(m[1]), 123), stratum: cli.Atoi(m[2]), offset: off, delay: toSfp(del + 0x8000)}
				var out bytes.Buffer
				r := &run{o: &Options{Query: true}, cfg: Config{Stdout: &out}}
				r.printServer(s)
				if out.String() != line+"\n" {
					t.Errorf("%s: ours %q, classic %q", name, out.String(), line+"\n")
				}
				continue
			}
			// "28 Nov 17:33:12 ntpdate[7768]: message"
			m := regexp.MustCompile(`^( ?\d+) (\w{3}) (\d\d:\d\d:\d\d) ntpdate\[(\d+)\]: (.*)$`).FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: unrecognised line %q", name, line)
				continue
			}
			when, err := time.ParseInLocation("2 Jan 15:04:05 2006", strings.TrimSpace(m[1])+" "+m[2]+" "+m[3]+" 2026", time.Local)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			l := &TermLogger{Stdout: &out, PID: cli.Atoi(m[4]), Now: func() time.Time { return when }}
			l.Notice(m[5])
			if out.String() != line+"\n" {
				t.Errorf("%s: ours %q, classic %q", name, out.String(), line+"\n")
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{lfptoa(0, 6), "+0.000000"},
		{lfptoa(-1, 6), "-0.000000"},
		{lfptoa(lfp(int64(-1234)<<32-1<<31), 6), "-1234.500000"},
		{lfptoa(lfp(0xffffffff), 6), "+1.000000"}, // rounds up into the integer part
		{lfptoa(lfp(int64(86400000)<<32), 6), "+86400000.000000"},
		{fptoa(0x1a0c, 5), "0.10175"},
		{fptoa(-0x10000, 5), "-1.00000"},
		{ufptoa(0x200, 6), "0.007813"},
		{fptoa(0x100, 6), "0.003906"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestSlewAmountAndStepRule(t *testing.T) {
	sec := func(f float64) lfp { return lfp(f * (1 << 32)) }
	// Values observed from classic ntpdate's adjtime call (strace, with the call suppressed).
	for _, tc := range []struct {
		off  lfp
		want time.Duration
	}{
		{sec(0.750155), 812655 * time.Microsecond},
		{sec(0.100073), 150110 * time.Microsecond},
		{sec(-0.199960), -262460 * time.Microsecond},
		{sec(0.010070), 15105 * time.Microsecond},
	} {
		if got := slewAmount(tc.off); got != tc.want {
			t.Errorf("slewAmount(%s) = %v, want %v", lfptoa(tc.off, 6), got, tc.want)
		}
	}
	o := &Options{}
	if decideStep(sec(0.4999), o) || !decideStep(sec(0.5), o) || !decideStep(sec(-0.5), o) || !decideStep(sec(70000), o) {
		t.Error("step threshold is |offset| >= 0.5 s")
	}
}
