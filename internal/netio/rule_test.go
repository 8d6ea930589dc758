// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// probeHost is the host classic ntpd 4.2.8p15 was run on to collect the verdicts below: a
// network namespace with lo (127.0.0.1, ::1) and a veth "eth0" (index 5) holding 198.18.0.2
// and fe80::287d:96ff:fe19:aa14, in the order of classic's "Listen ..." lines.
var probeHost = []struct {
	label string
	c     Candidate
}{
	{"v6wildcard", Candidate{Addr: netip.IPv6Unspecified(), Wildcard: true}},
	{"v4wildcard", Candidate{Addr: netip.IPv4Unspecified(), Wildcard: true}},
	{"lo4", Candidate{Name: "lo", Index: 1, Addr: netip.MustParseAddr("127.0.0.1"), Loopback: true}},
	{"eth4", Candidate{Name: "eth0", Index: 5, Addr: netip.MustParseAddr("198.18.0.2")}},
	{"lo6", Candidate{Name: "lo", Index: 1, Addr: netip.MustParseAddr("::1"), Loopback: true}},
	{"ethLL", Candidate{Name: "eth0", Index: 5, Addr: netip.MustParseAddr("fe80::287d:96ff:fe19:aa14%5")}},
}

// TestDecideClassicVerdicts replays rule sets through Decide and compares with what classic
// ntpd logged for them: "Listen normally" = L, "Listen and drop" = D, absent = I. Verdicts are
// in probeHost order.
func TestDecideClassicVerdicts(t *testing.T) {
	cases := []struct {
		rules []string // "action target", in ntp.conf order
		want  string
	}{
		{nil, "DDLLLL"},
		{[]string{"ignore all"}, "DDLILI"},
		{[]string{"ignore wildcard"}, "IILILI"},
		{[]string{"listen wildcard"}, "LLLILI"},
		{[]string{"ignore all", "listen eth0"}, "DDLLLL"},
		{[]string{"listen eth0", "ignore all"}, "DDLILI"},
		{[]string{"drop eth0"}, "DDLDLD"},
		{[]string{"ignore ipv6"}, "IDLIII"},
		{[]string{"ignore ipv4"}, "DIIILI"},
		{[]string{"ignore 198.18.0.0/16"}, "DDLILI"},
		{[]string{"ignore eth*"}, "DDLILI"},
		{[]string{"ignore lo"}, "DDIIII"},
		{[]string{"drop all"}, "DDLDLD"},
		{[]string{"listen all"}, "DDLLLL"},
		{[]string{"ignore 198.18.0.2"}, "DDLILI"},
		{[]string{"ignore 10.0.0.0/8"}, "DDLILI"},
		{[]string{"ignore 127.0.0.0/8"}, "DDIILI"},
		{[]string{"ignore fe80::/10"}, "DDLILI"},
		{[]string{"ignore ::1"}, "DDLIII"},
		{[]string{"ignore 0.0.0.0"}, "DILILI"},
		{[]string{"listen ::"}, "LDLILI"},
		{[]string{"ignore ETH0"}, "DDLILI"},
		{[]string{"drop 198.18.0.2"}, "DDLDLI"},
		{[]string{"listen 198.18.0.2"}, "DDLLLI"},
		{[]string{"drop 127.0.0.1"}, "DDDILI"},
		{[]string{"drop fe80::287d:96ff:fe19:aa14"}, "DDLILI"},
		{[]string{"drop 198.18.0.0/24"}, "DDLDLI"},
		{[]string{"drop lo", "listen 127.0.0.1"}, "DDLIDI"},
		{[]string{"listen fe80::/10"}, "DDLILL"},
		{[]string{"ignore v4wildcard"}, "DDLILI"},
		{[]string{"listen fe80::287d:96ff:fe19:aa14%5"}, "DDLILL"},
		{[]string{"listen fe80::287d:96ff:fe19:aa14%eth0"}, "DDLILL"},
		{[]string{"listen 198.18.0.0/33"}, "DDLILI"},
		{[]string{"drop 198.18.0.2/0"}, "DDDDLI"},
		{[]string{"ignore 198.18.0.2/0"}, "DIIILI"},
		{[]string{"listen e?h0"}, "DDLLLL"},
	}
	letter := map[Action]byte{Listen: 'L', Ignore: 'I', Drop: 'D'}
	for _, tc := range cases {
		var rules []Rule
		for _, line := range tc.rules {
			act, target, _ := strings.Cut(line, " ")
			r, err := ParseRule(act, target)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", line, err)
			}
			rules = append(rules, r)
		}
		got := make([]byte, 0, len(probeHost))
		for _, h := range probeHost {
			got = append(got, letter[Decide(rules, h.c, false)])
		}
		if string(got) != tc.want {
			t.Errorf("rules %q: got %s, classic %s (order v6wildcard v4wildcard lo4 eth4 lo6 ethLL)", tc.rules, got, tc.want)
		}
	}
}

// TestDecideVirtualIPs: classic names an IPv4 alias by its label ("Listen normally on 5
// eth0:1 198.18.0.6:123") and with -L ignores it (observed).
func TestDecideVirtualIPs(t *testing.T) {
	alias := Candidate{Name: "eth0:1", Index: 5, Addr: netip.MustParseAddr("198.18.0.6")}
	if got := Decide(nil, alias, false); got != Listen {
		t.Errorf("alias without -L: %v, want listen", got)
	}
	if got := Decide(nil, alias, true); got != Ignore {
		t.Errorf("alias with -L: %v, want ignore", got)
	}
	r, _ := ParseRule("listen", "eth0:1")
	if got := Decide([]Rule{r}, alias, true); got != Listen {
		t.Errorf("alias with -L and an explicit rule: %v, want listen (rules come first)", got)
	}
}

func TestParseRule(t *testing.T) {
	cases := []struct {
		action, target string
		want           Rule
	}{
		{"listen", "all", Rule{Action: Listen, Match: MatchAll}},
		{"ignore", "ipv4", Rule{Action: Ignore, Match: MatchIPv4}},
		{"drop", "ipv6", Rule{Action: Drop, Match: MatchIPv6}},
		{"drop", "wildcard", Rule{Action: Drop, Match: MatchWildcard}},
		{"listen", "eth*", Rule{Action: Listen, Match: MatchName, Name: "eth*"}},
		{"listen", "192.0.2.1", Rule{Action: Listen, Match: MatchAddr, Addr: netip.MustParseAddr("192.0.2.1")}},
		{"listen", "::ffff:192.0.2.1", Rule{Action: Listen, Match: MatchAddr, Addr: netip.MustParseAddr("192.0.2.1")}},
		{"listen", "192.0.2.77/24", Rule{Action: Listen, Match: MatchPrefix, Prefix: netip.MustParsePrefix("192.0.2.0/24")}},
		{"listen", "192.0.2.1/40", Rule{Action: Listen, Match: MatchPrefix, Prefix: netip.MustParsePrefix("192.0.2.1/32")}},
		{"ignore", "fe80::%eth0/64", Rule{Action: Ignore, Match: MatchPrefix, Prefix: netip.MustParsePrefix("fe80::/64"), Zone: "eth0"}},
	}
	for _, tc := range cases {
		got, err := ParseRule(tc.action, tc.target)
		if err != nil {
			t.Errorf("ParseRule(%q, %q): %v", tc.action, tc.target, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("ParseRule(%q, %q) (-want +got):\n%s", tc.action, tc.target, diff)
		}
	}
	for _, bad := range [][2]string{{"open", "all"}, {"listen", ""}, {"listen", "192.0.2.1/x"}, {"listen", "192.0.2.1/-1"}} {
		if _, err := ParseRule(bad[0], bad[1]); err == nil {
			t.Errorf("ParseRule(%q, %q): no error", bad[0], bad[1])
		} else if !strings.Contains(err.Error(), "interface rule") {
			t.Errorf("ParseRule(%q, %q): error %q does not say where", bad[0], bad[1], err)
		}
	}
}

func TestRuleString(t *testing.T) {
	for _, in := range []string{"listen all", "drop eth0", "ignore 192.0.2.1", "ignore 192.0.2.0/24", "listen fe80::%eth0/64", "listen fe80::1%5"} {
		act, target, _ := strings.Cut(in, " ")
		r, err := ParseRule(act, target)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.String(); got != "interface "+in {
			t.Errorf("String() = %q, want %q", got, "interface "+in)
		}
	}
}
