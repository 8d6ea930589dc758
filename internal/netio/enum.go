// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Interface flag bits as classic ntpd keeps them (INT_* in ntp.h) and reports them in ntpq's
// ifstats "flag" column and in its bind error lines ("flags 0x5" = up, loopback).
const (
	FlagUp        uint32 = 0x1
	FlagPPP       uint32 = 0x2
	FlagLoopback  uint32 = 0x4
	FlagBroadcast uint32 = 0x8
	FlagMulticast uint32 = 0x10
	FlagWildcard  uint32 = 0x80
)

// Address is one usable local address as the kernel reports it.
type Address struct {
	Name  string     // interface name, or the IPv4 address label ("eth0:1") when it has one
	Index int        // interface index
	Addr  netip.Addr // IPv6 link-local addresses carry the decimal index as zone ("%5")
	Flags uint32     // Flag* bits
	// Broadcast is an IPv4 address's broadcast address (IFA_BROADCAST), invalid when the
	// interface has none; `broadcast` lines naming it send from this address.
	Broadcast netip.Addr
}

// KernelAddresses lists the addresses of the interfaces that are up, in the kernel's dump
// order (IPv4 then IPv6, each by interface), which is the order getifaddrs(3) gives classic
// ntpd and so the order of its "Listen normally on" lines and interface numbers.
//
// It reads rtnetlink directly rather than using package net because it needs what
// getifaddrs shows and net hides: IPv4 labels (classic names an alias "eth0:1") and the
// address flags. Tentative and DAD-failed IPv6 addresses are skipped: binding them fails
// (EADDRNOTAVAIL), and the next rescan picks them up once they are usable. Classic on Linux
// tries them and logs a bind error instead.
func KernelAddresses() ([]Address, error) {
	links, err := netlinkDump(syscall.RTM_GETLINK)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces (RTM_GETLINK): %w", err)
	}
	type link struct {
		name  string
		flags uint32
	}
	byIndex := map[int]link{}
	for _, m := range links {
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		ifi := (*syscall.IfInfomsg)(unsafePointer(m.Data))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, fmt.Errorf("parsing interface %d attributes: %w", ifi.Index, err)
		}
		var l link
		l.flags = ifi.Flags
		for _, a := range attrs {
			if a.Attr.Type == syscall.IFLA_IFNAME {
				l.name = cString(a.Value)
			}
		}
		byIndex[int(ifi.Index)] = l
	}

	addrs, err := netlinkDump(syscall.RTM_GETADDR)
	if err != nil {
		return nil, fmt.Errorf("listing addresses (RTM_GETADDR): %w", err)
	}
	var out []Address
	for _, m := range addrs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafePointer(m.Data))
		l, ok := byIndex[int(ifa.Index)]
		if !ok || l.flags&syscall.IFF_UP == 0 {
			continue // classic skips interfaces that are down (observed)
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, fmt.Errorf("parsing address attributes on %s: %w", l.name, err)
		}
		var local, address, bcast []byte
		label := ""
		flags := uint32(ifa.Flags)
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFA_LOCAL:
				local = a.Value
			case syscall.IFA_ADDRESS:
				address = a.Value
			case syscall.IFA_BROADCAST:
				bcast = a.Value
			case syscall.IFA_LABEL:
				label = cString(a.Value)
			case unix.IFA_FLAGS:
				if len(a.Value) >= 4 {
					flags = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		if flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		raw := local // as getifaddrs: the local address, the peer's only as a fallback
		if raw == nil {
			raw = address
		}
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			continue
		}
		idx := int(ifa.Index)
		if a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
			a = a.WithZone(strconv.Itoa(idx))
		}
		name := l.name
		if label != "" && ifa.Family == syscall.AF_INET {
			name = label
		}
		ad := Address{Name: name, Index: idx, Addr: a, Flags: intFlags(l.flags, a)}
		if b, ok := netip.AddrFromSlice(bcast); ok && a.Is4() {
			ad.Broadcast = b.Unmap()
		}
		out = append(out, ad)
	}
	return out, nil
}

func intFlags(iff uint32, a netip.Addr) uint32 {
	f := uint32(0)
	if iff&syscall.IFF_UP != 0 {
		f |= FlagUp
	}
	if iff&syscall.IFF_POINTOPOINT != 0 {
		f |= FlagPPP
	}
	if iff&syscall.IFF_LOOPBACK != 0 {
		f |= FlagLoopback
	}
	if iff&syscall.IFF_BROADCAST != 0 && a.Is4() {
		f |= FlagBroadcast
	}
	if iff&syscall.IFF_MULTICAST != 0 {
		f |= FlagMulticast
	}
	return f
}

func netlinkDump(typ int) ([]syscall.NetlinkMessage, error) {
	rib, err := syscall.NetlinkRIB(typ, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	return syscall.ParseNetlinkMessage(rib)
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
