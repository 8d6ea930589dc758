// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// -b ADDRESS: listen for an NTP broadcast (mode 5) sent to ADDRESS, an IPv4 broadcast
// address or a multicast group, for at most -t seconds, and take the time from the first
// one that passes classic's packet checks (-a: its MAC must verify). Classic sntp 4.2.8p15
// documents -b but never takes the time from a broadcast: it waits out -t, prints no result
// and exits with status 0 (TestSntpBroadcast, with gontp broadcasting every 16 s), and with a
// server named too it only queries that server. gontp's listens, before the unicast queries,
// one address after the other.
//
// A broadcast carries no origin timestamp, so there is no round trip: the offset is the
// server's transmit time minus the arrival time, t3 - t4, which is late by the one-way
// network delay (classic ntpd's broadcast client adds its broadcastdelay, 4 ms by default
// without a calibration volley; sntp has nothing to calibrate with and adds nothing). The
// distance printed after "+/-" is the server's own, root delay/2 + root dispersion, plus
// sntp's 15 µs.

// listenBroadcast opens the socket for one -b address: port 123 (the reserved port, root or
// CAP_NET_BIND_SERVICE needed) on the wildcard address with SO_REUSEADDR, so that an ntpd on
// the same machine keeps its own; a multicast group is joined on the default interface.
func (r *run) listenBroadcast(a netip.Addr) (*net.UDPConn, error) {
	port := r.cfg.serverPort
	if a.IsMulticast() {
		network := "udp4"
		if a.Is6() {
			network = "udp6"
		}
		return net.ListenMulticastUDP(network, nil, &net.UDPAddr{IP: a.AsSlice(), Port: port})
	}
	if !a.Is4() {
		return nil, fmt.Errorf("%s is neither an IPv4 broadcast address nor a multicast group", a)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// broadcast listens on one -b address until a good broadcast arrives or -t seconds pass
// ("ADDRESS no BCST response after N seconds", classic's words for the unicast case with B).
func (r *run) broadcast(name string) {
	a, err := netip.ParseAddr(name)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		addrs, lerr := r.cfg.resolver.LookupNetIP(ctx, r.o.family, name)
		cancel()
		if lerr != nil || len(addrs) == 0 {
			r.errorf("%s lookup error %s", name, gaiError(lerr))
			return
		}
		a = addrs[0].Unmap()
	}
	conn, err := r.listenBroadcast(a)
	if err != nil {
		r.errorf("-b %s: cannot listen on port %d: %s", a, r.cfg.serverPort, strerror(err))
		return
	}
	defer conn.Close()
	deadline := r.cfg.clock.Now().Add(time.Duration(r.o.timeout) * time.Second)
	_ = conn.SetReadDeadline(time.Now().Add(time.Duration(r.o.timeout) * time.Second))
	buf := make([]byte, 2048)
	for r.cfg.clock.Now().Before(deadline) {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		in := rx{from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), data: buf[:n], at: r.cfg.clock.Now()}
		if n >= 1 && buf[0]&7 != wire.ModeBroadcast {
			continue // not a broadcast: a unicast reply to someone else on this port
		}
		q := &query{name: in.from.Addr().String(), addr: in.from, bcast: true}
		v, p := r.check(in.data, q)
		if v != good {
			continue
		}
		r.handle(v, p, in, q)
		return
	}
	r.info(fmt.Sprintf("%s no BCST response after %d seconds", a, r.o.timeout))
}

// broadcastOffset is the offset and distance of a broadcast, which has only t3 and t4.
func broadcastOffset(p *wire.Packet, dst time.Time) (offset, distance float64) {
	offset = float64(int64(p.Xmt-ntptime.FromTime(dst))) / (1 << 32)
	distance = p.RootDelay.Seconds()/2 + p.RootDisp.Seconds() + 15e-6
	return offset, distance
}
