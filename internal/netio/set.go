// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDSCP is classic ntpd's `dscp` default: 46, Expedited Forwarding.
const DefaultDSCP = 46

// Config says what to open.
type Config struct {
	// Port is the UDP port of every socket: 123 for a daemon, a high port in tests.
	Port uint16
	// Rules are the ntp.conf `interface`/`nic` lines in file order (or the -I options).
	Rules []Rule
	// NoVirtualIPs is ntpd -L: ignore alias addresses whose label has a colon ("eth0:1").
	NoVirtualIPs bool
	// DSCP goes into the IP TOS / IPv6 traffic class of sent packets; -1 leaves the kernel
	// default. The daemon passes DefaultDSCP unless ntp.conf has `dscp`.
	DSCP int
	// Logger receives classic's operator lines; nil discards them.
	Logger *slog.Logger
	// Now is the time source for transmit hooks, receive-time fallbacks and interface uptimes.
	Now func() time.Time
	// Enumerate lists the local addresses; nil means KernelAddresses. Tests substitute lists.
	Enumerate func() ([]Address, error)
	// ReceiveLoops is the number of sockets bound to each local address, in one SO_REUSEPORT
	// group, each with a receive loop of its own (Serve, ServeBatch), so that a busy server
	// answers on every CPU. 0 means runtime.GOMAXPROCS(0) (the CPUs the process may use);
	// 1 means one socket per address. The wildcard sockets always have one.
	ReceiveLoops int
}

// Handler processes one received datagram. p and p.Data are only valid during the call;
// reply with p.Socket.SendTo. Each receive socket (every member of a socket's group, see
// Config.ReceiveLoops) has its own goroutine, so a Handler must be safe for concurrent use.
type Handler func(p *Packet)

// Set is the collection of open sockets, numbered as classic numbers its interfaces.
type Set struct {
	cfg       Config
	log       *slog.Logger
	enumerate func() ([]Address, error)

	mu        sync.Mutex
	sockets   []*Socket // in index order
	nextIndex int
	handler   Handler
	// batchHandler is set instead of handler by ServeBatch.
	batchHandler ReplyHandler
	txTime       TxTimeFunc // OnTxTime
	closed       bool
	noIPv6       bool
	loops        int // sockets per local address
	wg           sync.WaitGroup
}

// Open binds the wildcard sockets and one socket per local address the rules allow, logging
// classic's "Listen normally on N NAME ADDR:PORT" / "Listen and drop on ..." lines.
//
// Like classic it binds the wildcards first ([::] then 0.0.0.0) and fails when one of them
// cannot be bound: the port is then held by another process, usually another NTP daemon
// (classic: "unable to bind to wildcard address 0.0.0.0 - another process may be running -
// EXITING"). The wildcard sockets matter: they catch datagrams for addresses that appear
// between rescans (dropping them instead of the kernel answering ICMP port unreachable), they
// reserve the port against a second daemon, and they keep the numbering of classic's
// interface list (ntpq ifstats). They bind without SO_REUSEADDR, which is set after bind, so
// that binding fails if any socket at all holds the port, even one that allows reuse. A
// failure to bind a single address is logged and skipped, consuming its number, as classic.
func Open(cfg Config) (*Set, error) {
	if cfg.Now == nil {
		return nil, errors.New("netio: Config.Now (time source) is nil")
	}
	s := &Set{cfg: cfg, log: cfg.Logger, enumerate: cfg.Enumerate, loops: cfg.ReceiveLoops}
	if s.loops <= 0 {
		s.loops = runtime.GOMAXPROCS(0)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.enumerate == nil {
		s.enumerate = KernelAddresses
	}
	addrs, err := s.enumerate()
	if err != nil {
		return nil, fmt.Errorf("netio: %w", err)
	}
	for _, w := range []struct {
		name string
		addr netip.Addr
	}{{"v6wildcard", netip.IPv6Unspecified()}, {"v4wildcard", netip.IPv4Unspecified()}} {
		c := Candidate{Addr: w.addr, Wildcard: true}
		act := Decide(cfg.Rules, c, cfg.NoVirtualIPs)
		if act == Ignore {
			continue
		}
		if err := s.openWildcard(w.name, w.addr, act); err != nil {
			s.closeAll()
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addrs {
		s.add(a)
	}
	return s, nil
}

func (s *Set) openWildcard(name string, addr netip.Addr, act Action) error {
	ap := netip.AddrPortFrom(addr, s.cfg.Port)
	fd, err := bindUDP(ap, 0, bindOptions{dscp: s.cfg.DSCP})
	if err != nil {
		if addr.Is6() && errors.Is(err, syscall.EAFNOSUPPORT) {
			// No IPv6 in this kernel or namespace: classic then runs IPv4 only.
			s.noIPv6 = true
			s.log.Info("IPv6 is not available, listening on IPv4 only")
			return nil
		}
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " - another process (another NTP daemon?) may be running"
		}
		return fmt.Errorf("netio: unable to bind to wildcard address %s port %d%s: %w", addr, s.cfg.Port, hint, err)
	}
	if err := setReuseAddr(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("netio: SO_REUSEADDR on %s: %w", ap, err)
	}
	sock, err := newSocket(fd, nil, s.nextIndex, name, ap, 0, FlagWildcard, true, act, s.cfg.Now)
	if err != nil {
		return fmt.Errorf("netio: %s: %w", ap, err)
	}
	s.nextIndex++
	s.sockets = append(s.sockets, sock)
	s.logListen(sock)
	return nil
}

func (s *Set) logListen(sock *Socket) {
	verb := "Listen normally on "
	if sock.Action() == Drop {
		verb = "Listen and drop on "
	}
	s.log.Info(verb + sock.String())
}

func candidate(a Address) Candidate {
	return Candidate{Name: a.Name, Index: a.Index, Addr: a.Addr, Loopback: a.Flags&FlagLoopback != 0}
}

// add opens a socket for a if the rules allow it. Called with mu held.
func (s *Set) add(a Address) {
	if s.noIPv6 && a.Addr.Is6() {
		return
	}
	act := Decide(s.cfg.Rules, candidate(a), s.cfg.NoVirtualIPs)
	if act == Ignore {
		return
	}
	index := s.nextIndex
	s.nextIndex++ // consumed even when the bind fails, as classic does
	ap := netip.AddrPortFrom(a.Addr, s.cfg.Port)
	opts := bindOptions{reuseAddr: true, reusePort: s.loops > 1, dscp: s.cfg.DSCP}
	fd, err := bindUDP(ap, a.Index, opts)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " - another NTP daemon may be running"
		}
		s.log.Error(fmt.Sprintf("bind to %s port %d on %s (#%d, flags %#x) failed: %v%s; not listening there",
			a.Addr, s.cfg.Port, a.Name, index, a.Flags, errText(err), hint))
		return
	}
	var members []int
	for len(members) < s.loops-1 {
		m, err := bindUDP(ap, a.Index, opts)
		if err != nil {
			// The address is served, by fewer loops.
			s.log.Warn(fmt.Sprintf("another socket for %s on %s (#%d): %v; serving it with %d receive loops",
				ap, a.Name, index, errText(err), len(members)+1))
			break
		}
		members = append(members, m)
	}
	sock, err := newSocket(fd, members, index, a.Name, ap, a.Index, a.Flags, false, act, s.cfg.Now)
	if err != nil {
		s.log.Error(fmt.Sprintf("socket for %s on %s (#%d): %v; not listening there", ap, a.Name, index, err))
		return
	}
	sock.Broadcast = a.Broadcast
	s.sockets = append(s.sockets, sock)
	s.logListen(sock)
	switch {
	case s.handler != nil:
		s.startReader(sock)
	case s.batchHandler != nil:
		s.startBatchReader(sock)
	}
}

func addrKey(name string, a netip.Addr) string { return name + "|" + a.String() }

// RescanResult says what a Rescan changed.
type RescanResult struct {
	Added   []*Socket
	Removed []*Socket
}

// Rescan re-reads the local addresses (classic does this every 5 minutes and on routing
// socket messages: `interface update`). It opens sockets for new addresses the rules allow
// ("Listen normally on N ..." with the next unused number) and then closes those whose
// address is gone, whose interface went down, or which the rules now ignore, logging
// classic's "Deleting interface #N NAME, ADDR#PORT, interface stats: received=R, sent=S,
// dropped=D, active_time=T secs". An address whose action changed between listen and drop
// keeps its socket and number. When sockets were added the daemon should re-resolve names
// (classic logs "new interface(s) found: waking up resolver").
func (s *Set) Rescan() (RescanResult, error) {
	addrs, err := s.enumerate()
	if err != nil {
		return RescanResult{}, fmt.Errorf("netio: rescan: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return RescanResult{}, fmt.Errorf("netio: rescan: %w", net.ErrClosed)
	}
	var res RescanResult
	existing := map[string]*Socket{}
	for _, sock := range s.sockets {
		if !sock.Wildcard && !sock.castRx {
			existing[addrKey(sock.Name, sock.Local.Addr())] = sock
		}
	}
	keep := map[*Socket]bool{}
	for _, a := range addrs {
		if sock, ok := existing[addrKey(a.Name, a.Addr)]; ok {
			act := Decide(s.cfg.Rules, candidate(a), s.cfg.NoVirtualIPs)
			if act != Ignore {
				sock.action.Store(int32(act))
				keep[sock] = true
			}
			continue
		}
		n := len(s.sockets)
		s.add(a)
		if len(s.sockets) > n {
			sock := s.sockets[n]
			keep[sock] = true
			res.Added = append(res.Added, sock)
		}
	}
	now := s.cfg.Now()
	kept := s.sockets[:0]
	for _, sock := range s.sockets {
		if sock.Wildcard || sock.castRx || keep[sock] {
			kept = append(kept, sock)
			continue
		}
		st := sock.Stats()
		s.log.Info(fmt.Sprintf("Deleting interface #%d %s, %s#%d, interface stats: received=%d, sent=%d, dropped=%d, active_time=%d secs",
			sock.Index, sock.Name, sock.Local.Addr(), sock.Local.Port(), st.Received, st.Sent, st.Dropped,
			int64(now.Sub(st.Opened)/time.Second)))
		sock.Close()
		res.Removed = append(res.Removed, sock)
	}
	clear(s.sockets[len(kept):])
	s.sockets = kept
	return res, nil
}

// SetRules replaces the `interface`/`nic` rules (a configuration reload); the next Rescan
// opens and closes sockets by them.
func (s *Set) SetRules(rules []Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Rules = rules
}

// Sockets returns the open sockets in index order.
func (s *Set) Sockets() []*Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Socket(nil), s.sockets...)
}

// Serve starts one receive goroutine per socket, now and for sockets a later Rescan opens,
// each calling h for every datagram to process. It returns at once; Close stops the
// goroutines and waits for them.
func (s *Set) Serve(h Handler) error {
	if h == nil {
		return errors.New("netio: Serve: nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("netio: Serve: %w", net.ErrClosed)
	}
	if s.handler != nil || s.batchHandler != nil {
		return errors.New("netio: Serve or ServeBatch called twice")
	}
	s.handler = h
	for _, sock := range s.sockets {
		s.startReader(sock)
	}
	return nil
}

// startReader starts a goroutine per receive socket of sock. It runs with mu held.
func (s *Set) startReader(sock *Socket) {
	h := s.handler
	for i := range sock.receivers() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, MaxPacket)
			oob := make([]byte, oobSize)
			var r reader
			var p Packet
			for {
				var err error
				if i == 0 {
					err = sock.ReadPacket(&p, buf)
				} else {
					err = sock.read(i, &r, oob, &p, buf)
				}
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						s.log.Error(fmt.Sprintf("interface #%d %s: %v; no longer reading it", sock.Index, sock.Name, err))
					}
					return
				}
				h(&p)
			}
		}()
	}
}

// SocketFor returns the socket to send to dst from, the way classic's findinterface picks
// one: the listening socket bound to the source address the kernel would use towards dst,
// else the wildcard socket of dst's family (the kernel then picks the source address).
func (s *Set) SocketFor(dst netip.AddrPort) (*Socket, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	var src netip.Addr
	network := "udp4"
	if dst.Addr().Is6() {
		network = "udp6"
	}
	// Connecting a UDP socket sends nothing; it only asks the kernel for a route and source.
	if c, err := net.DialUDP(network, nil, net.UDPAddrFromAddrPort(dst)); err == nil {
		src = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		c.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var wild *Socket
	for _, sock := range s.sockets {
		if sock.Action() != Listen || sock.castRx {
			continue
		}
		la := sock.Local.Addr()
		if sock.Wildcard {
			if la.Is4() == dst.Addr().Is4() && wild == nil {
				wild = sock
			}
			continue
		}
		if src.IsValid() && la.WithZone("") == src.WithZone("") {
			return sock, nil
		}
	}
	if wild != nil {
		return wild, nil
	}
	return nil, fmt.Errorf("netio: no socket to send to %s from (source %v)", dst, src)
}

// Close closes every socket and waits for the receive goroutines to end.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.closeAllLocked()
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Set) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.closeAllLocked()
}

func (s *Set) closeAllLocked() error {
	var errs []error
	for _, sock := range s.sockets {
		if err := sock.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing #%d %s: %w", sock.Index, sock.Local, err))
		}
	}
	s.sockets = nil
	return errors.Join(errs...)
}

// errText gives the system error's own words ("address already in use") when there is one.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
