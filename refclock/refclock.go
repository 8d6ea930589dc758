// SPDX-License-Identifier: BSD-2-Clause

// Package refclock holds the part of classic ntpd's reference clock support that needs no
// I/O (ntp_refclock.c): the pseudo-address scheme 127.127.t.u (ntp.conf(5), "Reference Clock
// Support"), each driver's identity (stratum, refid, precision, description), the fudge
// settings, and Proc, the per-clock state that turns the readings a driver hands in into
// one sample per poll: the median filter, the fudge times, the PPS phase arithmetic and the
// counters `ntpq -c cv` shows. The drivers themselves read devices and live in the daemon's
// I/O layer (internal/refclockio); they reach this package only through Reading values,
// which the engine receives as events, like packets.
package refclock

import (
	"fmt"
	"net/netip"
	"time"
)

// Address is a reference clock's pseudo-address 127.127.Type.Unit.
type Address struct {
	Type uint8
	Unit uint8
}

// ParseAddress reports whether a is a refclock pseudo-address (127.127.t.u) and which.
func ParseAddress(a netip.Addr) (Address, bool) {
	if !a.Is4() {
		return Address{}, false
	}
	b := a.As4()
	if b[0] != 127 || b[1] != 127 {
		return Address{}, false
	}
	return Address{Type: b[2], Unit: b[3]}, true
}

// Addr returns the pseudo-address as an IPv4 address.
func (a Address) Addr() netip.Addr { return netip.AddrFrom4([4]byte{127, 127, a.Type, a.Unit}) }

// String is the dotted pseudo-address, 127.127.t.u.
func (a Address) String() string { return a.Addr().String() }

// Driver types gontp has (classic's REFCLK_* numbers).
const (
	TypeLocal    = 1  // refclock_local.c
	TypeNMEA     = 20 // refclock_nmea.c
	TypePPS      = 22 // refclock_atom.c (REFCLK_ATOM_PPS)
	TypeSHM      = 28 // refclock_shm.c
	TypeGPSDJSON = 46 // refclock_gpsdjson.c
)

// Name returns the name classic ntpq shows for the address, e.g. LOCAL(0) or SHM(1)
// (libntp clocktypes table); unknown types are shown as REFCLK(t,u) as classic does.
func (a Address) Name() string {
	if n, ok := typeNames[a.Type]; ok {
		return fmt.Sprintf("%s(%d)", n, a.Unit)
	}
	return fmt.Sprintf("REFCLK(%d,%d)", a.Type, a.Unit)
}

// typeNames are the short names of classic ntpd's clock types for the drivers gontp has or
// that configurations commonly name.
var typeNames = map[uint8]string{
	TypeLocal:    "LOCAL",
	TypeNMEA:     "GPS_NMEA",
	TypePPS:      "PPS",
	TypeSHM:      "SHM",
	TypeGPSDJSON: "GPSD_JSON",
}

// Fudge is the `fudge 127.127.t.u ...` configuration common to every driver (ntp.conf(5)).
// Fields not given in the configuration keep the driver's defaults.
type Fudge struct {
	Time1, Time2       float64 // seconds
	Time1Set, Time2Set bool
	MinJitter          float64 // seconds, the least jitter a poll reports (4.2.8p15 minjitter)
	MinJitterSet       bool
	Stratum            int
	StratumSet         bool
	RefID              string
	RefIDSet           bool
	Flags              [4]bool // flag1 .. flag4
}

// flagBits is the fudge flags as classic's sloppyclockflag (CLK_FLAG1 = 1 .. CLK_FLAG4 = 8),
// what `ntpq -c cv` shows as flags=.
func (f Fudge) flagBits() uint8 {
	var b uint8
	for i, on := range f.Flags {
		if on {
			b |= 1 << i
		}
	}
	return b
}

// Config is one configured reference clock: its address, the server line's `mode` word
// (classic keeps it in peer->ttl) and its fudge.
type Config struct {
	Addr  Address
	Mode  uint32
	Fudge Fudge
	// Path and PPSPath override the driver's device (NTPsec's refclock path/ppspath); ""
	// means classic's default device for the unit.
	Path, PPSPath string
}

// identity is what a driver advertises before fudge: classic's REFID, PRECISION and
// DESCRIPTION of each refclock_*.c, and stratum 0 except for LOCAL.
type identity struct {
	stratum     uint8
	refid       string
	precision   int8
	description string
}

var identities = map[uint8]identity{
	TypeLocal:    {5, "LOCL", -7, "Undisciplined local clock"},
	TypeNMEA:     {0, "GPS", -9, "NMEA GPS Clock"},
	TypePPS:      {0, "PPS", -20, "PPS Clock Discipline"},
	TypeSHM:      {0, "SHM", -1, "SHM/Shared memory interface"},
	TypeGPSDJSON: {0, "GPSD", -9, "GPSD JSON client clock"},
}

// Supported reports whether gontp has a driver for the address's type, with an error that
// names the clock otherwise.
func Supported(a Address) error {
	if _, ok := identities[a.Type]; !ok {
		return fmt.Errorf("reference clock %s (127.127.%d.%d): driver type %d is not supported by gontp (it has LOCAL 1, GPS_NMEA 20, PPS 22, SHM 28, GPSD_JSON 46)",
			a.Name(), a.Type, a.Unit, a.Type)
	}
	return nil
}

// Sample is what a poll hands to the association (ntpd refclock_receive): the filtered
// offset and its jitter for the clock filter, the clock's dispersion as the association's
// root dispersion, and the leap indicator.
type Sample struct {
	Offset float64 // seconds, reference minus system clock
	Jitter float64 // seconds, of the median filter's survivors (the filter dispersion)
	Disp   float64 // seconds, the association's root dispersion
	Leap   uint8
	// RefTime is when the last sample was taken (classic pp->lastref), local time.
	RefTime time.Time
}
