// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// legacyKeys are keys of the three digest types classic 4.2.8p15 takes from OpenSSL that Go's
// standard library lacks (internal/digest computes them).
const legacyKeys = "7 MD4 md4secret\n8 RIPEMD160 rmdsecret\n9 SM3 sm3secret\n"

// TestLegacyDigestsInterop: gontp polls a classic ntpd server with an MD4, a RIPEMD160 and an
// SM3 key (one server address each) and a classic ntpd client polls gontp with the same three;
// every association is reachable with `auth ok` (which needs the MACs to match byte for byte in
// both directions) and selectable once the chain chronyd → classic → gontp is synchronised.
func TestLegacyDigestsInterop(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	tn := testnet.New(t)
	chrony := tn.Host("chrony")
	classic := tn.Host("classic")
	gh := tn.Host("gontp")
	client := tn.Host("client")
	classicAlias := addAddrs(t, classic, 50, 51)
	gontpAlias := addAddrs(t, gh, 60, 61)

	// The time source: chronyd serving its clock; classic takes it, gontp takes classic's.
	testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
	ckeys := testnet.WriteFile(t, "ntp.keys", legacyKeys)
	testnet.ClassicNTPD(t, classic, fmt.Sprintf("keys %s\ntrustedkey 7 8 9\nserver %s iburst minpoll 3 maxpoll 4\n", ckeys, chrony.Addr()))

	gkeys := testnet.WriteFile(t, "ntp.keys", legacyKeys)
	// gontp on its virtual clock (it synchronises and serves stratum 10, and cannot touch the
	// host clock).
	gdir := t.TempDir()
	gconf := testnet.WriteFile(t, "ntp.conf", fmt.Sprintf("keys %s\ntrustedkey 7 8 9\n"+
		"server %s key 7 iburst minpoll 3 maxpoll 4\nserver %s key 8 iburst minpoll 3 maxpoll 4\nserver %s key 9 iburst minpoll 3 maxpoll 4\n",
		gkeys, classic.Addr(), classicAlias[0], classicAlias[1]))
	g := gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		binary(t, "ntpd"), "-n", "-c", gconf, "-p", filepath.Join(gdir, "ntpd.pid"), "--virtual-clock", "0,0")
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen:\n%s", g.Log())
	}
	testnet.ClassicNTPD(t, client, fmt.Sprintf("keys %s\ntrustedkey 7 8 9\ndisable ntp\n"+
		"server %s key 7 iburst minpoll 3 maxpoll 4\nserver %s key 8 iburst minpoll 3 maxpoll 4\nserver %s key 9 iburst minpoll 3 maxpoll 4\n",
		testnet.WriteFile(t, "ntp.keys", legacyKeys), gh.Addr(), gontpAlias[0], gontpAlias[1]))

	toClassic := []string{classic.Addr().String(), classicAlias[0], classicAlias[1]}
	toGontp := []string{gh.Addr().String(), gontpAlias[0], gontpAlias[1]}
	ok := func(rows map[string]assocRow, addrs []string) bool {
		for _, a := range addrs {
			if r := rows[a]; r.auth != "ok" || r.reach != "yes" || !strings.Contains("sys.peer candidate outlier", r.condition) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		gRows := associations(t, client, ref, gh.Addr().String())
		cRows := associations(t, client, ref, "127.0.0.1")
		if ok(gRows, toClassic) && ok(cRows, toGontp) {
			t.Logf("gontp's associations to classic: %+v", gRows)
			t.Logf("classic's associations to gontp: %+v", cRows)
			break
		}
		if time.Now().After(deadline) {
			out, _ := client.Run(t, 10*time.Second, filepath.Join(ref, "classic-ntpq"), "-n", "-c", "pe", gh.Addr().String())
			t.Fatalf("after 3 minutes: gontp's %+v\nclassic client's %+v\ngontp's ntpq -pn:\n%s\ngontp log:\n%s", gRows, cRows,
				strings.TrimSpace(string(out)), g.Log())
		}
		time.Sleep(3 * time.Second)
	}
}
