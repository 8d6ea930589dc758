// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/internal/testnet"
)

// shmFeed writes NTP SHM segments (refclock_shm.c struct shmTime, mode 1, the count/valid
// handshake) once a second, 100 ms after the second, as gpsd does for a receiver without
// PPS: the clock time is the receive time plus offset, so a reader measures offset. Every
// unit gets the same values, so that two daemons reading their own unit see identical
// input (two readers of one segment would steal each other's samples).
type shmFeed struct {
	segs   [][]byte
	ids    []int
	offset time.Duration
	stop   chan struct{}
	wg     sync.WaitGroup
	// corrupt, when set, makes every write a torn or bad one of that kind.
	corrupt atomic.Value
}

func newSHMFeed(t *testing.T, offset time.Duration, units ...int) *shmFeed {
	t.Helper()
	f := &shmFeed{offset: offset, stop: make(chan struct{})}
	f.corrupt.Store("")
	for _, u := range units {
		id, err := unix.SysvShmGet(0x4E545030+u, 96, unix.IPC_CREAT|0o666)
		if err != nil {
			t.Fatalf("shmget unit %d: %v (a segment of another size left over? ipcrm -M %#x)", u, err, 0x4E545030+u)
		}
		b, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			t.Fatalf("shmat unit %d: %v", u, err)
		}
		f.segs, f.ids = append(f.segs, b), append(f.ids, id)
	}
	f.wg.Add(1)
	go f.run()
	t.Cleanup(func() {
		close(f.stop)
		f.wg.Wait()
		for i, b := range f.segs {
			unix.SysvShmDetach(b)
			unix.SysvShmCtl(f.ids[i], unix.IPC_RMID, nil)
		}
	})
	return f
}

func (f *shmFeed) run() {
	defer f.wg.Done()
	for {
		now := time.Now()
		select {
		case <-f.stop:
			return
		case <-time.After(now.Truncate(time.Second).Add(1100 * time.Millisecond).Sub(now)):
		}
		rx := time.Now()
		ref := rx.Add(f.offset)
		bad := f.corrupt.Load().(string)
		for _, b := range f.segs {
			i32 := func(o int) *int32 { return (*int32)(unsafe.Pointer(&b[o])) }
			i64 := func(o int) *int64 { return (*int64)(unsafe.Pointer(&b[o])) }
			atomic.StoreInt32(i32(48), 0)
			atomic.AddInt32(i32(4), 1)
			mode := int32(1)
			if bad == "mode" {
				mode = 7
			}
			atomic.StoreInt32(i32(0), mode)
			atomic.StoreInt64(i64(8), ref.Unix())
			atomic.StoreInt32(i32(16), int32(ref.Nanosecond()/1000))
			r := rx
			if bad == "stale" {
				r = rx.Add(-time.Minute)
			}
			atomic.StoreInt64(i64(24), r.Unix())
			atomic.StoreInt32(i32(32), int32(r.Nanosecond()/1000))
			atomic.StoreInt32(i32(36), 0)
			atomic.StoreInt32(i32(40), -20)
			atomic.StoreInt32(i32(52), int32(ref.Nanosecond()))
			atomic.StoreInt32(i32(56), int32(r.Nanosecond()))
			atomic.AddInt32(i32(4), 1)
			atomic.StoreInt32(i32(48), 1)
		}
	}
}

// peerLine returns the `ntpq -p` line of the named clock (without the tally code), its
// tally code, and the whole output.
func peerLine(t *testing.T, h *testnet.Host, ntpq, name string) (line string, tally byte, out string) {
	t.Helper()
	so, se, err := runIn(h, ntpq, "-p", "127.0.0.1")
	if err != nil {
		return "", 0, so + se
	}
	for _, l := range strings.Split(so, "\n") {
		if len(l) > 1 && strings.HasPrefix(l[1:], name+" ") {
			return l[1:], l[0], so
		}
	}
	return "", 0, so
}

// waitReach waits until the clock's reach is 377 in `ntpq -p` and returns the line.
func waitReach(t *testing.T, h *testnet.Host, ntpq, name string, timeout time.Duration, tallies string) (string, byte) {
	t.Helper()
	return waitPeer(t, h, ntpq, name, timeout, tallies, nil)
}

// waitOffset is waitReach that also waits for the offset (ms) to satisfy ok: on a loaded
// machine a late read can put one sample far off for a poll or two.
func waitOffset(t *testing.T, h *testnet.Host, ntpq, name string, timeout time.Duration, tallies string, ok func(float64) bool) (string, byte) {
	t.Helper()
	return waitPeer(t, h, ntpq, name, timeout, tallies, ok)
}

func waitPeer(t *testing.T, h *testnet.Host, ntpq, name string, timeout time.Duration, tallies string, ok func(float64) bool) (string, byte) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		line, tally, out := peerLine(t, h, ntpq, name)
		f := strings.Fields(line)
		if len(f) == 10 && f[6] == "377" && strings.IndexByte(tallies, tally) >= 0 {
			off, _ := strconv.ParseFloat(f[8], 64)
			if ok == nil || ok(off) {
				return line, tally
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s: no reach 377 with tally in %q after %v:\n%s", name, h, tallies, timeout, out)
		}
		time.Sleep(time.Second)
	}
}

var cvValue = regexp.MustCompile(`(poll|noreply|timecode)=("[^"]*"|[0-9]+)`)

// maskCV replaces the values that depend on when each daemon happened to poll and read (its
// poll and noreply counters and the time code's second) by their shape.
func maskCV(s string) string {
	return cvValue.ReplaceAllStringFunc(s, func(m string) string {
		k, v, _ := strings.Cut(m, "=")
		if k == "timecode" {
			// digits, the hex digits of GPSD_JSON's NTP timestamp, and an NMEA sentence's
			// checksum (it changes with the second)
			return k + "=" + regexp.MustCompile(`\*[0-9A-Fa-f]{2}\b|[0-9]|\b[0-9a-f]{8}\.[0-9a-f]{8}\b`).ReplaceAllString(v, "9")
		}
		return k + "=N"
	})
}

// TestRefclockSHMLikeClassic: classic ntpd 4.2.8p15 and gontp, each reading its own SHM
// segment fed identically once a second (offset -250 ms, fudge time1 2 ms), both select the
// clock ('*'), reach 377 and show the same refid, stratum, type and offset in `ntpq -p`;
// classic ntpq's `cv` and `clocklist` and gontp's ntpq print the same bytes for both daemons
// except the counters and time code second that depend on when each polled.
func TestRefclockSHMLikeClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	n := testnet.New(t)
	hc, hg := n.Host("classic"), n.Host("gontp")
	newSHMFeed(t, -250*time.Millisecond, 40, 41)
	conf := func(unit int) string {
		return fmt.Sprintf("disable ntp\nserver 127.127.28.%d minpoll 4 maxpoll 4\nfudge 127.127.28.%d time1 0.002 refid GPS\n", unit, unit)
	}
	testnet.ClassicNTPD(t, hc, conf(41))
	startGontp(t, hg, conf(40))
	if !hg.WaitUDP(123, 15*time.Second) {
		t.Fatal("gontp does not listen")
	}
	cl, ctally := waitReach(t, hc, cntpq, "SHM(41)", 2*time.Minute, "*")
	gl, gtally := waitReach(t, hg, cntpq, "SHM(40)", 2*time.Minute, "*")
	t.Logf("classic: %c%s\ngontp:   %c%s", ctally, cl, gtally, gl)
	cf, gf := strings.Fields(cl), strings.Fields(gl)
	// refid, stratum, type, poll, reach, delay, offset
	for _, i := range []int{1, 2, 3, 5, 6, 7, 8} {
		if cf[i] != gf[i] {
			t.Errorf("ntpq -p column %d: classic %q, gontp %q", i, cf[i], gf[i])
		}
	}
	if off, _ := strconv.ParseFloat(gf[8], 64); off > -247.5 || off < -248.5 {
		t.Errorf("gontp offset %s ms, want -248 (the feed's -250 plus time1 2)", gf[8])
	}
	// The association's peer variables: everything that does not move with time or with
	// when each daemon polled must be the same.
	fixed := []string{"srcport", "dstadr", "dstport", "leap", "stratum", "precision",
		"rootdelay", "rootdisp", "refid", "reach", "unreach", "hmode", "pmode", "hpoll", "ppoll",
		"flash", "keyid", "delay"}
	var graw string
	rv := func(h *testnet.Host) map[string]string {
		out, _, err := runIn(h, cntpq, "-c", "as", "-c", "rv &1", "127.0.0.1")
		if err != nil {
			t.Fatalf("ntpq rv: %v", err)
		}
		t.Logf("%s:\n%s", h, out)
		graw = out
		return cvValues(out[strings.Index(out, "associd="):])
	}
	crv, grv := rv(hc), rv(hg)
	for _, k := range fixed {
		if crv[k] != grv[k] {
			t.Errorf("rv %s: classic %q, gontp %q", k, crv[k], grv[k])
		}
	}
	// reftime is the newest sample's receive stamp (written 100 ms after the second), not
	// the poll's time.
	if !regexp.MustCompile(`reftime=[0-9a-f.]+ +[A-Z][a-z]{2}, [A-Z][a-z]{2} +[0-9]+ [0-9]{4} +[0-9]{1,2}:[0-9]{2}:[0-9]{2}\.10[0-9],`).MatchString(graw) {
		t.Errorf("gontp reftime is not the sample's receive time (.10x s):\n%s", graw)
	}
	gntpq := binary(t, "ntpq")
	for _, cmd := range []string{"cv", "clocklist"} {
		c, _, err1 := runIn(hc, cntpq, "-c", cmd, "127.0.0.1")
		g, _, err2 := runIn(hg, cntpq, "-c", cmd, "127.0.0.1")
		gg, _, err3 := runIn(hg, gntpq, "-c", cmd, "127.0.0.1")
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("ntpq -c %s: %v %v %v", cmd, err1, err2, err3)
		}
		t.Logf("classic ntpq -c %s, classic ntpd:\n%s", cmd, c)
		// A poll that finds no new sample (a reader racing the feed's write on a loaded
		// machine) counts a noreply and one clock event in the status word: timing, like the
		// counters. The status code itself must agree.
		events := regexp.MustCompile(`status=00[0-9a-f]([0-9a-f]) (?:[0-9]+ events?|no events),`)
		mask := func(s string) string { return events.ReplaceAllString(maskCV(s), "status=00N$1 N events,") }
		if mask(c) != mask(g) {
			t.Errorf("classic ntpq -c %s differs:\nclassic ntpd:\n%s\ngontp:\n%s", cmd, c, g)
		}
		if gg != g {
			t.Errorf("gontp's ntpq -c %s differs from classic ntpq against gontp:\nclassic ntpq:\n%s\ngontp ntpq:\n%s", cmd, g, gg)
		}
	}
}

// The feeds are written by a goroutine of the test and read by gpsd or a driver on a machine
// shared with other work, so a sample can be late by scheduling delays: offsets are checked
// against the feed's within feedSlack, and two daemons reading twin feeds against each other
// within feedAgree (ms). Both are far below what a wrong sample (a whole second, a wrong
// fudge) would show.
const (
	feedSlack = 40.0
	feedAgree = 20.0
)

// nearFeed reports whether an ntpq offset (ms) is the feed's want within feedSlack, on the
// late side (a delayed read makes the measured offset more negative) or slightly early.
func nearFeed(off, want float64) bool { return off <= want+2 && off >= want-feedSlack }

// nmeaLine is an NMEA sentence with its checksum and CR LF.
func nmeaLine(body string) string {
	var c byte
	for i := 0; i < len(body); i++ {
		c ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, c)
}

// nmeaSecond is what a GPS receiver sends for second t: RMC and GGA with a 3D fix.
func nmeaSecond(t time.Time) string {
	u := t.UTC()
	hms := u.Format("150405") + ".00"
	return nmeaLine(fmt.Sprintf("GPRMC,%s,A,4807.038,N,01131.000,E,000.0,000.0,%s,,,A", hms, u.Format("020106"))) +
		nmeaLine(fmt.Sprintf("GPGGA,%s,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", hms))
}

// nmeaFeeder writes, 100 ms after each second, that second's sentences (plus extra(second)
// when extra is set) to every writer: the offset it implies for a reader that stamps the
// sentence on arrival is -100 ms.
func nmeaFeeder(t *testing.T, extra func(time.Time) string, ws ...interface{ Write([]byte) (int, error) }) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			now := time.Now()
			select {
			case <-stop:
				return
			case <-time.After(now.Truncate(time.Second).Add(1100 * time.Millisecond).Sub(now)):
			}
			sec := time.Now().Truncate(time.Second)
			s := nmeaSecond(sec)
			if extra != nil {
				s += extra(sec)
			}
			for _, w := range ws {
				w.Write([]byte(s))
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// removeSHM deletes the SHM segments of units 0..7 (left over from an earlier run, they
// would keep another owner or size).
func removeSHM() {
	for u := 0; u < 8; u++ {
		if id, err := unix.SysvShmGet(0x4E545030+u, 0, 0); err == nil {
			unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		}
	}
}

// fifo makes a named pipe that gpsd (as root or as nobody) can read.
func fifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := unix.Mkfifo(p, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o666)
	return p
}

// openWriter opens the pipe for writing once gpsd (process pid) has opened it for reading
// and had time to make sure nobody else holds it: gpsd refuses a device that another process
// has open when it checks, right after its own open.
func openWriter(t *testing.T, pid int, path string) *os.File {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !holds(pid, path) {
		if time.Now().After(deadline) {
			t.Fatalf("gpsd (pid %d) does not open %s", pid, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("opening %s for writing: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// holds reports whether process pid has path open.
func holds(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// TestRefclockGpsd: a real gpsd (Debian's) reads live NMEA sentences for the current second
// and writes the SHM segments; gontp's SHM clock (unit 0 from a root gpsd, unit 2 from a
// gpsd running as nobody) and its GPSD_JSON client each become the system peer ('*') with the
// offset the feed implies (-100 ms), and classic ntpd reading the other gpsd's identically
// fed segment shows the same reach, refid, stratum and offset.
//
// gpsd never writes SHM for a pseudo-terminal (ntpshm_link_activate: "don't talk to NTP
// when we're running inside the test harness", for every device of the pty major, not only
// gpsfake's), so its SHM devices here are named pipes, which it reads like a serial line and
// does export. The GPSD_JSON clocks watch a pseudo-terminal the root gpsd also reads (classic's
// driver refuses anything but a character device behind /dev/gps0, which a private mount
// namespace links to the pty), and classic ntpq's `cv` must print the same for classic's
// GPSD_JSON clock and gontp's but for the counters and time code.
func TestRefclockGpsd(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	gpsd, err := exec.LookPath("gpsd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gpsd is not installed (scripts/install-test-deps installs it; CI=true, so this is a failure)")
		}
		t.Skip("gpsd is not installed (scripts/install-test-deps installs it)")
	}
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	n := testnet.New(t)
	hr, hn := n.Host("rootgpsd"), n.Host("nobodygpsd")
	removeSHM()
	t.Cleanup(removeSHM)
	// A directory gpsd can reach as nobody (t.TempDir's parents are private to root).
	dir, err := os.MkdirTemp("", "gontp-gpsd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	pr, pn := fifo(t, dir, "gps-root"), fifo(t, dir, "gps-nobody")
	// -N foreground, -n read the device without waiting for a client, -b never write to it.
	gr := hr.Start(t, gpsd, "-N", "-n", "-b", pr)
	fr := openWriter(t, gr.Pid(), pr)
	// A third gpsd, for the GPSD_JSON clocks, reads a pseudo-terminal as /dev/gps0 (the
	// driver's default device) in a private mount namespace: classic's driver wants a
	// character device there and asks gpsd for it by that name.
	script := filepath.Join(dir, "privdev.sh")
	if err := os.WriteFile(script, []byte(privDev), 0o755); err != nil {
		t.Fatal(err)
	}
	hj := n.Host("jsongpsd")
	mp0, pts := openPTY(t)
	unix.SetNonblock(int(mp0.Fd()), true)
	hj.Start(t, script, pts, gpsd, "-N", "-n", "-b", "/dev/gps0")
	time.Sleep(time.Second) // the root gpsd makes the segments 0..7 first (2..7 world-writable)
	gn := hn.Start(t, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", gpsd, "-N", "-n", "-b", pn)
	fn := openWriter(t, gn.Pid(), pn)
	nmeaFeeder(t, nil, fr, fn, mp0)

	const mp = " minpoll 4 maxpoll 4\n"
	phase := func(t *testing.T, hg, hc *testnet.Host, gunit, cunit int) {
		t.Helper()
		g := startGontp(t, hg, fmt.Sprintf("disable ntp\nserver 127.127.28.%d%s", gunit, mp))
		c := testnet.ClassicNTPD(t, hc, fmt.Sprintf("disable ntp\nserver 127.127.28.%d%s", cunit, mp))
		defer g.Stop()
		defer c.Stop()
		gl, _ := waitOffset(t, hg, cntpq, fmt.Sprintf("SHM(%d)", gunit), 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
		cl, _ := waitOffset(t, hc, cntpq, fmt.Sprintf("SHM(%d)", cunit), 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
		t.Logf("gontp:   *%s\nclassic: *%s", gl, cl)
		gf, cf := strings.Fields(gl), strings.Fields(cl)
		for _, i := range []int{1, 2, 3, 5, 6} {
			if cf[i] != gf[i] {
				t.Errorf("ntpq -p column %d: classic %q, gontp %q", i, cf[i], gf[i])
			}
		}
		goff, _ := strconv.ParseFloat(gf[8], 64)
		coff, _ := strconv.ParseFloat(cf[8], 64)
		if !nearFeed(goff, -100) || math.Abs(coff-goff) > feedAgree {
			t.Errorf("offsets: gontp %v ms, classic %v ms; want both about -100 (the feed's)", goff, coff)
		}
	}
	t.Run("gontp unit 0, classic unit 2", func(t *testing.T) { phase(t, hr, hn, 0, 2) })
	t.Run("gontp unit 2, classic unit 0", func(t *testing.T) { phase(t, hn, hr, 2, 0) })
	var classicCV string
	t.Run("GPSD_JSON classic", func(t *testing.T) {
		cdir := t.TempDir()
		os.WriteFile(filepath.Join(cdir, "ntp.conf"), []byte("disable ntp\nserver 127.127.46.0"+mp), 0o644)
		c := hj.Start(t, script, pts, ref+"/classic-ntpd", "-n", "-c", filepath.Join(cdir, "ntp.conf"),
			"-l", filepath.Join(cdir, "ntpd.log"), "-p", filepath.Join(cdir, "ntpd.pid"))
		defer c.Stop()
		t.Cleanup(func() {
			if t.Failed() {
				l, _ := os.ReadFile(filepath.Join(cdir, "ntpd.log"))
				t.Logf("classic ntpd log:\n%s", l)
			}
		})
		cl, _ := waitReach(t, hj, cntpq, "GPSD_JSON(0)", 2*time.Minute, "*")
		t.Logf("classic: *%s", cl)
		classicCV, _, _ = runIn(hj, cntpq, "-c", "cv", "127.0.0.1")
	})
	t.Run("GPSD_JSON", func(t *testing.T) {
		g := startGontp(t, hj, "disable ntp\nserver 127.127.46.0"+mp)
		defer g.Stop()
		gl, _ := waitOffset(t, hj, cntpq, "GPSD_JSON(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
		t.Logf("gontp: *%s", gl)
		gf := strings.Fields(gl)
		if off, _ := strconv.ParseFloat(gf[8], 64); gf[1] != ".GPSD." || !nearFeed(off, -100) {
			t.Errorf("GPSD_JSON: refid %s offset %s ms, want .GPSD. and about -100", gf[1], gf[8])
		}
		g2, _, _ := runIn(hj, cntpq, "-c", "cv", "127.0.0.1")
		t.Logf("classic ntpq -c cv, classic ntpd:\n%s\ngontp:\n%s", classicCV, g2)
		// Classic connects to gpsd only a few seconds after start, so its first poll reports
		// a fault (one event, no counter); gontp connects at once and usually has data by its
		// first poll. The event count of the status word is therefore compared apart.
		events := regexp.MustCompile(`status=00[0-9a-f]0 ([0-9]+ events?|no events)`)
		mask := func(s string) string { return events.ReplaceAllString(maskCV(s), "status=00N0 N events") }
		if mask(classicCV) != mask(g2) {
			t.Errorf("classic ntpq -c cv differs:\nclassic ntpd:\n%s\ngontp:\n%s", classicCV, g2)
		}
	})
}

// openPTY makes a pseudo-terminal pair and returns the master and the slave's path.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("/dev/ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// cvValues parses `ntpq -c cv` output into its name=value pairs.
func cvValues(out string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Split(strings.ReplaceAll(out, "\n", " "), ", ") {
		if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestRefclockNMEAOverPTY: gontp's NMEA driver reads a receiver's sentences from a pseudo-
// terminal (NTPsec's `refclock nmea ... path`): fed RMC and GGA for each second 100 ms after
// it, with a sentence with a wrong checksum and a ZDA from the wrong century every second
// second, the clock becomes the system peer at -100 ms, the bad sentences are counted in
// badformat and baddata, and none of them becomes a sample (the offset stays at -100 ms).
func TestRefclockNMEAOverPTY(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	n := testnet.New(t)
	h := n.Host("gps")
	m, pts := openPTY(t)
	g := startGontp(t, h, fmt.Sprintf("disable ntp\nrefclock nmea unit 0 path %s minpoll 4 maxpoll 4\n", pts))
	defer g.Stop()
	if !h.WaitUDP(123, 15*time.Second) {
		t.Fatal("gontp does not listen")
	}
	time.Sleep(time.Second) // the driver has the line open: no backlog of old sentences
	unix.SetNonblock(int(m.Fd()), true)
	nmeaFeeder(t, func(sec time.Time) string {
		if sec.Unix()%2 != 0 {
			return ""
		}
		bad := nmeaLine("GPRMC," + sec.UTC().Format("150405") + ".00,A,4807.038,N,01131.000,E,000.0,000.0,010199,,,A")
		bad = bad[:len(bad)-4] + "00\r\n" // checksum now wrong
		zda := nmeaLine("GPZDA," + sec.UTC().Format("150405") + ".00," + sec.UTC().Format("02,01") + ",1926,00,00")
		return bad + zda + "garbage\x01\xff\r\n"
	}, m)
	line, _ := waitOffset(t, h, cntpq, "GPS_NMEA(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
	t.Logf("*%s", line)
	f := strings.Fields(line)
	if off, _ := strconv.ParseFloat(f[8], 64); f[1] != ".GPS." || !nearFeed(off, -100) {
		t.Errorf("refid %s offset %s ms, want .GPS. and about -100 (the feed's)", f[1], f[8])
	}
	out, _, err := runIn(h, cntpq, "-c", "cv", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ntpq -c cv:\n%s", out)
	v := cvValues(out)
	bf, _ := strconv.Atoi(v["badformat"])
	bd, _ := strconv.Atoi(v["baddata"])
	if bf < 5 || bd < 5 || v["device"] != `"NMEA GPS Clock"` || !strings.HasPrefix(v["timecode"], `"$GP`) {
		t.Errorf("cv: badformat %d baddata %d (want several of each), device %s, timecode %s", bf, bd, v["device"], v["timecode"])
	}
}

// privDev runs a command in a private mount namespace whose /dev is a tmpfs with the usual
// nodes bound from the real /dev and gps0 -> the given device, so that classic ntpd's NMEA
// driver, which opens /dev/gps0, reads the test's pseudo-terminal. Nothing outside the
// namespace changes.
const privDev = `#!/bin/sh
set -e
PTS=$1; shift
exec unshare -m sh -c '
mount --make-rprivate /
mount -t tmpfs tmpfs /mnt
for n in null zero random urandom ptmx tty; do touch /mnt/$n; mount --bind /dev/$n /mnt/$n; done
mkdir /mnt/pts; mount --bind /dev/pts /mnt/pts
ln -s "$0" /mnt/gps0
mount --move /mnt /dev
exec "$@"' "$PTS" "$@"
`

// TestRefclockNMEALikeClassic: classic ntpd 4.2.8p15 (on /dev/gps0, in a private mount
// namespace) and gontp (on `path`), each on its own pseudo-terminal fed the same sentences,
// a bad checksum every other second for the first 30 s included: both select the clock at
// the same offset, and classic ntpq's `cv` and `clocklist` print the same bytes for both
// (status word and event count included) except the counters and time code that depend on
// when each started and polled.
func TestRefclockNMEALikeClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	n := testnet.New(t)
	hc, hg := n.Host("classic"), n.Host("gontp")
	dir := t.TempDir()
	script := filepath.Join(dir, "privdev.sh")
	if err := os.WriteFile(script, []byte(privDev), 0o755); err != nil {
		t.Fatal(err)
	}
	mc, ptsc := openPTY(t)
	mg, ptsg := openPTY(t)
	conf := "disable ntp\nserver 127.127.20.0 minpoll 4 maxpoll 4\nfudge 127.127.20.0 time2 0.005\n"
	// Both write clockstats (classic's NMEA driver records its last sentence at each poll).
	cdir, gdir := t.TempDir(), t.TempDir()
	stats := func(dir string) string {
		return "statsdir " + dir + "/\nstatistics clockstats\nfilegen clockstats file clockstats type none enable\n"
	}
	os.WriteFile(filepath.Join(cdir, "ntp.conf"), []byte(conf+stats(cdir)), 0o644)
	c := hc.Start(t, script, ptsc, ref+"/classic-ntpd", "-n", "-c", filepath.Join(cdir, "ntp.conf"),
		"-l", filepath.Join(cdir, "ntpd.log"), "-p", filepath.Join(cdir, "ntpd.pid"))
	defer c.Stop()
	g := startGontp(t, hg, strings.Replace(conf, "server 127.127.20.0", "refclock nmea unit 0 path "+ptsg, 1)+stats(gdir))
	defer g.Stop()
	if !hc.WaitUDP(123, 15*time.Second) || !hg.WaitUDP(123, 15*time.Second) {
		t.Fatal("the daemons do not listen")
	}
	time.Sleep(time.Second)
	unix.SetNonblock(int(mc.Fd()), true)
	unix.SetNonblock(int(mg.Fd()), true)
	badUntil := time.Now().Add(30 * time.Second)
	nmeaFeeder(t, func(sec time.Time) string {
		if sec.Unix()%2 != 0 || sec.After(badUntil) {
			return ""
		}
		bad := nmeaLine("GPGLL,4807.038,N,01131.000,E," + sec.UTC().Format("150405") + ",A")
		return bad[:len(bad)-4] + "00\r\n"
	}, mc, mg)
	cl, _ := waitOffset(t, hc, cntpq, "GPS_NMEA(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -95) })
	gl, _ := waitOffset(t, hg, cntpq, "GPS_NMEA(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -95) })
	t.Logf("classic: *%s\ngontp:   *%s", cl, gl)
	cf, gf := strings.Fields(cl), strings.Fields(gl)
	for _, i := range []int{1, 2, 3, 5, 6} {
		if cf[i] != gf[i] {
			t.Errorf("ntpq -p column %d: classic %q, gontp %q", i, cf[i], gf[i])
		}
	}
	goff, _ := strconv.ParseFloat(gf[8], 64)
	coff, _ := strconv.ParseFloat(cf[8], 64)
	if math.Abs(goff-coff) > feedAgree || !nearFeed(goff, -95) {
		t.Errorf("offsets: classic %v ms, gontp %v ms; want both about -95 (the feed's -100 plus time2 5)", coff, goff)
	}
	// The bad sentences stopped 30 s after the start; after the next poll both clocks are
	// nominal again, with the bad replies counted.
	time.Sleep(time.Until(badUntil.Add(20 * time.Second)))
	counters := regexp.MustCompile(`(badformat|baddata)=[0-9]+`)
	mask := func(s string) string {
		return counters.ReplaceAllString(maskCV(s), "$1=N")
	}
	for _, cmd := range []string{"cv", "clocklist"} {
		co, _, err1 := runIn(hc, cntpq, "-c", cmd, "127.0.0.1")
		gout, _, err2 := runIn(hg, cntpq, "-c", cmd, "127.0.0.1")
		if err1 != nil || err2 != nil {
			t.Fatalf("ntpq -c %s: %v %v", cmd, err1, err2)
		}
		t.Logf("classic ntpq -c %s, classic ntpd:\n%s\ngontp:\n%s", cmd, co, gout)
		if mask(co) != mask(gout) {
			t.Errorf("classic ntpq -c %s differs:\nclassic ntpd:\n%s\ngontp:\n%s", cmd, co, gout)
		}
	}
	// clockstats: "MJD SECONDS 127.127.20.0 SENTENCE", one line per poll with data.
	line := regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} 127\.127\.20\.0( \$GP(RMC|GGA|GLL),| ?$)`)
	for who, dir := range map[string]string{"classic": cdir, "gontp": gdir} {
		b, err := os.ReadFile(filepath.Join(dir, "clockstats"))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if err != nil || len(lines) < 5 {
			t.Errorf("%s clockstats: %v, %d lines:\n%s", who, err, len(lines), b)
			continue
		}
		for _, l := range lines {
			if !line.MatchString(l) {
				t.Errorf("%s clockstats line %q", who, l)
			}
		}
		t.Logf("%s clockstats, last line: %s", who, lines[len(lines)-1])
	}
}

// TestRefclockNMEAGarminZDGLikeClassic: classic ntpd 4.2.8p15 (on /dev/gps0 in a private
// mount namespace) and gontp (on `path`) fed the same receiver, one that gontp's earlier
// driver could not read: Garmin's $PGRMF only (mode 0x100: the date's century from the GPS
// week number and leap seconds), and $GPZDG only (mode 0x08: GPS time of the following
// second; the feed's receiver counts GPS time equal to UTC). Both daemons select the clock
// at the same offset, -100 ms, the feed's, and show the same ntpq -p columns.
func TestRefclockNMEAGarminZDGLikeClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	gpsEpoch := time.Date(1980, 1, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		mode  int
		extra func(time.Time) string
	}{
		{"PGRMF", 0x100, func(sec time.Time) string {
			gps := sec.Add(18 * time.Second) // GPS time runs 18 s ahead of UTC
			since := int64(gps.Sub(gpsEpoch) / time.Second)
			week, tow := since/(7*86400)%1024, since%(7*86400)
			u := sec.UTC()
			return nmeaLine(fmt.Sprintf("PGRMF,%d,%d,%s,%s,18,4807.038,N,01131.000,E,A,2,0,0,1,1",
				week, tow, u.Format("020106"), u.Format("150405")))
		}},
		{"GPZDG", 0x08, func(sec time.Time) string {
			u := sec.Add(time.Second).UTC()
			return nmeaLine("GPZDG," + u.Format("150405") + ".00," + u.Format("02,01,2006") + ",00.00,,")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := testnet.New(t)
			hc, hg := n.Host("classic"), n.Host("gontp")
			dir := t.TempDir()
			script := filepath.Join(dir, "privdev.sh")
			if err := os.WriteFile(script, []byte(privDev), 0o755); err != nil {
				t.Fatal(err)
			}
			mc, ptsc := openPTY(t)
			mg, ptsg := openPTY(t)
			conf := fmt.Sprintf("disable ntp\nserver 127.127.20.0 mode %d minpoll 4 maxpoll 4\n", c.mode)
			os.WriteFile(filepath.Join(dir, "ntp.conf"), []byte(conf), 0o644)
			cd := hc.Start(t, script, ptsc, ref+"/classic-ntpd", "-n", "-c", filepath.Join(dir, "ntp.conf"),
				"-l", filepath.Join(dir, "ntpd.log"), "-p", filepath.Join(dir, "ntpd.pid"))
			defer cd.Stop()
			g := startGontp(t, hg, fmt.Sprintf("disable ntp\nrefclock nmea unit 0 path %s mode %d minpoll 4 maxpoll 4\n", ptsg, c.mode))
			defer g.Stop()
			if !hc.WaitUDP(123, 15*time.Second) || !hg.WaitUDP(123, 15*time.Second) {
				t.Fatal("the daemons do not listen")
			}
			time.Sleep(time.Second)
			unix.SetNonblock(int(mc.Fd()), true)
			unix.SetNonblock(int(mg.Fd()), true)
			nmeaFeeder(t, c.extra, mc, mg)
			cl, _ := waitOffset(t, hc, cntpq, "GPS_NMEA(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
			gl, _ := waitOffset(t, hg, cntpq, "GPS_NMEA(0)", 2*time.Minute, "*", func(off float64) bool { return nearFeed(off, -100) })
			t.Logf("classic: *%s\ngontp:   *%s", cl, gl)
			cf, gf := strings.Fields(cl), strings.Fields(gl)
			for _, i := range []int{1, 2, 3, 5} {
				if cf[i] != gf[i] {
					t.Errorf("ntpq -p column %d: classic %q, gontp %q", i, cf[i], gf[i])
				}
			}
			goff, _ := strconv.ParseFloat(gf[8], 64)
			coff, _ := strconv.ParseFloat(cf[8], 64)
			if math.Abs(goff-coff) > feedAgree {
				t.Errorf("offsets: classic %v ms, gontp %v ms", coff, goff)
			}
		})
	}
}
