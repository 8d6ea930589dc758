// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"crypto/md5"
	"errors"
	"iter"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/control"
	"gontp/internal/ntptime"
	"gontp/internal/testnet"
	"gontp/peer"
	"gontp/system"
)

// md5Keys is the classic MD5 key type: digest = MD5(key || message). It exists only for this
// test, so that classic ntpq's authenticated ifstats and reslist can be checked.
type md5Keys map[uint32]string

func (k md5Keys) Verify(id uint32, msg, digest []byte) bool {
	key, ok := k[id]
	if !ok || len(digest) != md5.Size {
		return false
	}
	sum := md5.Sum(append([]byte(key), msg...))
	return string(sum[:]) == string(digest)
}

func (k md5Keys) Sign(dst []byte, id uint32, msg []byte) ([]byte, bool) {
	key, ok := k[id]
	if !ok {
		return dst, false
	}
	sum := md5.Sum(append([]byte(key), msg...))
	return append(dst, sum[:]...), true
}

// controlFixture is a hand-made daemon state: a pool prototype, an NTP server that is the
// system peer, and an idle LOCAL clock, as a real gontp would publish them.
func controlFixture(now time.Time, local netip.AddrPort) *snapshot.Snapshot {
	ts := ntptime.FromTime
	var unused [8]float64
	for i := range unused {
		unused[i] = peer.MaxDisp
	}
	sysPeer := peer.Vars{
		Addr: netip.MustParseAddrPort("198.18.0.50:123"), Status: 0x961a, Stratum: 2,
		Precision: -20, RootDelay: 0.000488, RootDisp: 0.000992,
		RefID: 0xc0000201, RefTime: ts(now.Add(-40 * time.Second)), Rec: ts(now.Add(-15 * time.Second)),
		Reach: 0xff, HMode: 3, PMode: 4, HPoll: 6, PPoll: 6, Offset: 0.000094, Delay: 0.000277,
		Disp: 0.000967, Jitter: 0.000027, Selection: system.SelSysPeer, Configured: true,
		Sent: 13, Received: 13,
	}
	sysPeer.FiltDelay = [8]float64{0.00028, 0.00032, 0.00031, 0.00019, 0.00019, 0.00032, 0.0003, 0.00032}
	sysPeer.FiltOffset = [8]float64{0.00009, 0.00012, 0.00009, 0.00007, 0.00003, 0.00011, 0.0001, 0.0001}
	sysPeer.FiltDisp = [8]float64{0, 0.00099, 0.00201, 0.003, 0.00404, 0.00506, 0.00609, 0.00693}
	pool := peer.Vars{
		Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Status: 0x8811, Leap: 3,
		Stratum: 16, Precision: -24, RefID: 0x504f4f4c, HMode: 3, HPoll: 6, PPoll: 10,
		Flash: 0x1600, Disp: peer.MaxDisp, FiltDisp: unused,
	}
	lcl := peer.Vars{
		Addr: netip.MustParseAddrPort("127.127.1.0:123"), Status: 0x9014, Stratum: 10,
		Precision: -24, RootDisp: 0.010, RefID: 0x4c4f434c, Rec: ts(now.Add(-484 * time.Second)),
		Reach: 0x80, HMode: 3, PMode: 4, HPoll: 6, PPoll: 6, Disp: 15.4377, FiltDisp: unused,
	}
	return &snapshot.Snapshot{
		Sys: snapshot.SysVars{Leap: 0, Stratum: 3, Precision: -24, Poll: 6, RefID: 0xc6120032,
			RefTime: ts(now.Add(-15 * time.Second)), RootDelay: 0.000765, RootDisp: 0.002265,
			RootDispTime: ts(now.Add(-15 * time.Second))},
		Offset: 0.000094, Jitter: 0.000027, SysPeer: 101, SysEvent: 5, SysEventCount: 1,
		Peers: []snapshot.Peer{
			{ID: 100, Vars: pool, Hostname: "pool.example"},
			{ID: 101, Vars: sysPeer, Local: local},
			{ID: 102, Refclock: "LOCAL(0)", Vars: lcl, Local: local, Clock: &snapshot.ClockVars{
				Type: 1, Description: "Undisciplined local clock", Polls: 9, Stratum: 10, RefID: "LOCL"}},
		},
	}
}

// serveControl runs a control.Server on UDP port 123 of h until the test ends.
// Sources in quiet are treated as `restrict ... noquery`.
func serveControl(t *testing.T, h *testnet.Host, s *control.Server, quiet netip.Addr) {
	t.Helper()
	var conn *net.UDPConn
	if err := h.Do(func() (err error) {
		conn, err = net.ListenUDP("udp", &net.UDPAddr{Port: 123})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			if n > 0 && buf[0]&7 != 6 {
				continue // only mode 6 here
			}
			var res control.Restrict
			if from.Addr().Unmap() == quiet {
				res = control.RestrictNoQuery
			}
			s.Handle(buf[:n], from, res, time.Now(), func(b []byte) {
				conn.WriteToUDPAddrPort(b, from)
			})
		}
	}()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
}

func seq(l []control.MRUEntry) func() iter.Seq[control.MRUEntry] {
	return func() iter.Seq[control.MRUEntry] {
		return func(yield func(control.MRUEntry) bool) {
			for _, e := range l {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// TestReferenceNtpqAgainstControl runs the real classic ntpq, NTPsec's ntpq and
// check_ntp_peer against the control server answering from a hand-made snapshot in a private
// network (issue 6 acceptance, the part that does not need the whole daemon).
func TestReferenceNtpqAgainstControl(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpq", "ntpsec-ntpq", "check_ntp_peer")
	tn := testnet.New(t)
	srv := tn.Host("control")
	cli := tn.Host("client")
	quiet := tn.Host("noquery")
	start := time.Now()
	local := netip.AddrPortFrom(srv.Addr(), 123)
	stats := control.ServerStats{Uptime: 489, SinceReset: 489, Received: 237, ThisVer: 36, Declined: 6,
		Restricted: 10, Processed: 26}
	mru := []control.MRUEntry{{
		Addr: netip.AddrPortFrom(cli.Addr(), 123), First: ntptime.FromTime(start.Add(-500 * time.Second)),
		Last: ntptime.FromTime(start.Add(-15 * time.Second)), Count: 14, Mode: 4, Version: 4,
		Restrict: 0x380}}
	s := control.New(control.Config{
		Version: "ntpd 4.2.8p15-gontp", Processor: "x86_64", System: "Linux/test",
		NonceSecret: [16]byte{9, 8, 7},
	}, control.Sources{
		Snapshot:    func() *snapshot.Snapshot { return controlFixture(start, local) },
		ServerStats: func(ntptime.Time) control.ServerStats { return stats },
		Kernel: func() (control.KernelState, bool) {
			return control.KernelState{MaxError: 16 * time.Second, EstError: 16 * time.Second,
				Status: 0x41, Constant: 7, Precision: time.Microsecond, Tolerance: 500}, true
		},
		MRU: seq(mru),
		Interfaces: func(time.Time) []control.Interface {
			return []control.Interface{{Name: "eth0", Addr: local, Enabled: true, Flags: 0x19,
				Received: 76, Sent: 76, Peers: 1, Uptime: 1137}}
		},
		Restrictions: func() []control.Restriction {
			return []control.Restriction{{Addr: netip.IPv4Unspecified(), Mask: netip.IPv4Unspecified(),
				Hits: 20, Flags: "nopeer noquery"}}
		},
		Keys:       md5Keys{1: "gontptest"},
		ControlKey: 1,
	})
	serveControl(t, srv, s, quiet.Addr())
	addr := srv.Addr().String()
	ntpq := ref + "/classic-ntpq"

	run := func(t *testing.T, argv ...string) string {
		t.Helper()
		out, err := cli.Run(t, 20*time.Second, argv...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Logf("%s:\n%s", strings.Join(argv[1:], " "), out)
		return string(out)
	}
	expect := func(t *testing.T, out string, res ...string) {
		t.Helper()
		for _, re := range res {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("output lacks %q", re)
			}
		}
	}
	t.Run("classic -pn", func(t *testing.T) {
		out := run(t, ntpq, "-pn", addr)
		expect(t, out,
			`(?m)^     remote           refid      st t when poll reach   delay   offset  jitter$`,
			`(?m)^ pool.example    .POOL.          16 p    -   64    0    0.000   \+0.000   0.000$`,
			`(?m)^\*198.18.0.50     192.0.2.1        2 u   1[5-9]   64  377    0.277   \+0.094   0.027$`,
			`(?m)^ 127.127.1.0     .LOCL.          10 l  4[89]\d   64  200    0.000   \+0.000   0.000$`)
	})
	t.Run("classic -p", func(t *testing.T) {
		expect(t, run(t, ntpq, "-p", addr), `(?m)^ LOCAL\(0\)        .LOCL.`, `(?m)^\*\S+ +192.0.2.1 `)
	})
	t.Run("classic as", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "as", addr),
			`(?m)^  1   100  8811   yes  none  none    reject    mobilize  1$`,
			`(?m)^  2   101  961a   yes   yes  none  sys.peer    sys_peer  1$`,
			`(?m)^  3   102  9014   yes   yes  none    reject   reachable  1$`)
	})
	t.Run("classic rv", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "rv", addr),
			`(?m)^associd=0 status=0615 leap_none, sync_ntp, 1 event, clock_sync,$`,
			`version="ntpd 4.2.8p15-gontp"`, `stratum=3`, `refid=198.18.0.50`, `peer=101`,
			`offset=\+0.094000`)
	})
	t.Run("classic rv assoc", func(t *testing.T) {
		expect(t, run(t, ntpq, "-n", "-c", "rv 101", addr),
			`(?m)^associd=101 status=961a conf, reach, sel_sys.peer, 1 event, sys_peer,$`,
			`srcadr=198.18.0.50`, `reach=377`, `offset=\+0.094`, `flash=00 ok`,
			`filtdelay=     0.28    0.32`)
	})
	t.Run("classic cv", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "cv", addr), `device="Undisciplined local clock"`, `poll=9`)
	})
	t.Run("classic sysinfo", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "sysinfo", addr), `(?m)^system peer:        198.18.0.50:123$`,
			`(?m)^system peer mode:   client$`, `(?m)^stratum:            3$`)
	})
	t.Run("classic sysstats", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "sysstats", addr), `(?m)^uptime:                 489$`,
			`(?m)^processed for time:     26$`)
	})
	t.Run("classic kerninfo", func(t *testing.T) {
		expect(t, run(t, ntpq, "-c", "kerninfo", addr), `(?m)^maximum error:         16000$`,
			`(?m)^kernel status:         pll unsync$`, `(?m)^precision:             0.001$`)
	})
	t.Run("classic mrulist", func(t *testing.T) {
		expect(t, run(t, ntpq, "-n", "-c", "mrulist", addr),
			`Retrieved 1 unique MRU entries`,
			`(?m)^ +1[5-9] +3[0-9] +380 \. 4 4 +14 +123 `+regexp.QuoteMeta(cli.Addr().String())+`$`)
	})
	t.Run("classic ifstats reslist", func(t *testing.T) {
		out := run(t, ntpq, "-c", "keyid 1", "-c", "passwd gontptest", "-c", "ifstats", "-c", "reslist", addr)
		expect(t, out, `(?m)^  0 eth0 +\. +19 +0 +0 +76 +76 +0 +1 +1137$`,
			`(?m)^    `+regexp.QuoteMeta(local.String())+`$`, `(?m)^ +20 0.0.0.0/0$`,
			`(?m)^ +nopeer noquery$`)
		out = run(t, ntpq, "-c", "keyid 1", "-c", "passwd wrong", "-c", "ifstats", addr)
		expect(t, out, `Server disallowed request`)
	})
	t.Run("ntpsec -p", func(t *testing.T) {
		expect(t, run(t, ref+"/ntpsec-ntpq", "-pn", addr),
			`(?m)^\*198.18.0.50 +192.0.2.1 +2 u`, `(?m)^ pool.example +.POOL. +16 p`)
	})
	t.Run("ntpsec rv", func(t *testing.T) {
		expect(t, run(t, ref+"/ntpsec-ntpq", "-c", "rv", addr),
			`(?m)^associd=0 status=0615 leap_none, sync_ntp, 1 event, clock_sync,$`, `stratum=3`)
	})
	t.Run("ntpsec mrulist", func(t *testing.T) {
		expect(t, run(t, ref+"/ntpsec-ntpq", "-n", "-c", "mrulist", addr),
			`(?m)^ +1[5-9] +3[0-9] .* 14 .*123 `+regexp.QuoteMeta(cli.Addr().String())+`$`)
	})
	t.Run("noquery", func(t *testing.T) {
		out, _ := quiet.Run(t, 20*time.Second, ntpq, "-c", "timeout 300", "-c", "rv", addr)
		t.Logf("%s", out)
		if !strings.Contains(string(out), "timed out") || strings.Contains(string(out), "associd") {
			t.Errorf("a noquery source got an answer")
		}
	})
	t.Run("check_ntp_peer", func(t *testing.T) {
		out, err := cli.Run(t, 20*time.Second, ref+"/check_ntp_peer", "-H", addr, "-w", "0.5", "-c", "1")
		t.Logf("%s", out)
		if err != nil {
			t.Errorf("check_ntp_peer: %v", err)
		}
		expect(t, string(out), `NTP OK`, `Offset 9.4\d*e-05 secs`)
	})
}

// TestReferenceNtpqAgainstGontp is issue 6's acceptance against the daemon: classic ntpq,
// NTPsec's ntpq and check_ntp_peer against a running gontp synchronised to its LOCAL clock,
// with a control key so that the authenticated ifstats and reslist work as with classic.
func TestReferenceNtpqAgainstGontp(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpq", "ntpsec-ntpq", "check_ntp_peer")
	tn := testnet.New(t)
	srv := tn.Host("gontp")
	cli := tn.Host("client")
	keyFile := testnet.WriteFile(t, "ntp.keys", "1 M gontpsecret\n")
	startGontp(t, srv, gontpLocalConf+"keys "+keyFile+"\ntrustedkey 1\ncontrolkey 1\nrestrict 198.18.0.0 mask 255.255.255.0 nomodify\n")
	if !srv.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp ntpd did not bind UDP port 123")
	}
	if _, err := cli.WaitSynced(srv.Addr(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	run := func(argv ...string) string {
		t.Helper()
		out, err := cli.Run(t, 30*time.Second, argv...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Logf("%s:\n%s", strings.Join(argv[1:], " "), out)
		return string(out)
	}
	for _, c := range []struct {
		argv []string
		want []string
	}{
		{[]string{"-pn"}, []string{`(?m)^\*127.127.1.0     .LOCL.          10 l `}},
		{[]string{"-p"}, []string{`(?m)^\*LOCAL\(0\)        .LOCL.          10 l `}},
		{[]string{"-c", "as"}, []string{`(?m)^  1 +\d+  96[0-9a-f]{2}   yes   yes  none  sys.peer`}},
		{[]string{"-c", "rv"}, []string{`(?m)^associd=0 status=0[0-9a-f]{3} leap_none, sync_local`, `stratum=11`, `version="ntpd `}},
		{[]string{"-c", "sysinfo"}, []string{`(?m)^stratum:            11$`}},
		{[]string{"-c", "sysstats"}, []string{`(?m)^uptime: +\d+$`, `(?m)^packets received: +[1-9]\d*$`}},
		{[]string{"-c", "kerninfo"}, []string{`(?m)^kernel status: `}},
		{[]string{"-n", "-c", "mrulist"}, []string{`Retrieved [1-9]\d* unique MRU entries`}},
		{[]string{"-c", "rv &1"}, []string{`(?m)^associd=\d+ status=96[0-9a-f]{2} conf, reach, sel_sys.peer`, `srcadr=LOCAL\(0\)`, `stratum=10`, `refid=LOCL`}},
		{[]string{"-c", "keyid 1", "-c", "passwd gontpsecret", "-c", "ifstats"},
			[]string{`(?m)^ #  address/broadcast     drop flag ttl mc received sent failed peers   uptime$`,
				`(?m)^  \d eth0 +\. +[0-9a-f]+ +\d+ +\d+ +[1-9]\d* +[1-9]\d* +0 +\d+ +\d+$`, `(?m)^    198\.18\.0\.2:123$`}},
		{[]string{"-c", "keyid 1", "-c", "passwd gontpsecret", "-c", "reslist"},
			[]string{`(?m)^ +[1-9]\d* 198\.18\.0\.0/24$`, `(?m)^ +serve trust peer epeer query nomodify trap$`}},
	} {
		out := run(append(append([]string{ref + "/classic-ntpq"}, c.argv...), addr)...)
		for _, re := range c.want {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("ntpq %v: output lacks %q", c.argv, re)
			}
		}
	}
	out2 := run(ref+"/ntpsec-ntpq", "-p", addr)
	if !regexp.MustCompile(`(?m)^\*\S+ +.LOCL. +10 `).MatchString(out2) {
		t.Errorf("NTPsec ntpq -p: no system peer LOCAL row")
	}
	// check_ntp_peer reads the peer list and the system peer's variables over mode 6: OK,
	// with the offset of the LOCAL peer (0) and the stratum of the server's sync peer (10).
	out3, err := cli.Run(t, 20*time.Second, ref+"/check_ntp_peer", "-H", addr, "-w", "0.5", "-c", "1", "-W", "12", "-C", "14")
	t.Logf("check_ntp_peer: %s", out3)
	if err != nil || !regexp.MustCompile(`^NTP OK: Offset 0 secs, stratum=10\|.*stratum=10;12;14`).Match(out3) {
		t.Errorf("check_ntp_peer: %v: want OK with offset 0 and stratum 10", err)
	}
}

// TestNoqueryGetsNoReply: a source under `restrict ... noquery` gets no mode-6 answer at all
// from the daemon (classic: no reply, not an error packet), while its time requests are
// still served.
func TestNoqueryGetsNoReply(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpq")
	tn := testnet.New(t)
	srv := tn.Host("gontp")
	cli := tn.Host("client")
	startGontp(t, srv, gontpLocalConf+"restrict default noquery\n")
	if !srv.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp ntpd did not bind UDP port 123")
	}
	if _, err := cli.WaitSynced(srv.Addr(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	out, _ := cli.Run(t, 30*time.Second, ref+"/classic-ntpq", "-c", "timeout 500", "-p", srv.Addr().String())
	if !strings.Contains(string(out), "timed out") {
		t.Fatalf("ntpq from a noquery source got an answer:\n%s", out)
	}
}
