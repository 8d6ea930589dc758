// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// randomRestricts is a restrict list of n lines as a large site writes one: host and network
// entries across the IPv4 and IPv6 space, some repeated (their flags merge), some removed.
func randomRestricts(n int, seed uint64) []RestrictLine {
	rng := rand.New(rand.NewPCG(seed, seed))
	flags := []AccessFlags{AccessNoModify, AccessNoTrap, AccessNoPeer, AccessNoQuery, AccessLimited, AccessKoD, AccessNoServe}
	out := []RestrictLine{{Pos: "1", Default: true, Prefix: -1, IPPeerLimit: -1,
		Flags: AccessKoD | AccessNoModify | AccessNoPeer | AccessNoQuery | AccessLimited}}
	for i := 1; i < n; i++ {
		r := RestrictLine{Pos: fmt.Sprint(i + 1), Prefix: -1, IPPeerLimit: -1, Flags: flags[rng.IntN(len(flags))]}
		switch rng.IntN(10) {
		case 0:
			r.Address = fmt.Sprintf("2001:db8:%x:%x::%x", rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16))
		case 1:
			r.Address = fmt.Sprintf("%d.%d.%d.0", 10+rng.IntN(200), rng.IntN(256), rng.IntN(256))
			r.Mask = "255.255.255.0"
		case 2:
			// a repeat of a small range: merges with an earlier line
			r.Address = fmt.Sprintf("192.0.2.%d", rng.IntN(32))
		case 3:
			r.Address = fmt.Sprintf("192.0.2.%d", rng.IntN(32))
			r.Remove = true
			if rng.IntN(4) == 0 {
				r.Flags = 0 // unrestrict without flags: the entry goes
			}
		case 4:
			r.Address = fmt.Sprintf("198.51.100.%d", rng.IntN(256))
			r.Match = MatchNTPPort
		default:
			r.Address = fmt.Sprintf("%d.%d.%d.%d", 10+rng.IntN(200), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		}
		out = append(out, r)
	}
	return out
}

// TestRestrictBulkLoadEqualsOneByOne: building the list in one sort gives exactly the
// entries that merging the lines one at a time into the sorted table (classic's
// hack_restrict, kept for the run-time changes) gives.
func TestRestrictBulkLoadEqualsOneByOne(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		lines := randomRestricts(3000, seed)
		bulk, _, err := NewRestrictList(lines, nil)
		if err != nil {
			t.Fatal(err)
		}
		slow := &RestrictList{}
		slow.tab.Store(&restrictTable{
			v4: []*restrictEntry{{is4: true, isDefault: true, ippeerlimit: -1}},
			v6: []*restrictEntry{{isDefault: true, ippeerlimit: -1}},
		})
		for i := range lines {
			r := &lines[i]
			empty := r.Flags == 0 && r.Match == 0
			var addrs []netip.Addr
			if r.Default {
				addrs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
			} else if addrs, err = restrictAddrs(r, nil); err != nil {
				t.Fatal(err)
			}
			for _, a := range addrs {
				mask := a
				if !r.Default {
					if mask, err = restrictMask(r, a); err != nil {
						t.Fatal(err)
					}
				}
				slow.update(newEntry(a, mask, r.Match, r.Flags, r.IPPeerLimit), r.Remove, r.Remove && empty)
			}
		}
		if diff := cmp.Diff(slow.Entries(), bulk.Entries(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("seed %d: bulk load differs from one-by-one (-one +bulk):\n%s", seed, diff)
		}
	}
}

// BenchmarkRestrictList100k builds a restrict list of 100 000 lines (the daemon's
// BenchmarkRestrictLoad100k adds parsing the file).
func BenchmarkRestrictList100k(b *testing.B) {
	lines := randomRestricts(100000, 42)
	b.ResetTimer()
	for range b.N {
		if _, _, err := NewRestrictList(lines, nil); err != nil {
			b.Fatal(err)
		}
	}
}
