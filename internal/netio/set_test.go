// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lines is a slog.Handler that keeps the messages, as the daemon's classic-format log does.
type lines struct {
	mu  sync.Mutex
	msg []string
}

func (l *lines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msg = append(l.msg, r.Message)
	return nil
}
func (l *lines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lines) WithGroup(string) slog.Handler      { return l }
func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msg)
}

// missing skips, or fails under CI=true where the environment must provide what is missing.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (required when CI=true)")
	}
	t.Skip(msg)
}

// freePort returns a UDP port that is free on 127.0.0.0/8 and ::1 at the moment.
func freePort(t testing.TB) uint16 {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
		c.Close()
		c6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback, Port: int(port)})
		if err == nil {
			c6.Close()
			return port
		}
		if !strings.Contains(err.Error(), "in use") {
			return port // no IPv6; the IPv6 tests skip
		}
	}
	t.Fatal("no free UDP port found")
	return 0
}

func hasIPv6Loopback() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func loAddr(s string) Address {
	return Address{Name: "lo", Index: 1, Addr: netip.MustParseAddr(s), Flags: FlagUp | FlagLoopback}
}

// fixedList is an Enumerate function whose answer the test changes.
type fixedList struct {
	mu    sync.Mutex
	addrs []Address
}

func (f *fixedList) set(a ...Address) { f.mu.Lock(); f.addrs = a; f.mu.Unlock() }
func (f *fixedList) list() ([]Address, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addrs), nil
}

func mustRules(t testing.TB, lines ...string) []Rule {
	t.Helper()
	var rules []Rule
	for _, l := range lines {
		act, target, _ := strings.Cut(l, " ")
		r, err := ParseRule(act, target)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	return rules
}

func openSet(t testing.TB, cfg Config) *Set {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func socketAt(t testing.TB, s *Set, addr string) *Socket {
	t.Helper()
	for _, sock := range s.Sockets() {
		if sock.Local.Addr().String() == addr {
			return sock
		}
	}
	t.Fatalf("no socket for %s", addr)
	return nil
}

// TestKernelLoopback opens the host's real addresses with "ignore wildcard" and "ignore all",
// which leaves lo (classic: loopback listens unless a rule names it), and checks classic's
// log lines and numbering.
func TestKernelLoopback(t *testing.T) {
	port := freePort(t)
	log := &lines{}
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard", "ignore all"), DSCP: DefaultDSCP, Logger: slog.New(log)})
	want := []string{fmt.Sprintf("Listen normally on 0 lo 127.0.0.1:%d", port)}
	if hasIPv6Loopback() {
		want = append(want, fmt.Sprintf("Listen normally on 1 lo [::1]:%d", port))
	}
	if diff := slices.Compare(log.all(), want); diff != 0 {
		t.Errorf("log lines:\n%q\nwant\n%q", log.all(), want)
	}
	if got := s.Sockets()[0].Flags; got != FlagUp|FlagLoopback {
		t.Errorf("lo flags %#x, want 0x5 as classic", got)
	}
}

// roundTrip sends one request from a client socket to dst, where s serves an echo handler
// stamping bytes 40..47, and returns the reply and where it came from.
func roundTrip(t *testing.T, network string, dst netip.AddrPort) ([]byte, netip.AddrPort) {
	t.Helper()
	// Unconnected, so that a reply from any address is received and reported.
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if network == "udp6" {
		local = &net.UDPAddr{IP: net.IPv6loopback}
	}
	c, err := net.ListenUDP(network, local)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.WriteToUDPAddrPort(make([]byte, 48), dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

type seen struct {
	mu  sync.Mutex
	pkt []Packet
}

func (s *seen) handler(stampWith func() time.Time) Handler {
	return func(p *Packet) {
		s.mu.Lock()
		cp := *p
		cp.Data = slices.Clone(p.Data)
		s.pkt = append(s.pkt, cp)
		s.mu.Unlock()
		p.Socket.SendTo(p.Data, p.Source, func(b []byte, now time.Time) {
			binary.BigEndian.PutUint64(b[40:], uint64(now.UnixNano()))
		})
	}
}

func (s *seen) last(t *testing.T) Packet {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pkt) == 0 {
		t.Fatal("handler saw no packet")
	}
	return s.pkt[len(s.pkt)-1]
}

// TestLoopbackIPv4: requests to 127.0.0.1 and 127.0.0.2 get kernel receive timestamps and
// their replies come back from the address they were sent to (one socket per address; a
// single wildcard socket would answer from 127.0.0.1 both times).
func TestLoopbackIPv4(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list})
	var got seen
	if err := s.Serve(got.handler(time.Now)); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1", "127.0.0.2"} {
		dst := netip.AddrPortFrom(netip.MustParseAddr(addr), port)
		before := time.Now()
		reply, from := roundTrip(t, "udp4", dst)
		after := time.Now()
		if from != dst {
			t.Errorf("reply to %s came from %s", dst, from)
		}
		p := got.last(t)
		if !p.Kernel {
			t.Errorf("%s: no kernel receive timestamp", addr)
		}
		// A sanity bound on the kernel clock reading, not a performance assertion.
		if p.RxTime.Before(before.Add(-50*time.Millisecond)) || p.RxTime.After(after.Add(50*time.Millisecond)) {
			t.Errorf("%s: RxTime %v outside [%v, %v]", addr, p.RxTime, before, after)
		}
		if p.Socket.Local != dst {
			t.Errorf("packet delivered with socket %s, want %s", p.Socket.Local, dst)
		}
		if tx := int64(binary.BigEndian.Uint64(reply[40:])); tx < before.UnixNano() || tx > after.UnixNano() {
			t.Errorf("%s: transmit hook stamped %d, outside the exchange", addr, tx)
		}
	}
	// The server counts a reply after sendto returns, which can be after the client has it.
	st := socketAt(t, s, "127.0.0.2").Stats()
	for deadline := time.Now().Add(time.Second); st.Sent == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		st = socketAt(t, s, "127.0.0.2").Stats()
	}
	if st.Received != 1 || st.Sent != 1 || st.TimestampFallbacks != 0 {
		t.Errorf("127.0.0.2 stats %+v, want 1 received, 1 sent, no fallback", st)
	}
}

func TestLoopbackIPv6(t *testing.T) {
	if !hasIPv6Loopback() {
		missing(t, "no IPv6 on the loopback interface")
	}
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("::1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: DefaultDSCP, Enumerate: list.list})
	var got seen
	if err := s.Serve(got.handler(time.Now)); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(netip.IPv6Loopback(), port)
	before := time.Now()
	_, from := roundTrip(t, "udp6", dst)
	after := time.Now()
	if from != dst {
		t.Errorf("reply to %s came from %s", dst, from)
	}
	p := got.last(t)
	if !p.Kernel || p.RxTime.Before(before.Add(-50*time.Millisecond)) || p.RxTime.After(after.Add(50*time.Millisecond)) {
		t.Errorf("RxTime %v (kernel %v) outside [%v, %v]", p.RxTime, p.Kernel, before, after)
	}
	if !p.Source.Addr().Is6() || p.Socket.Local != dst {
		t.Errorf("source %s, socket %s", p.Source, p.Socket.Local)
	}
	if err := p.Socket.SendTo(make([]byte, 48), netip.MustParseAddrPort("127.0.0.1:9"), nil); err == nil {
		t.Error("IPv6 socket sent to an IPv4 destination")
	}
}

// TestWildcard: the wildcard sockets bind first, the per-address sockets beside them, and a
// datagram for a local address without its own socket lands on the v4 wildcard and is
// dropped and counted (classic's "Listen and drop on 1 v4wildcard 0.0.0.0:123").
func TestWildcard(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	log := &lines{}
	s := openSet(t, Config{Port: port, DSCP: -1, Enumerate: list.list, Logger: slog.New(log)})
	var calls atomic.Int64
	if err := s.Serve(func(p *Packet) { calls.Add(1) }); err != nil {
		t.Fatal(err)
	}
	var want []string
	if hasIPv6Loopback() {
		want = append(want, fmt.Sprintf("Listen and drop on 0 v6wildcard [::]:%d", port))
	}
	n := len(want)
	want = append(want, fmt.Sprintf("Listen and drop on %d v4wildcard 0.0.0.0:%d", n, port),
		fmt.Sprintf("Listen normally on %d lo 127.0.0.1:%d", n+1, port))
	if !slices.Equal(log.all(), want) {
		t.Errorf("log lines:\n%q\nwant\n%q", log.all(), want)
	}
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: int(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wild := socketAt(t, s, "0.0.0.0")
	for deadline := time.Now().Add(5 * time.Second); wild.Stats().Dropped == 0; {
		if time.Now().After(deadline) {
			t.Fatal("datagram to 127.0.0.9 was not dropped by the wildcard socket")
		}
		c.Write(make([]byte, 48))
		time.Sleep(10 * time.Millisecond)
	}
	if calls.Load() != 0 {
		t.Errorf("handler called %d times for a dropped datagram", calls.Load())
	}
}

// TestWildcardBusy: when anything holds the port, Open fails and says why.
func TestWildcardBusy(t *testing.T) {
	port := freePort(t)
	hold, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s, err := Open(Config{Port: port, DSCP: -1, Enumerate: list.list, Now: time.Now})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with the port held")
	}
	for _, w := range []string{"wildcard address 0.0.0.0", fmt.Sprint(port), "another process"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// TestBindFailure: one address that cannot be bound is logged, skipped and its number used
// up, as classic ("bind(16) AF_INET 127.0.0.1#123 flags 0x5 failed: Address already in use",
// then "Listen normally on 1 ...").
func TestBindFailure(t *testing.T) {
	port := freePort(t)
	hold, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	log := &lines{}
	openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, Logger: slog.New(log)})
	want := []string{
		fmt.Sprintf("bind to 127.0.0.1 port %d on lo (#0, flags 0x5) failed: address already in use - another NTP daemon may be running; not listening there", port),
		fmt.Sprintf("Listen normally on 1 lo 127.0.0.2:%d", port),
	}
	if !slices.Equal(log.all(), want) {
		t.Errorf("log lines:\n%q\nwant\n%q", log.all(), want)
	}
}

// TestRescan: new addresses get the next numbers and a reader; vanished ones are closed
// with classic's "Deleting interface" line carrying their counters and uptime.
func TestRescan(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	log := &lines{}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, Logger: slog.New(log), Now: now})
	var got seen
	if err := s.Serve(got.handler(now)); err != nil {
		t.Fatal(err)
	}

	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.3"))
	res, err := s.Rescan()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || res.Added[0].Index != 1 || len(res.Removed) != 0 {
		t.Fatalf("rescan result %+v", res)
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), port)
	if _, from := roundTrip(t, "udp4", dst); from != dst {
		t.Errorf("reply from %s, want %s", from, dst)
	}
	// The reply is counted after sendto returns, which can be after the client has it.
	for deadline := time.Now().Add(time.Second); res.Added[0].Stats().Sent == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	clockMu.Lock()
	clock = clock.Add(7500 * time.Millisecond)
	clockMu.Unlock()
	list.set(loAddr("127.0.0.1"))
	res, err = s.Rescan()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Local != dst || len(res.Added) != 0 {
		t.Fatalf("rescan result %+v", res)
	}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.3"))
	if _, err := s.Rescan(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("Listen normally on 0 lo 127.0.0.1:%d", port),
		fmt.Sprintf("Listen normally on 1 lo 127.0.0.3:%d", port),
		fmt.Sprintf("Deleting interface #1 lo, 127.0.0.3#%d, interface stats: received=1, sent=1, dropped=0, active_time=7 secs", port),
		fmt.Sprintf("Listen normally on 2 lo 127.0.0.3:%d", port),
	}
	if !slices.Equal(log.all(), want) {
		t.Errorf("log lines:\n%q\nwant\n%q", log.all(), want)
	}
}

// TestDropRule: "interface drop ADDR" opens the address but hands nothing on.
func TestDropRule(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	log := &lines{}
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard", "drop 127.0.0.2"), DSCP: -1, Enumerate: list.list, Logger: slog.New(log)})
	if l := log.all(); len(l) != 2 || l[1] != fmt.Sprintf("Listen and drop on 1 lo 127.0.0.2:%d", port) {
		t.Errorf("log lines %q", l)
	}
	var calls atomic.Int64
	if err := s.Serve(func(*Packet) { calls.Add(1) }); err != nil {
		t.Fatal(err)
	}
	from := socketAt(t, s, "127.0.0.1")
	drop := socketAt(t, s, "127.0.0.2")
	for deadline := time.Now().Add(5 * time.Second); drop.Stats().Dropped == 0; {
		if time.Now().After(deadline) {
			t.Fatal("nothing dropped")
		}
		if err := from.SendTo(make([]byte, 48), drop.Local, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if calls.Load() != 0 || drop.Stats().Received != 0 {
		t.Errorf("dropped datagram handed on: calls %d, stats %+v", calls.Load(), drop.Stats())
	}
}

func TestSocketFor(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list})
	sock, err := s.SocketFor(netip.MustParseAddrPort("127.0.0.1:123"))
	if err != nil || sock.Local.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("SocketFor(127.0.0.1) = %v, %v", sock, err)
	}
	if _, err := s.SocketFor(netip.MustParseAddrPort("[::1]:123")); err == nil {
		t.Error("SocketFor(::1) found a socket although no IPv6 socket is open")
	}
}

// TestReceiveNoAlloc: reading an already-queued datagram (and sending it) allocates nothing.
func TestReceiveNoAlloc(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	// ReadPacket reads one socket: one per address, not a SO_REUSEPORT group.
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 1})
	a, b := socketAt(t, s, "127.0.0.1"), socketAt(t, s, "127.0.0.2")
	buf := make([]byte, MaxPacket)
	msg := make([]byte, 48)
	var p Packet
	hook := TxHook(func(b []byte, now time.Time) { binary.BigEndian.PutUint64(b[40:], uint64(now.UnixNano())) })
	var fail error
	allocs := testing.AllocsPerRun(200, func() {
		if err := a.SendTo(msg, b.Local, hook); err != nil {
			fail = err
			return
		}
		if err := b.ReadPacket(&p, buf); err != nil {
			fail = err
		}
	})
	if fail != nil {
		t.Fatal(fail)
	}
	if allocs != 0 {
		t.Errorf("send + receive allocated %.1f times per datagram, want 0", allocs)
	}
	if !p.Kernel || p.Source != a.Local {
		t.Errorf("last packet: kernel %v, source %s", p.Kernel, p.Source)
	}
}

// TestRxTimestampParse walks hand-made control data: another message first, then
// SCM_TIMESTAMPNS; and malformed lengths.
func TestRxTimestampParse(t *testing.T) {
	hdr := cmsgAlign(unix.SizeofCmsghdr)
	put := func(b []byte, level, typ int32, data []byte) int {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(hdr + len(data))
		copy(b[hdr:], data)
		return cmsgAlign(hdr + len(data))
	}
	oob := make([]byte, 128)
	n := put(oob, unix.IPPROTO_IP, unix.IP_TTL, []byte{64, 0, 0, 0})
	ts := unix.NsecToTimespec(1700000000_123456789)
	tsb := unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
	n += put(oob[n:], unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, tsb)
	got, ok := rxTimestamp(oob[:n])
	if !ok || got.UnixNano() != 1700000000_123456789 {
		t.Errorf("rxTimestamp = %v, %v", got, ok)
	}
	if _, ok := rxTimestamp(oob[:n-1]); ok {
		t.Error("truncated control data accepted")
	}
	bad := make([]byte, 64)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(1000)
	if _, ok := rxTimestamp(bad); ok {
		t.Error("oversized cmsg length accepted")
	}
	if _, ok := rxTimestamp(nil); ok {
		t.Error("empty control data gave a timestamp")
	}
}

func TestOpenNeedsClock(t *testing.T) {
	if _, err := Open(Config{Port: 1}); err == nil || !strings.Contains(err.Error(), "Now") {
		t.Errorf("Open without a time source: %v", err)
	}
}

// BenchmarkRoundTrip measures one request received with its kernel timestamp and answered
// from the same socket, over loopback.
func BenchmarkRoundTrip(b *testing.B) {
	port := freePort(b)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	s := openSet(b, Config{Port: port, Rules: mustRules(b, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 1})
	client, server := socketAt(b, s, "127.0.0.1"), socketAt(b, s, "127.0.0.2")
	cbuf, sbuf := make([]byte, MaxPacket), make([]byte, MaxPacket)
	msg := make([]byte, 48)
	hook := TxHook(func(b []byte, now time.Time) { binary.BigEndian.PutUint64(b[40:], uint64(now.UnixNano())) })
	var cp, sp Packet
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := client.SendTo(msg, server.Local, nil); err != nil {
			b.Fatal(err)
		}
		if err := server.ReadPacket(&sp, sbuf); err != nil {
			b.Fatal(err)
		}
		if err := server.SendTo(sp.Data, sp.Source, hook); err != nil {
			b.Fatal(err)
		}
		if err := client.ReadPacket(&cp, cbuf); err != nil {
			b.Fatal(err)
		}
	}
}
