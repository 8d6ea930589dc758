// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"gontp/internal/server"

	"github.com/google/go-cmp/cmp"

	"gontp/ntpconf"
)

// parseConf parses an ntp.conf text with ntpconf, failing on any problem.
func parseConf(t testing.TB, text string) *ntpconf.Config {
	t.Helper()
	fsys := fstest.MapFS{"ntp.conf": {Data: []byte(text)}}
	cfg, err := ntpconf.Parse(fsys, "ntp.conf")
	if cfg == nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

func newList(t testing.TB, text string, resolve server.Resolver) *server.RestrictList {
	t.Helper()
	l, _, err := server.NewRestrictList(restrictLines(parseConf(t, text).Restricts), resolve)
	if err != nil {
		t.Fatalf("NewRestrictList: %v", err)
	}
	return l
}

func TestRestrictMostSpecificWins(t *testing.T) {
	l := newList(t, `
restrict default noquery nopeer
restrict 10.0.0.0 mask 255.0.0.0 noserve
restrict 10.1.0.0 mask 255.255.0.0 limited kod
restrict 10.1.2.3 ignore
restrict 10.1.2.0 mask 255.255.255.0 ntpport version
restrict -6 default nomodify
restrict 2001:db8:: mask ffff:ffff:: notrust
restrict 2001:db8::1
`, nil)
	for _, c := range []struct {
		src  string
		want server.AccessFlags
	}{
		{"192.0.2.1:5000", server.AccessNoQuery | server.AccessNoPeer},
		{"10.9.9.9:5000", server.AccessNoServe},
		{"10.1.9.9:5000", server.AccessLimited | server.AccessKoD},
		{"10.1.2.3:5000", server.AccessIgnore},
		{"10.1.2.4:123", server.AccessVersion},                                                     // ntpport entry, from port 123
		{"10.1.2.4:5000", server.AccessLimited | server.AccessKoD},                                 // not from port 123: the /16 applies
		{"224.0.0.1:123", server.AccessIgnore},                                                     // multicast sources are always ignored
		{"[2001:db8::5]:5000", server.AccessNoTrust},                                               // /32
		{"[2001:db8::1]:5000", 0},                                                                  // host entry without flags
		{"[2001:db9::1]:5000", server.AccessNoQuery | server.AccessNoPeer | server.AccessNoModify}, // default: both lines
		{"[::ffff:10.1.2.3]:5000", server.AccessIgnore},                                            // v4-mapped matches the IPv4 list
		{"[ff02::1]:123", server.AccessIgnore},
	} {
		got, _ := l.Match(ap(c.src))
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.src, got, c.want)
		}
	}
}

func TestRestrictFlagsAccumulate(t *testing.T) {
	// Classic hack_restrict: a second line for the same address/mask/match flags adds its
	// flags; the entry's ippeerlimit is the first line's.
	l := newList(t, `
restrict 192.0.2.7 ippeerlimit 3 noquery
restrict 192.0.2.7 ippeerlimit 9 noserve
restrict default limited
restrict default kod
`, nil)
	got, lim := l.Match(ap("192.0.2.7:1"))
	if got != server.AccessNoQuery|server.AccessNoServe || lim != 3 {
		t.Errorf("192.0.2.7: got %v ippeerlimit %d", got, lim)
	}
	got, lim = l.Match(ap("198.51.100.1:1"))
	if got != server.AccessLimited|server.AccessKoD || lim != -1 {
		t.Errorf("default: got %v ippeerlimit %d", got, lim)
	}
	if !l.HasLimited() {
		t.Error("HasLimited false")
	}
}

func TestRestrictCIDRAndFamilies(t *testing.T) {
	l := newList(t, `
restrict -4 default ignore
restrict 198.51.100.0/24 noquery
restrict -4 host.example nomodify
restrict -6 host.example notrap
`, func(host string) ([]netip.Addr, error) {
		if host != "host.example" {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr("2001:db8::9")}, nil
	})
	for _, c := range []struct {
		src  string
		want server.AccessFlags
	}{
		{"203.0.113.1:1", server.AccessIgnore},
		{"198.51.100.77:1", server.AccessNoQuery},
		{"192.0.2.9:1", server.AccessNoModify},
		{"[2001:db8::9]:1", server.AccessNoTrap},
		{"[2001:db8::8]:1", 0}, // -4 default left the IPv6 default alone
	} {
		if got, _ := l.Match(ap(c.src)); got != c.want {
			t.Errorf("%s: got %v, want %v", c.src, got, c.want)
		}
	}
}

func TestRestrictBadLines(t *testing.T) {
	cfg := parseConf(t, "restrict nosuch.example noquery\nrestrict 192.0.2.1 mask ffff:: noserve\nrestrict default flake mssntp\n")
	l, warnings, err := server.NewRestrictList(restrictLines(cfg.Restricts), func(string) ([]netip.Addr, error) {
		return nil, errors.New("lookup failed")
	})
	if err == nil || !strings.Contains(err.Error(), "nosuch.example") || !strings.Contains(err.Error(), "ntp.conf:2") {
		t.Errorf("error does not name both lines: %v", err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "mssntp") || !strings.Contains(warnings[1], "flake") {
		t.Errorf("warnings: %q", warnings)
	}
	if got, _ := l.Match(ap("192.0.2.1:1")); got != server.AccessFlake|server.AccessMSSNTP {
		t.Errorf("bad lines changed the list: %v", got)
	}
}

func TestRestrictEntriesOrderAsReslist(t *testing.T) {
	// The order of classic's reslist capture in compat.md 3.5.
	l := newList(t, `
restrict default kod limited nopeer noquery nomodify notrap
restrict source noquery nomodify notrap
restrict 127.0.0.1
restrict ::1
restrict 192.0.2.0 mask 255.255.255.0
`, nil)
	l.AddInterface(netip.MustParseAddr("127.0.0.1"))
	l.AddInterface(netip.MustParseAddr("::1"))
	for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.6", "127.0.0.1"} {
		l.AddSource(netip.MustParseAddr(a)) // 127.0.0.1 has a host entry: hands off
	}
	var got []string
	for _, e := range l.Entries() {
		s := e.Addr.String() + "/" + itoa(e.Prefix)
		if m := e.Match.String(); m != "" {
			s += " " + m
		}
		got = append(got, s+" "+e.Flags.String())
	}
	want := []string{
		"192.0.2.0/24 none",
		"127.0.0.6/32 source noquery nomodify notrap",
		"127.0.0.3/32 source noquery nomodify notrap",
		"127.0.0.2/32 source noquery nomodify notrap",
		"127.0.0.1/32 ntpport interface ignore",
		"127.0.0.1/32 none",
		"0.0.0.0/0 nopeer limited noquery nomodify notrap kod",
		"::1/128 ntpport interface ignore",
		"::1/128 none",
		"::/0 nopeer limited noquery nomodify notrap kod",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	// The interface entry ignores our own port-123 packets only.
	if f, _ := l.Match(ap("127.0.0.1:123")); f != server.AccessIgnore {
		t.Errorf("own address from port 123: %v", f)
	}
	if f, _ := l.Match(ap("127.0.0.1:40000")); f != 0 {
		t.Errorf("own address from a client port: %v", f)
	}
	l.RemoveSource(netip.MustParseAddr("127.0.0.3"))
	l.RemoveInterface(netip.MustParseAddr("127.0.0.1"))
	if f, _ := l.Match(ap("127.0.0.3:123")); f != server.AccessLimited|server.AccessKoD|server.AccessNoPeer|server.AccessNoQuery|server.AccessNoModify|server.AccessNoTrap {
		t.Errorf("after RemoveSource: %v", f)
	}
	if f, _ := l.Match(ap("127.0.0.1:123")); f != 0 {
		t.Errorf("after RemoveInterface: %v", f)
	}
	es := l.Entries()
	if es[0].Hits != 0 || es[len(es)-1].Hits != 0 {
		t.Errorf("hits: %+v", es)
	}
	st := l.Stats()
	if st.Found != 3 || st.NotFound != 1 {
		t.Errorf("stats %+v", st)
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestUnrestrict(t *testing.T) {
	l := newList(t, `
restrict default noquery limited
restrict 192.0.2.1 noserve notrap
unrestrict 192.0.2.1 notrap
restrict 192.0.2.2 ignore
unrestrict 192.0.2.2
unrestrict default limited
`, nil)
	for _, c := range []struct {
		src  string
		want server.AccessFlags
	}{
		{"192.0.2.1:1", server.AccessNoServe},
		{"192.0.2.2:1", server.AccessNoQuery},
		{"192.0.2.3:1", server.AccessNoQuery},
	} {
		if got, _ := l.Match(ap(c.src)); got != c.want {
			t.Errorf("%s: got %v, want %v", c.src, got, c.want)
		}
	}
	if l.HasLimited() {
		t.Error("limited survived unrestrict")
	}
}

func TestRestrictMatchAllocs(t *testing.T) {
	l := newList(t, "restrict default limited kod\nrestrict 10.0.0.0 mask 255.0.0.0 noquery\nrestrict 2001:db8:: mask ffff:ffff:: ignore\n", nil)
	a4, a6 := ap("192.0.2.1:4000"), ap("[2001:db8::1]:4000")
	if n := testing.AllocsPerRun(1000, func() { l.Match(a4); l.Match(a6) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func BenchmarkRestrictMatch(b *testing.B) {
	l := newList(b, "restrict default limited kod nopeer noquery\nrestrict 10.0.0.0 mask 255.0.0.0 noquery\nrestrict 127.0.0.1\nrestrict ::1\n", nil)
	src := ap("192.0.2.1:4000")
	for b.Loop() {
		l.Match(src)
	}
}

// restrictText is a configuration of n restrict lines as a large site writes one: host and
// network entries across the IPv4 and IPv6 space, some repeated (their flags merge), some
// removed.
func restrictText(n int, seed uint64) string {
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
			fmt.Fprintf(&b, "restrict 192.0.2.%d %s\n", rng.IntN(32), f)
		case 3:
			fmt.Fprintf(&b, "unrestrict 192.0.2.%d %s\n", rng.IntN(32), f)
		default:
			fmt.Fprintf(&b, "restrict %d.%d.%d.%d %s\n", 10+rng.IntN(200), rng.IntN(256), rng.IntN(256), rng.IntN(256), f)
		}
	}
	return b.String()
}

// BenchmarkRestrictLoad100k loads a configuration of 100 000 restrict lines as the daemon
// does (parse, translate, build the list) and reports the time per load: issue 15 asks for
// under a second; it took minutes when each line was merged into a sorted copy.
func BenchmarkRestrictLoad100k(b *testing.B) {
	text := restrictText(100000, 42)
	b.ResetTimer()
	for range b.N {
		cfg := parseConf(b, text)
		if _, _, err := server.NewRestrictList(restrictLines(cfg.Restricts), nil); err != nil {
			b.Fatal(err)
		}
	}
}
