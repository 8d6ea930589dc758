// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gontp/internal/keys"
	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Clock is what sntp needs of the system clock: clock/adjtimex.Clock in the program, a
// virtual clock in the tests. Step sets the clock to Now()+d (settimeofday); Slew starts a
// one-time gradual correction of d (adjtime).
type Clock interface {
	Now() time.Time
	Step(d time.Duration) error
	Slew(d time.Duration) error
}

// Resolver looks up host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// config is everything a run needs besides its options.
type config struct {
	clock    Clock
	resolver Resolver
	stdout   io.Writer
	stderr   io.Writer
	progname string
	pid      int
	// serverPort is a test knob, deliberately not an option: the servers' port (0: 123).
	serverPort int
}

// Exit statuses, as classic's: 0, 1 when -s/-S could not set the clock (or a fatal error),
// and EX_USAGE without a host.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

// version is the line sntp logs first, as classic logs its own version string.
const version = "sntp 4.2.8p15 (gontp)"

// Results of checking a reply (classic's process_pkt), besides a good packet.
type verdict int

const (
	good verdict = iota
	serverUnusable
	packetUnusable
	authFail
	kodDemobilize
	kodRate
)

// query is one server address sntp sends a request to (classic's sent_pkt).
type query struct {
	name  string // as given on the command line
	addr  netip.AddrPort
	conn  *net.UDPConn
	sched int64  // Unix second at which to send
	sent  []byte // the request's 48-octet header, for the origin check
	stime int64  // Unix second of the send; 0 until sent
	done  bool
	bcast bool // a broadcast heard with -b: mode 5, no origin timestamp to check
}

type rx struct {
	from netip.AddrPort
	data []byte
	at   time.Time
}

type run struct {
	o   *options
	cfg config
	log io.Writer // -l: the log file, or nil

	keys    *keys.Set
	kod     *kodDB
	conn4   *net.UDPConn
	conn6   *net.UDPConn
	queries []*query
	xmtQ    []*query // not yet sent, by sched

	pendingNTP int
	derived    bool
	adjusted   bool
	shutdown   bool
	start      time.Time
	packets    chan rx
}

// info is classic's msyslog at LOG_INFO/LOG_NOTICE/LOG_WARNING (and LOG_DEBUG): standard
// output, and the log file with -l.
func (r *run) info(msg string) {
	fmt.Fprintln(r.cfg.stdout, msg)
	r.toFile(msg)
}

// errorf is msyslog at LOG_ERR: standard error, and the log file with -l.
func (r *run) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(r.cfg.stderr, msg)
	r.toFile(msg)
}

// toFile writes msyslog's file format, "6 Dec 14:04:44 sntp[1234]: msg".
func (r *run) toFile(msg string) {
	if r.log == nil {
		return
	}
	t := r.cfg.clock.Now().Local()
	fmt.Fprintf(r.log, "%2d %s %s %s[%d]: %s\n", t.Day(), t.Format("Jan"), t.Format("15:04:05"), r.cfg.progname, r.cfg.pid, msg)
}

func (r *run) printf(format string, args ...any) { fmt.Fprintf(r.cfg.stdout, format, args...) }

// sntp does one classic sntp run and returns the exit status.
func sntp(o *options, cfg config) int {
	if cfg.serverPort == 0 {
		cfg.serverPort = 123
	}
	r := &run{o: o, cfg: cfg, packets: make(chan rx, 64)}
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(cfg.stderr, "%s: cannot open log file %s: %s\n", cfg.progname, o.logFile, strerror(err))
			return exitFail
		}
		defer f.Close()
		r.log = f
	}
	r.info(version)
	if len(o.hosts) == 0 && len(o.broadcasts) == 0 {
		r.printf("%s: Must supply at least one of -b hostname, -c hostname, or hostname.\n", cfg.progname)
		return exitUsage
	}
	r.kod = openKoD(o.kodFile, r.info)
	defer r.kod.close(r.info)
	r.keys = loadKeys(o.keyFile, cfg.stderr, cfg.progname)
	if code, ok := r.openSockets(); !ok {
		return code
	}
	defer r.closeSockets()
	r.start = r.cfg.clock.Now()
	if o.auth && !r.keys.Trusted(o.keyID) && len(o.broadcasts) > 0 {
		fmt.Fprintf(cfg.stderr, "%s: Authentication with keyID %d requested, but no matching keyID found in <%s>!\n",
			cfg.progname, o.keyID, o.keyFile)
		return exitFail
	}
	for _, b := range o.broadcasts {
		r.broadcast(b)
	}
	if len(o.hosts) == 0 {
		if !r.adjusted && (o.step || o.slew) {
			return exitFail
		}
		return exitOK
	}
	for _, h := range o.hosts {
		if o.auth && !r.keys.Trusted(o.keyID) {
			fmt.Fprintf(cfg.stderr, "%s: Authentication with keyID %d requested, but no matching keyID found in <%s>!\n",
				cfg.progname, o.keyID, o.keyFile)
			return exitFail
		}
		r.lookup(h)
	}
	r.checkExit()
	r.loop()
	if !r.adjusted && (o.step || o.slew) {
		return exitFail
	}
	return exitOK
}

// loadKeys reads the key file as classic's sntp (crypto.c auth_init) does: silently nothing
// when it cannot be read. Every key in it may verify a reply, so all are trusted.
func loadKeys(path string, stderr io.Writer, progname string) *keys.Set {
	f, err := os.Open(path)
	if err != nil {
		s, _ := keys.Parse(path, strings.NewReader(""))
		return s
	}
	defer f.Close()
	s, errs := keys.Parse(path, f)
	for _, e := range errs {
		fmt.Fprintf(stderr, "%s: %v\n", progname, e)
	}
	for id := uint32(1); id <= 65535; id++ {
		s.Trust(id) // Trusted still requires the key to exist
	}
	return s
}

// openSockets opens one IPv4 and, where IPv6 works, one IPv6 socket on the wildcard address,
// port 123 with -r or any port without; a bind failure is fatal as in classic.
func (r *run) openSockets() (int, bool) {
	port := 0
	if r.o.reserved {
		port = 123
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: port})
	if err != nil {
		r.errorf("open_sockets: bind(sock4) failed: %s", strerror(err))
		return exitFail, false
	}
	r.conn4 = c
	go r.reader(c)
	if ipv6Works() {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: port})
		if err != nil {
			r.errorf("open_sockets: bind(sock6) failed: %s", strerror(err))
			return exitFail, false
		}
		r.conn6 = c
		go r.reader(c)
	}
	return 0, true
}

// ipv6Works is libisc's isc_net_probeipv6: can an IPv6 UDP socket be made?
func ipv6Works() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (r *run) closeSockets() {
	for _, c := range []*net.UDPConn{r.conn4, r.conn6} {
		if c != nil {
			c.Close()
		}
	}
}

func (r *run) reader(c *net.UDPConn) {
	for {
		buf := make([]byte, 2048)
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		at := r.cfg.clock.Now()
		select {
		case r.packets <- rx{from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), data: buf[:n], at: at}:
		default: // the run is over or flooded: classic's socket buffer would drop it too
		}
	}
}

// lookup resolves one host (classic's handle_lookup and sntp_name_resolved): each address
// without a KoD on file is queued, the second and later of each family two seconds apart.
func (r *run) lookup(h host) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(h.name); err == nil {
		addrs = []netip.Addr{a.Unmap()}
		if (r.o.family == "ip4" && !a.Unmap().Is4()) || (r.o.family == "ip6" && a.Unmap().Is4()) {
			fmt.Fprintf(r.cfg.stderr, "%s lookup error %s\n", h.name, "Address family for hostname not supported")
			return
		}
	} else {
		network := r.o.family
		if r.conn6 == nil {
			network = "ip4"
		}
		list, err := r.cfg.resolver.LookupNetIP(context.Background(), network, h.name)
		if err != nil {
			fmt.Fprintf(r.cfg.stderr, "%s lookup error %s\n", h.name, gaiError(err))
			return
		}
		for _, a := range list {
			addrs = append(addrs, a.Unmap())
		}
	}
	delay4, delay6 := int64(0), int64(0)
	for _, a := range addrs {
		if r.kod.search(a.String()) {
			r.printf("prior KoD for %s, skipping.\n", a.String())
			continue
		}
		q := &query{name: h.name, addr: netip.AddrPortFrom(a, uint16(r.cfg.serverPort))}
		var d int64
		if a.Is4() {
			q.conn, d = r.conn4, delay4
			delay4++
		} else {
			if r.conn6 == nil {
				continue
			}
			q.conn, d = r.conn6, delay6
			delay6++
		}
		r.pendingNTP++
		r.queue(q, d)
	}
}

// queue adds a query, refusing an address already queued (classic's queue_xmt).
func (r *run) queue(q *query, delay int64) {
	for _, m := range r.queries {
		if m.addr == q.addr {
			if !strings.EqualFold(q.name, m.name) {
				r.printf("%s %s duplicate address from %s ignored.\n", sptoa(m.addr), m.name, q.name)
			} else {
				r.printf("%s %s, duplicate address ignored.\n", sptoa(m.addr), m.name)
			}
			r.decPending()
			return
		}
	}
	r.queries = append(r.queries, q)
	q.sched = r.cfg.clock.Now().Unix() + 2*delay
	i := len(r.xmtQ)
	for i > 0 && r.xmtQ[i-1].sched > q.sched {
		i--
	}
	r.xmtQ = append(r.xmtQ, nil)
	copy(r.xmtQ[i+1:], r.xmtQ[i:])
	r.xmtQ[i] = q
}

func (r *run) decPending() {
	if r.pendingNTP > 0 {
		r.pendingNTP--
		r.checkExit()
	}
}

// checkExit is classic's check_exit_conditions: stop when nothing is pending, or once a time
// has been derived unless --wait (or, as in classic, --no-wait) was given.
func (r *run) checkExit() {
	if r.pendingNTP == 0 || (r.derived && !r.o.wait) {
		r.shutdown = true
	}
}

// wakeup is how often classic's event loop checks the timeouts without traffic.
const wakeup = 888888 * time.Microsecond

// loop is classic's event loop: sends as scheduled (the -g gap between sends due together),
// receives, and gives up on queries older than -t seconds, all in whole seconds as classic.
func (r *run) loop() {
	tick := time.NewTicker(wakeup)
	defer tick.Stop()
	xmt := time.NewTimer(0)
	defer xmt.Stop()
	for !r.shutdown {
		select {
		case <-xmt.C:
			now := r.cfg.clock.Now().Unix()
			if len(r.xmtQ) > 0 && r.xmtQ[0].sched <= now {
				q := r.xmtQ[0]
				r.xmtQ = r.xmtQ[1:]
				r.send(q)
			}
			if len(r.xmtQ) > 0 {
				if r.xmtQ[0].sched <= now {
					xmt.Reset(r.o.gap)
				} else {
					xmt.Reset(time.Duration(r.xmtQ[0].sched-now) * time.Second)
				}
			}
		case p := <-r.packets:
			r.receive(p)
			tick.Reset(wakeup)
		case <-tick.C:
			r.timeouts()
		}
	}
}

// send transmits one request (classic's xmt and generate_pkt): leap 3, the -o version, mode
// 3, poll 8, the transmit time, and with -a the key ID and MAC.
func (r *run) send(q *query) {
	now := r.cfg.clock.Now()
	p := wire.Packet{Leap: 3, Version: uint8(r.o.version), Mode: wire.ModeClient, Poll: 8, Xmt: ntptime.FromTime(now)}
	buf := make([]byte, wire.HeaderLen, wire.HeaderLen+4+20)
	p.Encode(buf)
	if r.o.version > 7 || r.o.version < 0 {
		buf[0] = 3<<6 | 4<<3 | wire.ModeClient
	}
	if r.o.auth {
		msg := append([]byte(nil), buf...)
		buf = binary.BigEndian.AppendUint32(buf, r.o.keyID)
		buf, _ = r.keys.Sign(buf, r.o.keyID, msg)
	}
	if _, err := q.conn.WriteToUDPAddrPort(buf, q.addr); err != nil {
		r.errorf("sendpkt: sendto(%s) failed: %s", sptoa(q.addr), strerror(err))
		r.decPending()
		return
	}
	q.sent = buf[:wire.HeaderLen]
	q.stime = now.Unix()
}

// timeouts is classic's timeout_queries: a query unanswered for more than -t whole seconds
// is given up ("no UCST response"), and the whole run ends -t seconds after it started.
func (r *run) timeouts() {
	now := r.cfg.clock.Now().Unix()
	for _, q := range r.queries {
		if q.stime == 0 || q.done {
			continue
		}
		if now-q.stime > int64(r.o.timeout) {
			q.done = true
			r.info(fmt.Sprintf("%s no UCST response after %d seconds", hostnameAddr(q.name, q.addr.Addr()), r.o.timeout))
			r.decPending()
		}
	}
	if now-r.start.Unix() > int64(r.o.timeout) {
		r.shutdown = true
	}
}

// receive handles one datagram (classic's sock_cb).
func (r *run) receive(p rx) {
	var q *query
	for _, x := range r.queries {
		if x.addr == p.from {
			q = x
			break
		}
	}
	if q == nil {
		r.info(fmt.Sprintf("Packet from unexpected source %s dropped", sptoa(p.from)))
		return
	}
	v, pkt := r.check(p.data, q)
	if !q.done {
		q.done = true
		r.decPending()
	}
	r.handle(v, pkt, p, q)
	r.checkExit()
}

// check is classic's process_pkt: the length and MAC, the version, the mode, a kiss, the
// leap indicator and the origin timestamp. Messages are classic's, prefixed "sock_cb".
func (r *run) check(b []byte, q *query) (verdict, *wire.Packet) {
	const fn = "sock_cb"
	if len(b) < wire.HeaderLen || len(b)%4 != 0 {
		r.errorf("%s: Incredible packet length: %d.  Discarding.", fn, len(b))
		return packetUnusable, nil
	}
	authentic := -1
	if r.o.auth {
		authentic = 0
	}
	// Skip extension fields as classic's skip_efields does, until at most a MAC is left.
	words := b[wire.HeaderLen:]
	for len(words)/4 > 6 {
		n := int(binary.BigEndian.Uint32(words) & 0xffff)
		words = words[4:]
		n = (n + 3) >> 2
		if n > len(words)/4 || n < 4 {
			r.errorf("%s: Missing extension field.  Discarding.", fn)
			return packetUnusable, nil
		}
		words = words[4*n:]
	}
	switch len(words) / 4 {
	case 0:
	case 1:
		r.printf("Crypto NAK = 0x%08x from %s\n", binary.BigEndian.Uint32(words), q.addr.Addr())
	case 3:
		r.errorf("%s: Key ID + 3DES MAC is unsupported.  Discarding.", fn)
		return packetUnusable, nil
	case 5, 6:
		id := binary.BigEndian.Uint32(words)
		if !r.keys.Trusted(id) {
			r.printf("unrecognized key ID = 0x%08x\n", id)
			break
		}
		if r.keys.Verify(id, b[:len(b)-len(words)], words[4:]) {
			authentic = 1
		} else {
			authentic = 0
		}
	default:
		r.errorf("%s: Unexpected extension length: %d.  Discarding.", fn, len(words)/4)
		return packetUnusable, nil
	}
	if authentic == 0 {
		return authFail, nil
	}
	vn := (b[0] >> 3) & 7
	if vn < 1 || vn > 4 {
		r.errorf("%s: Packet shows wrong version (%d)", fn, vn)
		return serverUnusable, nil
	}
	mode := b[0] & 7
	if mode != wire.ModeServer && mode != wire.ModeSymPassive && !(q.bcast && mode == wire.ModeBroadcast) {
		r.errorf("%s: mode %d stratum %d", fn, mode, b[1])
		return serverUnusable, nil
	}
	var p wire.Packet
	if err := wire.DecodeHeader(b, &p); err != nil {
		r.errorf("%s: %v", fn, err)
		return serverUnusable, nil
	}
	if p.Stratum == 0 && b[12] != 'X' {
		switch string(b[12:16]) {
		case "DENY", "RSTR":
			return kodDemobilize, &p
		case "RATE":
			return kodRate, &p
		}
	}
	if p.Leap == 3 {
		r.errorf("%s: %s not in sync, skipping this server", fn, q.addr.Addr())
		return serverUnusable, nil
	}
	if q.bcast {
		if p.Stratum == 0 || p.Stratum > 15 {
			r.errorf("%s: %s not in sync, skipping this server", fn, q.addr.Addr())
			return serverUnusable, nil
		}
		return good, &p
	}
	if q.sent == nil || string(b[24:32]) != string(q.sent[40:48]) {
		var sent ntptime.Time
		if q.sent != nil {
			sent = ntptime.Time(binary.BigEndian.Uint64(q.sent[40:48]))
		}
		r.errorf("%s response org expected to match sent xmt", q.addr.Addr())
		r.errorf("resp org: %s", ntptime.PrettyDate(p.Org, r.cfg.clock.Now(), time.Local))
		r.errorf("sent xmt: %s", ntptime.PrettyDate(sent, r.cfg.clock.Now(), time.Local))
		return packetUnusable, nil
	}
	return good, &p
}

// handle is classic's handle_pkt: record a DENY/RSTR kiss, or print the result line and set
// the clock once with -s/-S.
func (r *run) handle(v verdict, p *wire.Packet, in rx, q *query) {
	switch v {
	case kodDemobilize:
		var code [4]byte
		binary.BigEndian.PutUint32(code[:], p.RefID)
		addr := q.addr.Addr().String()
		r.kod.add(addr, string(code[:]), r.cfg.clock.Now())
		r.info(fmt.Sprintf("KOD code %s from %s %s", printable(code[:]), addr, q.name))
		return
	case good:
	default:
		return
	}
	dst := in.at.Truncate(time.Microsecond)
	offset, distance := offsetCalculation(p, dst)
	if q.bcast {
		offset, distance = broadcastOffset(p, dst)
	}
	r.derived = true
	digits := 0
	for prec := math.Ldexp(1, int(p.Precision)); ; digits++ {
		prec *= 10
		if prec >= 1 {
			break
		}
	}
	if digits > 6 {
		digits = 6
	}
	stratum := int(p.Stratum)
	if stratum == 0 {
		stratum = 16
	}
	disp := ""
	if distance > 0 {
		disp = fmt.Sprintf(" +/- %f", distance)
	}
	leap := [...]string{"no-leap", "add-leap", "del-leap", "unsync"}[p.Leap&3]
	excess := ""
	if r.adjusted {
		excess = " [excess]"
	}
	r.info(fmt.Sprintf("%s %+.*f%s %s s%d %s%s", tvToStr(dst), digits, offset, disp,
		hostnameAddr(q.name, q.addr.Addr()), stratum, leap, excess))
	if !r.adjusted && (r.o.step || r.o.slew) {
		r.setTime(offset)
	}
}

// offsetCalculation is classic's: the offset from the four timestamps, and its "synch
// distance", (|t21+t34| + root delay)/3 + root dispersion + 15 µs. (That first term is twice
// the offset, not the delay; classic computes it so, and its output is what scripts read.)
func offsetCalculation(p *wire.Packet, dst time.Time) (offset, distance float64) {
	t21 := float64(int64(p.Rec-p.Org)) / (1 << 32)
	t34 := float64(int64(p.Xmt-ntptime.FromTime(dst))) / (1 << 32)
	offset = (t21 + t34) / 2
	distance = (math.Abs(t21+t34)+p.RootDelay.Seconds())/3 + p.RootDisp.Seconds() + 15e-6
	return offset, distance
}

// setTime is classic's set_time: step with -S when -s is not given or the offset exceeds
// -M, otherwise slew with -s.
func (r *run) setTime(offset float64) {
	d := time.Duration(offset * float64(time.Second))
	if r.o.step && (!r.o.slew || math.Abs(offset) > r.o.stepLimit) {
		if err := r.cfg.clock.Step(d); err != nil {
			r.errorf("step-systime: %s", strerror(err))
			return
		}
		r.adjusted = true
		return
	}
	if r.o.slew {
		if err := r.cfg.clock.Slew(d); err != nil {
			r.errorf("adj_systime: %s", strerror(err))
			return
		}
		r.adjusted = true
	}
}

// tvToStr is classic's tv_to_str: local date and time to the microsecond, then the zone as
// classic computes it, the minutes to add to get to UTC: "(+0000)", "(-0100)" east of UTC.
func tvToStr(t time.Time) string {
	l := t.Local()
	_, off := l.Zone()
	lto := -off / 60
	hh, mm := lto/60, lto%60
	if mm < 0 {
		mm = -mm
	}
	return fmt.Sprintf("%d-%02d-%02d %02d:%02d:%02d.%06d (%+03d%02d)", l.Year(), int(l.Month()), l.Day(),
		l.Hour(), l.Minute(), l.Second(), l.Nanosecond()/1000, hh, mm)
}

// hostnameAddr is libntp's hostnameaddr: "name address", or the address alone when the name
// is the address.
func hostnameAddr(name string, a netip.Addr) string {
	if s := a.String(); s != name {
		return name + " " + s
	}
	return a.String()
}

// sptoa is libntp's sptoa: "a.b.c.d:port", "[v6]:port".
func sptoa(a netip.AddrPort) string {
	if a.Addr().Is4() {
		return a.Addr().String() + ":" + strconv.Itoa(int(a.Port()))
	}
	return a.String()
}

// printable shows a kiss code as classic's %c%c%c%c does, NULs as nothing.
func printable(b []byte) string { return strings.TrimRight(string(b), "\x00") }

// strerror gives an error's C library text ("No such file or directory"), which classic's
// %m prints, for the errno inside err.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// gaiError gives getaddrinfo's gai_strerror text for a lookup failure.
func gaiError(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return "Name or service not known"
		case de.IsTemporary || de.IsTimeout:
			return "Temporary failure in name resolution"
		}
	}
	return err.Error()
}
