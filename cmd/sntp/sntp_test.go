// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// virtualClock is the host clock plus an offset that Step changes; Slew records the
// correction asked for. It never touches the host clock.
type virtualClock struct {
	mu     sync.Mutex
	offset time.Duration
	slews  []time.Duration
	steps  []time.Duration
	deny   bool // Step and Slew fail with EPERM, as without CAP_SYS_TIME
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *virtualClock) Step(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deny {
		return syscall.EPERM
	}
	c.offset += d
	c.steps = append(c.steps, d)
	return nil
}

func (c *virtualClock) Slew(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deny {
		return syscall.EPERM
	}
	c.slews = append(c.slews, d)
	return nil
}

// server answers NTP requests on a loopback port: with the host's time (stratum 2), or a
// kiss, or a reply signed with an MD5 key.
type server struct {
	conn  *net.UDPConn
	kiss  string
	keyID uint32
	key   string
	count int
	mu    sync.Mutex
}

func startServer(t *testing.T, configure func(*server)) *server {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{conn: c}
	if configure != nil {
		configure(s)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || n < 48 {
				continue
			}
			s.mu.Lock()
			s.count++
			s.mu.Unlock()
			rec := ntptime.FromTime(time.Now())
			p := wire.Packet{Leap: 0, Version: 4, Mode: wire.ModeServer, Stratum: 2, Poll: 6, Precision: -20,
				RootDelay: ntptime.ShortFromSeconds(0.003), RootDisp: ntptime.ShortFromSeconds(0.002),
				RefID: 0xc6120001, Rec: rec}
			copy8 := binary.BigEndian.Uint64(buf[40:48])
			p.Org = ntptime.Time(copy8)
			if s.kiss != "" {
				p.Leap, p.Stratum, p.RefID = 3, 0, wire.RefIDFromString(s.kiss)
			}
			p.Xmt = ntptime.FromTime(time.Now())
			out := make([]byte, 48)
			p.Encode(out)
			if s.key != "" {
				h := md5.New()
				h.Write([]byte(s.key))
				h.Write(out)
				out = binary.BigEndian.AppendUint32(out, s.keyID)
				out = h.Sum(out)
			}
			_, _ = c.WriteToUDPAddrPort(out, from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *server) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// runSntp runs sntp with argv against s on the virtual clock and returns its output.
func runSntp(t *testing.T, s *server, clk *virtualClock, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = runArgs(append([]string{"sntp"}, args...), &o, &e, config{
		clock: clk, resolver: net.DefaultResolver, progname: "sntp", pid: 1, serverPort: s.port(),
	})
	return o.String(), e.String(), code
}

// resultLine is classic's handle_pkt line.
var resultLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) \(([+-]\d{4})\) ([+-]\d+\.\d{6}) \+/- (\d+\.\d{6}) (.+) s(\d+) (no-leap|add-leap|del-leap|unsync)( \[excess\])?$`)

// TestQueryLine: the line's fields and the offset of a clock 2.5 s behind the server.
func TestQueryLine(t *testing.T) {
	t.Setenv("TZ", "UTC")
	s := startServer(t, nil)
	clk := &virtualClock{offset: -2500 * time.Millisecond}
	kod := filepath.Join(t.TempDir(), "kod")
	out, errOut, code := runSntp(t, s, clk, "-K", kod, "127.0.0.1")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 || lines[0] != version || errOut != "" {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "kod_init_kod_db(): Cannot open KoD db file " + kod + ": No such file or directory"; lines[1] != want {
		t.Errorf("KoD line %q, want %q", lines[1], want)
	}
	m := resultLine.FindStringSubmatch(lines[2])
	if m == nil {
		t.Fatalf("result line %q does not match classic's format", lines[2])
	}
	off, _ := strconv.ParseFloat(m[3], 64)
	if math.Abs(off-2.5) > 0.05 || m[2] != "+0000" || m[5] != "127.0.0.1" || m[6] != "2" || m[7] != "no-leap" {
		t.Errorf("line %q: offset %v, want about +2.5; zone +0000, host 127.0.0.1, s2, no-leap", lines[2], off)
	}
	if _, err := os.Stat(kod); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing KoD file was created (classic never creates it): %v", err)
	}
	if len(clk.steps)+len(clk.slews) != 0 {
		t.Errorf("query mode touched the clock: steps %v slews %v", clk.steps, clk.slews)
	}
}

// TestStepSlewSteplimit: -S steps, -s slews, -S -s -M steps above the limit and slews below,
// on the virtual clock; a clock that refuses fails as classic's (exit 1, step-systime).
func TestStepSlewSteplimit(t *testing.T) {
	s := startServer(t, nil)
	for _, c := range []struct {
		args        []string
		step, slew  bool
		offset      time.Duration
		deny        bool
		wantCode    int
		wantMessage string
	}{
		{args: []string{"-S"}, step: true, offset: -300 * time.Millisecond},
		{args: []string{"-s"}, slew: true, offset: -300 * time.Millisecond},
		{args: []string{"-S", "-s", "-M", "100"}, step: true, offset: -300 * time.Millisecond},
		{args: []string{"-S", "-s", "-M", "500"}, slew: true, offset: -300 * time.Millisecond},
		{args: []string{"-Ss", "-M", "500"}, slew: true, offset: 300 * time.Millisecond},
		{args: []string{"-S"}, offset: time.Second, deny: true, wantCode: 1, wantMessage: "step-systime: Operation not permitted\n"},
		{args: []string{"-s"}, offset: time.Second, deny: true, wantCode: 1, wantMessage: "adj_systime: Operation not permitted\n"},
	} {
		clk := &virtualClock{offset: c.offset, deny: c.deny}
		out, errOut, code := runSntp(t, s, clk, append(append([]string{"-K", os.DevNull}, c.args...), "127.0.0.1")...)
		if code != c.wantCode || errOut != c.wantMessage {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q\n%s", c.args, code, errOut, c.wantCode, c.wantMessage, out)
			continue
		}
		var got []time.Duration
		switch {
		case c.step:
			got = clk.steps
		case c.slew:
			got = clk.slews
		}
		if (c.step || c.slew) && (len(got) != 1 || (got[0]+c.offset).Abs() > 50*time.Millisecond) || len(clk.steps)+len(clk.slews) != len(got) {
			t.Errorf("%v from %v: steps %v, slews %v", c.args, c.offset, clk.steps, clk.slews)
		}
	}
}

// TestKoD: a DENY kiss is reported and recorded in an existing KoD file in classic's format;
// the next run skips the server ("prior KoD") and, with -S, exits 1.
func TestKoD(t *testing.T) {
	s := startServer(t, func(s *server) { s.kiss = "DENY" })
	kod := filepath.Join(t.TempDir(), "kod")
	if err := os.WriteFile(kod, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	clk := &virtualClock{}
	out, _, code := runSntp(t, s, clk, "-K", kod, "127.0.0.1")
	if code != 0 || !strings.Contains(out, "KOD code DENY from 127.0.0.1 127.0.0.1\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	data, _ := os.ReadFile(kod)
	if !regexp.MustCompile(`^[0-9a-f]{16} DENY 127\.0\.0\.1\n$`).Match(data) {
		t.Fatalf("KoD file %q is not classic's format", data)
	}
	before := s.requests()
	out, _, code = runSntp(t, s, clk, "-K", kod, "-S", "127.0.0.1")
	if code != 1 || out != version+"\nprior KoD for 127.0.0.1, skipping.\n" || s.requests() != before {
		t.Errorf("second run: exit %d, %d requests sent, stdout:\n%s", code, s.requests()-before, out)
	}
	if len(clk.steps) != 0 {
		t.Errorf("stepped after a kiss: %v", clk.steps)
	}
}

// TestAuthentication: -a/-k sign the request with the key's MD5 MAC; a reply whose MAC does
// not verify is dropped (no line), as classic's.
func TestAuthentication(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keyFile, []byte("7 MD5 sesame\n8 MD5 other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := startServer(t, func(s *server) { s.keyID, s.key = 7, "sesame" })
	out, errOut, code := runSntp(t, good, &virtualClock{}, "-K", os.DevNull, "-k", keyFile, "-a", "7", "-t", "1", "127.0.0.1")
	if code != 0 || !resultLine.MatchString(strings.Split(out, "\n")[1]) {
		t.Errorf("good MAC: exit %d\n%s%s", code, out, errOut)
	}
	bad := startServer(t, func(s *server) { s.keyID, s.key = 8, "wrong" })
	out, _, code = runSntp(t, bad, &virtualClock{}, "-K", os.DevNull, "-k", keyFile, "-a", "7", "-t", "1", "127.0.0.1")
	if code != 0 || out != version+"\n" {
		t.Errorf("bad MAC: exit %d, want 0 and no result line:\n%s", code, out)
	}
	_, errOut, code = runSntp(t, good, &virtualClock{}, "-K", os.DevNull, "-k", keyFile, "-a", "9", "127.0.0.1")
	if code != 1 || errOut != "sntp: Authentication with keyID 9 requested, but no matching keyID found in <"+keyFile+">!\n" {
		t.Errorf("unknown key: exit %d, stderr %q", code, errOut)
	}
}

// TestTimeout: no answer within -t seconds gives classic's message and exit 0 (1 with -s).
func TestTimeout(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := &server{conn: c} // reads nothing, answers nothing
	out, _, code := runSntp(t, s, &virtualClock{}, "-K", os.DevNull, "-t", "1", "-s", "127.0.0.1")
	if code != 1 || out != version+"\n127.0.0.1 no UCST response after 1 seconds\n" {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestCommandLine: classic's messages for a missing host, a bad range and a refused -b.
func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{nil, 64, version + "\nsntp: Must supply at least one of -b hostname, -c hostname, or hostname.\n", ""},
		{[]string{"-o", "8", "x"}, 1, "", "sntp error:  ntpversion option value 8 is out of range.\nit must be in the range:\n\t0 to 7\n" + usageTail()},
		{[]string{"-4", "-6", "x"}, 1, "", "sntp error:  the 'ipv4' and 'ipv6' options conflict\n" + usageTail()},
		{[]string{"--version"}, 0, version + "\n", ""},
	} {
		var o, e bytes.Buffer
		code := runArgs(append([]string{"sntp"}, c.args...), &o, &e, config{clock: &virtualClock{}, progname: "sntp", serverPort: 1})
		if code != c.code || o.String() != c.out || e.String() != c.err {
			t.Errorf("sntp %v: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, o.String(), e.String(), c.code, c.out, c.err)
		}
	}
}

// TestBroadcastListen: -b takes the time from a mode-5 packet (here sent to the loopback
// address on a test port) as t3 - t4, and with -S steps the clock by it; without a
// broadcast it gives up after -t seconds with classic's words.
func TestBroadcastListen(t *testing.T) {
	t.Setenv("TZ", "UTC")
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }() // before other tests change time.Local
	go func() {
		defer close(stopped)
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return
		}
		defer c.Close()
		for {
			// Stratum 2, 3 s ahead of the client's (virtual) clock.
			p := wire.Packet{Version: 4, Mode: wire.ModeBroadcast, Stratum: 2, Poll: 6, Precision: -20,
				Xmt: ntptime.FromTime(time.Now().Add(3 * time.Second))}
			buf := make([]byte, wire.HeaderLen)
			p.Encode(buf)
			_, _ = c.Write(buf)
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	clk := &virtualClock{}
	var o, e bytes.Buffer
	code := runArgs([]string{"sntp", "-S", "-b", "127.255.255.255", "-t", "3"}, &o, &e, config{clock: clk, progname: "sntp", serverPort: port})
	lines := strings.Split(strings.TrimSpace(o.String()), "\n")
	m := resultLine.FindStringSubmatch(lines[len(lines)-1])
	if code != 0 || m == nil || m[5] != "127.0.0.1" || m[6] != "2" || e.String() != "" {
		t.Fatalf("sntp -S -b: exit %d, stdout %q, stderr %q", code, o.String(), e.String())
	}
	if off, _ := strconv.ParseFloat(m[3], 64); off < 2.9 || off > 3.1 {
		t.Errorf("offset %v, want 3 s", off)
	}
	if len(clk.steps) != 1 || clk.steps[0] < 2900*time.Millisecond || clk.steps[0] > 3100*time.Millisecond {
		t.Errorf("steps %v, want one of 3 s", clk.steps)
	}

	o.Reset()
	e.Reset()
	code = runArgs([]string{"sntp", "-b", "127.255.255.255", "-t", "1"}, &o, &e, config{clock: &virtualClock{}, progname: "sntp", serverPort: port + 1})
	if code != 0 || !strings.HasSuffix(o.String(), "127.255.255.255 no BCST response after 1 seconds\n") {
		t.Errorf("no broadcast: exit %d, stdout %q, stderr %q", code, o.String(), e.String())
	}
}

// TestTvToStr: classic's zone field is the minutes to add to get to UTC.
func TestTvToStr(t *testing.T) {
	at := time.Date(2026, 12, 6, 13, 50, 0, 123456789, time.UTC)
	for tz, want := range map[string]string{
		"UTC":                "2026-12-06 13:50:00.123456 (+0000)",
		"America/New_York":   "2026-12-06 08:50:00.123456 (+0500)",
		"Asia/Kolkata":       "2026-12-06 19:20:00.123456 (-0530)",
		"America/St_Johns":   "2026-12-06 10:20:00.123456 (+0330)",
		"Australia/Adelaide": "2026-12-07 00:20:00.123456 (-1030)",
	} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Skipf("no zone data: %v", err)
		}
		saved := time.Local
		time.Local = loc
		got := tvToStr(at)
		time.Local = saved
		if got != want {
			t.Errorf("%s: %q, want %q", tz, got, want)
		}
	}
}

// TestKoDFileGarbage: a KoD file that is not classic's format is reported as classic reports
// it and ignored (the server is queried); a good one is rewritten unchanged.
func TestKoDFileGarbage(t *testing.T) {
	s := startServer(t, nil)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runSntp(t, s, &virtualClock{}, "-K", bad, "127.0.0.1")
	if code != 0 || !strings.Contains(out, "Syntax error in KoD db file "+bad+" in line 1 (missing space)\n") ||
		!resultLine.MatchString(strings.Split(strings.TrimSpace(out), "\n")[2]) {
		t.Errorf("exit %d:\n%s", code, out)
	}
	notHex := filepath.Join(dir, "nothex")
	if err := os.WriteFile(notHex, []byte("zz DENY 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runSntp(t, s, &virtualClock{}, "-K", notHex, "127.0.0.1")
	if !strings.Contains(out, "An error occured while parsing the KoD db file "+notHex+"\n") {
		t.Errorf("non-hex time stamp:\n%s", out)
	}
	good := filepath.Join(dir, "good")
	content := "0000000069000000 DENY 192.0.2.1\n0000000069000001 RSTR 192.0.2.2\n"
	if err := os.WriteFile(good, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, _ = runSntp(t, s, &virtualClock{}, "-K", good, "127.0.0.1"); !resultLine.MatchString(strings.Split(strings.TrimSpace(out), "\n")[1]) {
		t.Errorf("good KoD file, other server:\n%s", out)
	}
	if b, _ := os.ReadFile(good); string(b) != content {
		t.Errorf("KoD file rewritten as %q, want %q", b, content)
	}
}

// TestLogFile: -l appends every message to the file in msyslog's format as well.
func TestLogFile(t *testing.T) {
	s := startServer(t, nil)
	log := filepath.Join(t.TempDir(), "sntp.log")
	if _, _, code := runSntp(t, s, &virtualClock{}, "-K", os.DevNull, "-l", log, "127.0.0.1"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	re := regexp.MustCompile(`^[ 0-9]\d [A-Z][a-z]{2} \d\d:\d\d:\d\d sntp\[1\]: `)
	if len(lines) != 2 || !re.MatchString(lines[0]) || !strings.HasSuffix(lines[0], version) || !strings.Contains(lines[1], " 127.0.0.1 s2 no-leap") {
		t.Errorf("log file:\n%s", b)
	}
}

// TestDuplicateAddress: the same address twice is queried once, with classic's message.
func TestDuplicateAddress(t *testing.T) {
	s := startServer(t, nil)
	out, _, code := runSntp(t, s, &virtualClock{}, "-K", os.DevNull, "127.0.0.1", "127.0.0.1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := fmt.Sprintf("127.0.0.1:%d 127.0.0.1, duplicate address ignored.", s.port())
	if code != 0 || len(lines) != 3 || lines[1] != want || !resultLine.MatchString(lines[2]) || s.requests() != 1 {
		t.Errorf("exit %d, %d requests:\n%s", code, s.requests(), out)
	}
}
