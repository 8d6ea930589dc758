// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// restrictLines is a restrict list of n lines as a large site writes one: host and network
// entries across the IPv4 and IPv6 space, some repeated (their flags merge), some removed.
func restrictLines(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	flags := []string{"nomodify", "notrap", "nopeer", "noquery", "limited", "kod", "noserve"}
	var b strings.Builder
	b.WriteString("restrict default kod nomodify nopeer noquery limited\n")
	for i := 1; i < n; i++ {
		f := flags[rng.IntN(len(flags))]
		switch rng.IntN(10) {
		case 0:
			fmt.Fprintf(&b, "restrict 2001:db8:%x:%x::%x %s\n", rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16), f)
		case 1:
			fmt.Fprintf(&b, "restrict %d.%d.%d.0 mask 255.255.255.0 %s\n", 10+rng.IntN(200), rng.IntN(256), rng.IntN(256), f)
		case 2:
			// a repeat of a small range: merges with an earlier line
			fmt.Fprintf(&b, "restrict 192.0.2.%d %s\n", rng.IntN(32), f)
		case 3:
			fmt.Fprintf(&b, "unrestrict 192.0.2.%d %s\n", rng.IntN(32), f)
		default:
			fmt.Fprintf(&b, "restrict %d.%d.%d.%d %s\n", 10+rng.IntN(200), rng.IntN(256), rng.IntN(256), rng.IntN(256), f)
		}
	}
	return b.String()
}

// TestRestrictBulkLoadEqualsOneByOne: building the list in one sort gives exactly the
// entries that merging the lines one at a time into the sorted table (classic's
// hack_restrict, kept for the run-time changes) gives.
func TestRestrictBulkLoadEqualsOneByOne(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		text := restrictLines(3000, seed)
		bulk := newList(t, text, nil)
		// One by one, through the run-time path.
		slow := &RestrictList{}
		slow.tab.Store(&restrictTable{
			v4: []*restrictEntry{{is4: true, isDefault: true, ippeerlimit: -1}},
			v6: []*restrictEntry{{isDefault: true, ippeerlimit: -1}},
		})
		for _, r := range parseConf(t, text).Restricts {
			flags, match := convertFlags(r.Flags)
			switch {
			case r.Default:
				for _, fam := range []string{"0.0.0.0", "::"} {
					a := netip.MustParseAddr(fam)
					slow.update(newEntry(a, a, match, flags, r.IPPeerLimit), r.Remove, r.Remove && r.Flags == 0)
				}
			default:
				addrs, err := restrictAddrs(r, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range addrs {
					mask, err := restrictMask(r, a)
					if err != nil {
						t.Fatal(err)
					}
					slow.update(newEntry(a, mask, match, flags, r.IPPeerLimit), r.Remove, r.Remove && r.Flags == 0)
				}
			}
		}
		if diff := cmp.Diff(slow.Entries(), bulk.Entries(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("seed %d: bulk load differs from one-by-one (-one +bulk):\n%s", seed, diff)
		}
	}
}

// BenchmarkRestrictLoad100k loads a configuration of 100 000 restrict lines (parse and
// list) and reports the time per load: issue 15 asks for under a second.
func BenchmarkRestrictLoad100k(b *testing.B) {
	text := restrictLines(100000, 42)
	b.ResetTimer()
	for range b.N {
		cfg := parseConf(b, text)
		if _, _, err := NewRestrictList(cfg.Restricts, nil); err != nil {
			b.Fatal(err)
		}
	}
}
