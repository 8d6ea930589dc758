// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gontp/internal/daemon"
	"gontp/internal/snapshot"
	"gontp/internal/testnet"
	"gontp/internal/wire"
)

// TestBroadcastServerToClassic is issue 19's broadcast acceptance, server side: gontp,
// synchronised to a chronyd (`local stratum 8`) on its virtual clock, has `broadcast
// 198.18.0.255 minpoll 4` (and, in the multicast case, `broadcast 224.0.1.1 minpoll 4`);
// classic ntpd 4.2.8p15 on another host has `broadcastclient` (or `multicastclient
// 224.0.1.1`) and `disable auth`, and no server line. Classic must mobilise a broadcast
// client association for gontp (after its client-mode volley, which gontp answers as any
// server), select it and serve at stratum 10. In the "key" case gontp signs its
// broadcasts with key 2 (SHA1) and classic has the keys and `enable auth` instead of
// `disable auth`.
func TestBroadcastServerToClassic(t *testing.T) {
	for _, tc := range []struct {
		name, gontp, classic string
	}{
		{"broadcast", fmt.Sprintf("broadcast %s minpoll 4\n", testnet.BroadcastAddr), "broadcastclient\n"},
		{"multicast", "broadcast 224.0.1.1 minpoll 4\n", "multicastclient 224.0.1.1\n"},
		{"key", fmt.Sprintf("broadcast %s key 2 minpoll 4\n", testnet.BroadcastAddr), "broadcastclient\n"},
		// IPv6: a site-local group on the private bridge; gontp sends from its link-local
		// address, so classic's refid for it is the address's hash, not an IPv4 address.
		{"multicast6", "broadcast ff05::101 minpoll 4\n", "multicastclient ff05::101\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // minutes of waiting on its own network
			ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq", "chronyd")
			auth := "disable auth\n"
			if tc.name == "key" {
				// Authenticated: both sides have the keys, classic keeps `enable auth`.
				keys := testnet.WriteFile(t, "ntp.keys", sharedKeys)
				auth = fmt.Sprintf("keys %s\ntrustedkey 1 2 3 6\n", keys)
				tc.gontp = auth + tc.gontp
			}
			tn := testnet.New(t)
			chrony := tn.Host("chrony")
			server := tn.Host("gontp")
			client := tn.Host("classic")
			testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
			virtual := daemon.ClockOptions{VirtualClock: "0,0"}
			runGontpInProcessClock(t, server, fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\n", chrony.Addr())+tc.gontp, nil, virtual)
			testnet.ClassicNTPD(t, client, auth+tc.classic)
			deadline := time.Now().Add(3 * time.Minute)
			for {
				stratum, refid, _ := classicSys(t, client, ref)
				rows := classicPeers(t, client, ref)
				if stratum == 10 && (refid == server.Addr().String() || tc.name == "multicast6" && gontpRow(rows)) {
					t.Logf("classic: stratum %d refid %s, peers %+v", stratum, refid, rows)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes classic is at stratum %d refid %s, peers %+v", stratum, refid, rows)
				}
				time.Sleep(2 * time.Second)
			}
		})
	}
}

// gontpRow reports whether classic's system peer is an IPv6 link-local address (gontp's,
// the only IPv6 sender on the private network).
func gontpRow(rows []ntpqPeer) bool {
	for _, r := range rows {
		if r.tally == '*' && strings.HasPrefix(r.remote, "fe80:") {
			return true
		}
	}
	return false
}

// linkLocalPeer is the association with an IPv6 link-local address (the IPv6 multicast
// server's, the only IPv6 sender on the private network).
func linkLocalPeer(s *snapshot.Snapshot) (snapshot.Peer, bool) {
	for _, p := range s.Peers {
		if p.Vars.Addr.Addr().Is6() && p.Vars.Addr.Addr().IsLinkLocalUnicast() {
			return p, true
		}
	}
	return snapshot.Peer{}, false
}

// TestBroadcastClientGontp is the client side: a broadcast server (classic ntpd 4.2.8p15,
// or gontp), synchronised to a chronyd at stratum 8, sends to the private network's
// broadcast address or to the group 224.0.1.1 every 16 s; gontp with `broadcastclient`
// (or `multicastclient 224.0.1.1`) and `disable auth`, and no server line, must mobilise
// a broadcast client association for it after its volley, select it and serve at stratum
// 10 (on its virtual clock), having used at least one broadcast (pmode 5) after the volley.
func TestBroadcastClientGontp(t *testing.T) {
	for _, tc := range []struct {
		name, server, cast, client string
	}{
		{"classic-broadcast", "classic", fmt.Sprintf("broadcast %s minpoll 4\n", testnet.BroadcastAddr), "broadcastclient\n"},
		{"classic-multicast", "classic", "broadcast 224.0.1.1 minpoll 4\n", "multicastclient 224.0.1.1\n"},
		{"gontp-broadcast", "gontp", fmt.Sprintf("broadcast %s minpoll 4\n", testnet.BroadcastAddr), "broadcastclient\n"},
		{"gontp-multicast", "gontp", "broadcast 224.0.1.1 minpoll 4\n", "multicastclient 224.0.1.1\n"},
		// IPv6: the server sends from its link-local address to a site-local group.
		{"classic-multicast6", "classic", "broadcast ff05::101 minpoll 4\n", "multicastclient ff05::101\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // minutes of waiting on its own network
			testnet.Reference(t, "classic-ntpd", "chronyd")
			tn := testnet.New(t)
			chrony := tn.Host("chrony")
			server := tn.Host("server")
			client := tn.Host("client")
			testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
			virtual := daemon.ClockOptions{VirtualClock: "0,0"}
			up := fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\n", chrony.Addr())
			if tc.server == "classic" {
				testnet.ClassicNTPD(t, server, up+tc.cast)
			} else {
				runGontpInProcessClock(t, server, up+tc.cast, nil, virtual)
			}
			snap, _ := runGontpInProcessClock(t, client, "disable auth\n"+tc.client, nil, virtual)
			deadline := time.Now().Add(3 * time.Minute)
			for {
				s := snap()
				p, ok := findPeer(s, server.Addr())
				if tc.name == "classic-multicast6" {
					p, ok = linkLocalPeer(s)
				}
				if ok && s.SysPeer == p.ID && s.Sys.Stratum == 10 && p.Vars.HMode == 6 && p.Vars.PMode == wire.ModeBroadcast && !p.Vars.Configured {
					t.Logf("gontp: stratum %d, association %+v", s.Sys.Stratum, p.Vars)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes gontp is at stratum %d, sys peer %d, association for the server %v: %+v", s.Sys.Stratum, s.SysPeer, ok, p.Vars)
				}
				time.Sleep(2 * time.Second)
			}
		})
	}
}

// TestManycastServerToClassic is half of issue 19's manycast acceptance: gontp, synchronised
// to a chronyd at stratum 8 on its virtual clock, has `manycastserver 224.0.1.1`; classic
// ntpd 4.2.8p15 with `manycastclient 224.0.1.1` and `disable auth` must find it (its
// solicitation to the group is answered from gontp's unicast address), mobilise an
// association for it and synchronise to it at stratum 10.
func TestManycastServerToClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq", "chronyd")
	tn := testnet.New(t)
	chrony := tn.Host("chrony")
	server := tn.Host("gontp")
	client := tn.Host("classic")
	testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
	virtual := daemon.ClockOptions{VirtualClock: "0,0"}
	runGontpInProcessClock(t, server, fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nmanycastserver 224.0.1.1\n", chrony.Addr()), nil, virtual)
	testnet.ClassicNTPD(t, client, "disable auth\nmanycastclient 224.0.1.1 minpoll 3\n")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		stratum, refid, _ := classicSys(t, client, ref)
		rows := classicPeers(t, client, ref)
		if stratum == 10 && refid == server.Addr().String() {
			t.Logf("classic: stratum %d refid %s, peers %+v", stratum, refid, rows)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes classic is at stratum %d refid %s, peers %+v", stratum, refid, rows)
		}
		time.Sleep(2 * time.Second)
	}
}

// TestManycastClientGontp is the other half: a manycast server (classic ntpd 4.2.8p15 or
// gontp with `manycastserver 224.0.1.1`), synchronised to a chronyd at stratum 8; gontp
// with `manycastclient 224.0.1.1 minpoll 3` and `disable auth` must find it, mobilise a
// client association for it and serve at stratum 10.
func TestManycastClientGontp(t *testing.T) {
	for _, impl := range []string{"classic", "gontp"} {
		t.Run(impl, func(t *testing.T) {
			t.Parallel() // minutes of waiting on its own network
			testnet.Reference(t, "classic-ntpd", "chronyd")
			tn := testnet.New(t)
			chrony := tn.Host("chrony")
			server := tn.Host("server")
			client := tn.Host("client")
			testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
			virtual := daemon.ClockOptions{VirtualClock: "0,0"}
			conf := fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nmanycastserver 224.0.1.1\n", chrony.Addr())
			if impl == "classic" {
				testnet.ClassicNTPD(t, server, "disable auth\n"+conf)
			} else {
				runGontpInProcessClock(t, server, conf, nil, virtual)
			}
			snap, _ := runGontpInProcessClock(t, client, "disable auth\nmanycastclient 224.0.1.1 minpoll 3\n", nil, virtual)
			deadline := time.Now().Add(3 * time.Minute)
			for {
				s := snap()
				p, ok := findPeer(s, server.Addr())
				if ok && s.SysPeer == p.ID && s.Sys.Stratum == 10 && !p.Vars.Configured && p.Vars.Preempt {
					t.Logf("gontp: stratum %d, found %s (reach %o)", s.Sys.Stratum, p.Vars.Addr, p.Vars.Reach)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes gontp is at stratum %d, sys peer %d, association for the server %v: %+v", s.Sys.Stratum, s.SysPeer, ok, p.Vars)
				}
				time.Sleep(2 * time.Second)
			}
		})
	}
}

// TestManycastWithKeys is issue 19's symmetric-key manycast, against classic ntpd 4.2.8p15
// with its default `enable auth`: the manycast client's line has `key 2` (SHA1), its
// solicitations are signed with it and only replies signed with it are taken. Both ways:
// classic `manycastclient 224.0.1.1 key 2` finds gontp's `manycastserver 224.0.1.1` and
// synchronises to it at stratum 10; gontp `manycastclient 224.0.1.1 key 2` finds classic's
// manycast server, keeps the key on the association (auth ok) and serves at stratum 10.
func TestManycastWithKeys(t *testing.T) {
	for _, client := range []string{"classic", "gontp"} {
		t.Run(client+" client", func(t *testing.T) {
			t.Parallel() // minutes of waiting on its own network
			ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq", "chronyd")
			tn := testnet.New(t)
			chrony := tn.Host("chrony")
			sh := tn.Host("server")
			ch := tn.Host("client")
			testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
			keys := testnet.WriteFile(t, "ntp.keys", sharedKeys)
			auth := fmt.Sprintf("keys %s\ntrustedkey 1 2\n", keys)
			virtual := daemon.ClockOptions{VirtualClock: "0,0"}
			srvConf := auth + fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nmanycastserver 224.0.1.1\n", chrony.Addr())
			cliConf := auth + "manycastclient 224.0.1.1 key 2 minpoll 3\n"
			deadline := time.Now().Add(3 * time.Minute)
			if client == "classic" {
				runGontpInProcessClock(t, sh, srvConf, nil, virtual)
				testnet.ClassicNTPD(t, ch, cliConf)
				for {
					stratum, refid, _ := classicSys(t, ch, ref)
					if stratum == 10 && refid == sh.Addr().String() {
						t.Logf("classic: stratum %d refid %s, peers %+v", stratum, refid, classicPeers(t, ch, ref))
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("after 3 minutes classic is at stratum %d refid %s, peers %+v", stratum, refid, classicPeers(t, ch, ref))
					}
					time.Sleep(2 * time.Second)
				}
			}
			testnet.ClassicNTPD(t, sh, srvConf)
			snap, logs := runGontpInProcessClock(t, ch, cliConf, nil, virtual)
			for {
				s := snap()
				p, ok := findPeer(s, sh.Addr())
				if ok && s.SysPeer == p.ID && s.Sys.Stratum == 10 && p.Vars.KeyID == 2 && p.Vars.Authentic {
					t.Logf("gontp: stratum %d, found %s with key %d (reach %o)", s.Sys.Stratum, p.Vars.Addr, p.Vars.KeyID, p.Vars.Reach)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes gontp is at stratum %d, sys peer %d, association for the server %v: %+v\n%s", s.Sys.Stratum, s.SysPeer, ok, p.Vars, logs)
				}
				time.Sleep(2 * time.Second)
			}
		})
	}
}
