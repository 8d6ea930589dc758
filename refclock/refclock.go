// SPDX-License-Identifier: BSD-2-Clause

// Package refclock holds the reference clock drivers and classic ntpd's pseudo-address scheme
// for them: a driver of type t, unit u is configured as the server 127.127.t.u (ntp.conf(5),
// "Reference Clock Support"), and its samples enter the same clock filter as a network peer's.
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

// Sample is one reading of a reference clock: how far the system clock is from it, as the
// peer clock filter takes it (RFC 5905 section 10: offset, delay, dispersion at a time).
type Sample struct {
	Time   time.Time // system clock time of the reading
	Offset float64   // seconds, reference minus system clock
	Delay  float64   // seconds; 0 for most drivers
	Disp   float64   // seconds, the driver's own dispersion (the association's root dispersion)
	Jitter float64   // seconds, the jitter of the driver's own samples (the filter dispersion)
	Leap   uint8     // leap indicator the clock reports
}

// Fudge is the `fudge 127.127.t.u ...` configuration common to every driver (ntp.conf(5)).
// Fields not given in the configuration keep the driver's defaults.
type Fudge struct {
	Time1, Time2 float64 // seconds
	Stratum      int
	StratumSet   bool
	RefID        string
	RefIDSet     bool
	Flags        [4]bool // flag1 .. flag4
}

// Driver is one reference clock. Poll is called at the association's poll interval with the
// current system time and returns the sample taken then, if the clock has one.
type Driver interface {
	// Poll reads the clock at now. ok is false when the clock had nothing this time
	// (ntpd counts that as "noreply").
	Poll(now time.Time) (s Sample, ok bool, err error)
	// Description is the device description ntpq's clockvar shows as device="...".
	Description() string
	// Stratum and RefID are what the association advertises (after fudge).
	Stratum() uint8
	RefID() string
	// Precision is the driver's precision, log2 s.
	Precision() int8
}

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
	1:  "LOCAL",
	20: "GPS_NMEA",
	22: "PPS",
	28: "SHM",
}

// New returns the driver for a, configured by f, or an error naming the type when gontp has no
// such driver.
func New(a Address, f Fudge) (Driver, error) {
	switch a.Type {
	case 1:
		return newLocal(f), nil
	default:
		return nil, fmt.Errorf("reference clock %s (127.127.%d.%d): driver type %d is not supported by gontp", a.Name(), a.Type, a.Unit, a.Type)
	}
}
