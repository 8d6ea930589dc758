// SPDX-License-Identifier: BSD-2-Clause

package refclock

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	a, ok := ParseAddress(netip.MustParseAddr("127.127.28.1"))
	if !ok || a.Type != 28 || a.Unit != 1 || a.Name() != "SHM(1)" {
		t.Fatalf("got %+v %v %s", a, ok, a.Name())
	}
	if _, ok := ParseAddress(netip.MustParseAddr("127.0.0.1")); ok {
		t.Fatal("127.0.0.1 is not a refclock")
	}
	if _, ok := ParseAddress(netip.MustParseAddr("::1")); ok {
		t.Fatal("::1 is not a refclock")
	}
	if n := (Address{Type: 99, Unit: 2}).Name(); n != "REFCLK(99,2)" {
		t.Fatal(n)
	}
}

func TestLocal(t *testing.T) {
	d, err := New(Address{Type: 1}, Fudge{Stratum: 10, StratumSet: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	s, ok, err := d.Poll(now)
	if !ok || err != nil || s.Offset != 0 || s.Disp != 0.01 || !s.Time.Equal(now) {
		t.Fatalf("poll = %+v %v %v", s, ok, err)
	}
	if d.Stratum() != 10 || d.RefID() != "LOCL" || d.Description() != "Undisciplined local clock" {
		t.Fatalf("stratum %d refid %s", d.Stratum(), d.RefID())
	}
	def, _ := New(Address{Type: 1}, Fudge{})
	if def.Stratum() != 5 {
		t.Fatalf("default stratum %d, want classic's 5", def.Stratum())
	}
}

func TestUnsupportedDriverNamed(t *testing.T) {
	_, err := New(Address{Type: 8, Unit: 0}, Fudge{})
	if err == nil || !strings.Contains(err.Error(), "127.127.8.0") {
		t.Fatalf("err = %v", err)
	}
}
