// SPDX-License-Identifier: BSD-2-Clause

// Package ntpdate is the logic of gontp's ntpdate: the one-shot client that queries NTP servers
// and steps or slews the clock once, compatible with classic ntpdate 4.2.8p15 (its options,
// pacing, clock filter and selection, decision and output lines). The command in cmd/ntpdate
// only wires it to the real clock, resolver and syslog.
package ntpdate

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Clock is what ntpdate needs of the system clock. Step sets the clock to Now()+d; Slew starts
// a one-time gradual correction by d (adjtime semantics).
type Clock interface {
	Now() time.Time
	Step(d time.Duration) error
	Slew(d time.Duration) error
}

// Resolver looks up host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Logger receives the messages classic ntpdate sends through msyslog: notices (the summary
// line, the version) and errors.
type Logger interface {
	Notice(msg string)
	Err(msg string)
}

// TermLogger writes msyslog's terminal format, "28 Nov 16:23:38 ntpdate[19185]: msg": notices
// to Stdout and errors to Stderr, as classic ntpdate does without -s.
type TermLogger struct {
	Stdout, Stderr io.Writer
	PID            int
	Now            func() time.Time
}

func (l *TermLogger) line(msg string) string {
	t := l.Now().Local()
	return fmt.Sprintf("%2d %s %s ntpdate[%d]: %s\n", t.Day(), t.Format("Jan"), t.Format("15:04:05"), l.PID, msg)
}

// Notice writes msg to Stdout.
func (l *TermLogger) Notice(msg string) { io.WriteString(l.Stdout, l.line(msg)) }

// Err writes msg to Stderr.
func (l *TermLogger) Err(msg string) { io.WriteString(l.Stderr, l.line(msg)) }

// Config is everything Run needs besides the options.
type Config struct {
	Clock    Clock
	Resolver Resolver
	Stdout   io.Writer // the "server ..." lines and debug output
	Stderr   io.Writer
	Log      Logger // msyslog messages without -s
	Syslog   Logger // msyslog messages with -s; nil falls back to Log
	Version  string // logged with -v and -d

	// Test knobs, deliberately not classic options: the server port (0: 123) and the length
	// of a timer tick (0: classic's 200 ms).
	serverPort int
	tick       time.Duration
}

// Exit statuses of Run, as classic ntpdate's.
const (
	ExitOK   = 0
	ExitFail = 1
)

const ntpPort = 123

// Run does one classic ntpdate run with options o and returns the exit status.
func Run(ctx context.Context, o *Options, cfg Config) int {
	r := &run{o: o, cfg: cfg, log: cfg.Log}
	if o.Syslog && cfg.Syslog != nil {
		r.log = cfg.Syslog
	}
	if r.cfg.tick == 0 {
		r.cfg.tick = time.Second / timerHz
	}
	if r.cfg.serverPort == 0 {
		r.cfg.serverPort = ntpPort
	}
	return r.main(ctx)
}

type run struct {
	o       *Options
	cfg     Config
	log     Logger
	servers []*server
	conn4   *net.UDPConn
	conn6   *net.UDPConn
	current int
}

func (r *run) debugf(format string, args ...any) {
	if r.o.Debug > 0 {
		fmt.Fprintf(r.cfg.Stdout, format, args...)
	}
}

type rxPacket struct {
	from netip.AddrPort
	data []byte
	rx   ntptime.Time
}

func (r *run) main(ctx context.Context) int {
	if r.o.Debug > 0 || r.o.Verbose {
		r.log.Notice(r.cfg.Version)
	}
	for _, name := range r.o.Servers {
		r.addServer(ctx, name)
	}
	if len(r.servers) == 0 {
		r.log.Err("no servers can be used, exiting")
		return ExitFail
	}
	if r.o.AuthKeySet {
		r.log.Err(fmt.Sprintf("authentication (-a %s, key file %s) is not supported by gontp ntpdate, exiting", r.o.AuthKey, r.o.KeyFile))
		return ExitFail
	}
	if code, ok := r.openSockets(); !ok {
		return code
	}
	defer r.closeSockets()

	pkts := make(chan rxPacket, 64)
	stop := make(chan struct{})
	defer close(stop)
	for _, c := range []*net.UDPConn{r.conn4, r.conn6} {
		if c != nil {
			go r.reader(c, pkts, stop)
		}
	}
	timer := time.NewTimer(r.cfg.tick / 2)
	defer timer.Stop()
	complete := 0
	for complete < len(r.servers) {
		select {
		case <-ctx.Done():
			r.log.Err(fmt.Sprintf("interrupted: %v", ctx.Err()))
			return ExitFail
		case <-timer.C:
			timer.Reset(r.cfg.tick)
			r.current++
			for _, s := range r.servers {
				if !s.done && s.eventTime != 0 && s.eventTime <= r.current {
					if r.transmit(s) {
						complete++
					}
				}
			}
		case p := <-pkts:
			if r.receive(p) {
				complete++
			}
		}
	}
	return r.adjust()
}

// addServer resolves name and adds one server per address, reporting failures the way classic
// ntpdate does (getaddrinfo's message and code).
func (r *run) addServer(ctx context.Context, name string) {
	r.debugf("Looking for host %s and service ntp\n", name)
	network := map[int]string{0: "ip", 4: "ip4", 6: "ip6"}[r.o.Family]
	var addrs []netip.Addr
	var err error
	if a, perr := netip.ParseAddr(name); perr == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = r.cfg.Resolver.LookupNetIP(ctx, network, name)
	}
	var kept []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if (r.o.Family == 4 && !a.Is4()) || (r.o.Family == 6 && !a.Is6()) {
			continue
		}
		kept = append(kept, a)
	}
	if err == nil && len(kept) == 0 {
		err = errFamily
	}
	if err != nil {
		msg, code := gaiError(err)
		fmt.Fprintf(r.cfg.Stderr, "Error resolving %s: %s (%d)\n", name, msg, code)
		r.log.Err(fmt.Sprintf("Can't find host %s: %s (%d)", name, msg, code))
		return
	}
	for _, a := range kept {
		if r.o.Debug > 0 {
			fmt.Fprintf(r.cfg.Stderr, "host found : %s\n", a)
		}
		r.servers = append(r.servers, &server{
			name:      name,
			addr:      netip.AddrPortFrom(a, uint16(r.cfg.serverPort)),
			eventTime: len(r.servers) + 1, // classic staggers first transmits one tick apart
		})
	}
}

var errFamily = errors.New("address family for hostname not supported")

// gaiError maps a resolver error to the getaddrinfo message and EAI code classic prints.
func gaiError(err error) (string, int) {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errFamily):
		return "Address family for hostname not supported", -9
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "Name or service not known", -2
	default:
		return "Temporary failure in name resolution", -3
	}
}

// openSockets binds one UDP socket per address family in use: to port 123 like classic ntpdate,
// or to an ephemeral port with -u, -q or -d.
func (r *run) openSockets() (int, bool) {
	need4, need6 := false, false
	for _, s := range r.servers {
		if s.addr.Addr().Is4() {
			need4 = true
		} else {
			need6 = true
		}
	}
	port := ntpPort
	if r.o.Unprivileged {
		port = 0
	}
	lc := net.ListenConfig{Control: reuseAddr}
	open := func(network string, ip net.IP) (*net.UDPConn, error) {
		pc, err := lc.ListenPacket(context.Background(), network, (&net.UDPAddr{IP: ip, Port: port}).String())
		if err != nil {
			return nil, err
		}
		return pc.(*net.UDPConn), nil
	}
	var err error
	if need4 {
		r.conn4, err = open("udp4", net.IPv4zero)
	}
	if err == nil && need6 {
		r.conn6, err = open("udp6", net.IPv6unspecified)
	}
	if err != nil {
		r.closeSockets()
		if errors.Is(err, syscall.EADDRINUSE) {
			r.log.Err("the NTP socket is in use, exiting")
		} else {
			r.log.Err(fmt.Sprintf("bind() fails: %v", err))
		}
		return ExitFail, false
	}
	return 0, true
}

// reuseAddr sets SO_REUSEADDR as classic ntpdate does on its sockets.
func reuseAddr(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return fmt.Errorf("socket control: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("setsockopt SO_REUSEADDR: %w", serr)
	}
	return nil
}

func (r *run) closeSockets() {
	for _, c := range []*net.UDPConn{r.conn4, r.conn6} {
		if c != nil {
			c.Close()
		}
	}
}

// reader reads datagrams and stamps each with the clock read right after the receive.
func (r *run) reader(c *net.UDPConn, out chan<- rxPacket, stop <-chan struct{}) {
	for {
		buf := make([]byte, 2048)
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable reported on the socket
		}
		rx := ntptime.FromTime(r.cfg.Clock.Now())
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		select {
		case out <- rxPacket{from: from, data: buf[:n], rx: rx}:
		case <-stop:
			return
		}
	}
}

// transmit is classic ntpdate's transmit: account for a request that timed out, finish the
// server when it has all its samples, else send the next request. It reports whether s became
// complete.
func (r *run) transmit(s *server) bool {
	if s.nextpt < s.xmtcnt {
		s.shift(0, 0) // the last request timed out
	}
	if s.nextpt >= r.o.Samples {
		s.eventTime, s.done, s.xmt = 0, true, 0
		return true
	}
	p := wire.Packet{
		Leap:      wire.LeapAlarm,
		Version:   uint8(r.o.Version),
		Mode:      wire.ModeClient,
		Stratum:   wire.StratumUnspec,
		Poll:      3, // NTP_MINPOLL
		Precision: ourPrecision,
		RootDelay: ntptime.Short(fpSecond), // NTPDATE_DISTANCE
		RootDisp:  ntptime.Short(fpSecond), // NTPDATE_DISP
	}
	var b [wire.HeaderLen]byte
	p.Encode(b[:])
	// The low 8 bits of the fraction (under 60 ns) are random so that an off-path attacker
	// cannot guess the origin timestamp a reply must echo.
	var rnd [1]byte
	rand.Read(rnd[:])
	xmt := ntptime.FromTime(r.cfg.Clock.Now())&^0xff | ntptime.Time(rnd[0])
	wire.PutXmt(b[:], xmt)
	s.xmt = xmt
	conn := r.conn4
	if s.addr.Addr().Is6() {
		conn = r.conn6
	}
	if _, err := conn.WriteToUDPAddrPort(b[:], s.addr); err != nil {
		r.log.Err(fmt.Sprintf("sendto(%s): %v", s.addr.Addr(), err))
	}
	r.debugf("transmit(%s)\n", s.addr.Addr())
	s.eventTime = r.current + r.o.TimeoutTicks
	s.xmtcnt++
	return false
}

// receive checks a datagram and feeds its sample to the server it answers. It reports whether
// that server became complete.
func (r *run) receive(p rxPacket) bool {
	r.debugf("receive(%s)\n", p.from.Addr())
	var pkt wire.Packet
	if len(p.data) < wire.HeaderLen {
		r.debugf("receive: packet length %d\n", len(p.data))
		return false
	}
	if err := wire.DecodeHeader(p.data, &pkt); err != nil {
		r.debugf("receive: %v\n", err)
		return false
	}
	var s *server
	for _, c := range r.servers {
		if c.addr == p.from {
			s = c
			break
		}
	}
	if s == nil {
		r.debugf("receive: server not found\n")
		return false
	}
	if s.done {
		return false
	}
	if why := s.process(&pkt, p.rx); why != "" {
		r.debugf("%s\n", why)
		return false
	}
	if s.nextpt >= r.o.Samples {
		s.eventTime, s.done = 0, true
		return true
	}
	return false
}

// adjust is classic ntpdate's clock_adjust: filter, select, print, then step or slew.
func (r *run) adjust() int {
	for _, s := range r.servers {
		s.filter(r.o.Samples)
	}
	var debugf func(string, ...any)
	if r.o.Debug > 0 {
		debugf = r.debugf
	}
	sys := selectServer(r.servers, debugf)
	r.debugf("\n")
	if r.o.Debug > 0 || r.o.Query {
		for _, s := range r.servers {
			r.printServer(s)
		}
	}
	if sys == nil {
		r.log.Err("no server suitable for synchronization found")
		return ExitFail
	}
	summary := func(verb string) string {
		return fmt.Sprintf("%s time server %s offset %s sec", verb, sys.addr.Addr(), lfptoa(sys.offset, 6))
	}
	if decideStep(sys.offset, r.o) {
		if r.o.Query || r.o.Debug > 0 {
			r.log.Notice(summary("step"))
			return ExitOK
		}
		if err := r.cfg.Clock.Step(toDuration(sys.offset)); err != nil {
			// Classic reports the failure and still exits 0.
			r.log.Err(fmt.Sprintf("step-systime: %v", err))
			return ExitOK
		}
		r.log.Notice(summary("step"))
		return ExitOK
	}
	if !r.o.Query && r.o.Debug == 0 {
		if d := slewAmount(sys.offset); d != 0 {
			if err := r.cfg.Clock.Slew(d); err != nil {
				r.log.Err(fmt.Sprintf("Can't adjust the time of day: %v", err))
				return ExitFail
			}
		}
	}
	r.log.Notice(summary("adjust"))
	return ExitOK
}

// decideStep is classic's rule: -b always steps, -B never does, otherwise step when
// |offset| >= 0.5 s (compared in s_fp, without classic's wrap beyond 32768 s).
func decideStep(offset lfp, o *Options) bool {
	switch {
	case o.AlwaysStep:
		return true
	case o.NeverStep:
		return false
	}
	v := int64(offset) >> 16
	if v < 0 {
		v = -v
	}
	return v >= stepLimit
}

// slewAmount is what classic's l_adj_systime hands to adjtime: the offset plus an overshoot of
// half of it, at most 1/16 s (the man page's "50% larger" BUG), rounded to microseconds.
func slewAmount(offset lfp) time.Duration {
	neg := offset < 0
	mag := offset
	if neg {
		mag = -mag
	}
	over := lfp(uint64(mag) >> 1)
	if over > maxOvershoot {
		over = maxOvershoot
	}
	d := toDuration(mag + over).Round(time.Microsecond)
	if neg {
		d = -d
	}
	return d
}

// toDuration converts an lfp to a Duration, rounded to the nanosecond.
func toDuration(v lfp) time.Duration { return ntptime.Sub(ntptime.Time(uint64(v)), 0) }

// printServer prints classic's per-server line (-q), or its long debug form (-d). Servers that
// never answered print nothing.
func (r *run) printServer(s *server) {
	if s.stratum == 0 {
		return
	}
	w := r.cfg.Stdout
	if r.o.Debug == 0 {
		fmt.Fprintf(w, "server %s, stratum %d, offset %s, delay %s\n",
			s.addr.Addr(), s.stratum, lfptoa(s.offset, 6), fptoa(s.delay, 5))
		return
	}
	fmt.Fprintf(w, "server %s, port %d\n", s.addr.Addr(), s.addr.Port())
	fmt.Fprintf(w, "stratum %d, precision %d, leap %d%d, trust %03o\n",
		s.stratum, s.precision, s.leap>>1&1, s.leap&1, s.trust)
	var ref [4]byte
	binary.BigEndian.PutUint32(ref[:], s.refid)
	refid := netip.AddrFrom4(ref).String()
	if s.stratum <= 1 || s.stratum >= wire.StratumUnsynched {
		n := 0
		for n < 4 && ref[n] != 0 {
			n++
		}
		refid = string(ref[:n])
	}
	fmt.Fprintf(w, "refid [%s], root delay %s, root dispersion %s\n",
		refid, fptoa(s.rootdelay, 6), ufptoa(s.rootdisp, 6))
	if s.xmtcnt != s.nextpt {
		fmt.Fprintf(w, "transmitted %d, in filter %d\n", s.xmtcnt, s.nextpt)
	}
	fmt.Fprintf(w, "reference time:      %s\n", prettyDate(s.reftime, r.cfg.Clock.Now()))
	fmt.Fprintf(w, "originate timestamp: %s\n", prettyDate(s.org, r.cfg.Clock.Now()))
	if r.o.Samples > 1 {
		fmt.Fprintf(w, "filter delay: ")
		for i := range maxSamples {
			if i == maxSamples/2 {
				fmt.Fprintf(w, "\n              ")
			}
			v := "----"
			if i < r.o.Samples {
				v = fptoa(s.fDelay[i], 5)
			}
			fmt.Fprintf(w, " %-10.10s", v)
		}
		fmt.Fprintf(w, "\nfilter offset:")
		for i := range maxSamples {
			if i == maxSamples/2 {
				fmt.Fprintf(w, "\n              ")
			}
			v := "----"
			if i < r.o.Samples {
				v = lfptoa(s.fOffset[i], 6)
			}
			fmt.Fprintf(w, " %-10.10s", v)
		}
		fmt.Fprintf(w, "\n")
	}
	fmt.Fprintf(w, "delay %s, dispersion %s, offset %s\n\n", fptoa(s.delay, 5), ufptoa(s.dispersion, 5), lfptoa(s.offset, 6))
}

// prettyDate formats a timestamp like libntp's prettydate, in local time.
func prettyDate(t ntptime.Time, pivot time.Time) string {
	return ntptime.PrettyDate(t, pivot, time.Local)
}
