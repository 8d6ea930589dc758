// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/internal/netio"
	"gontp/internal/nts"
	"gontp/internal/ntske/testca"
	"gontp/internal/wire"
	"gontp/ntpconf"
)

func TestNTSConfig(t *testing.T) {
	ca := testca.New(t, "localhost")
	rc, logs := apply(t, fmt.Sprintf(`server time.example nts iburst
pool pool.example nts noval
server 198.18.0.9 noval
nts ca %s
nts aead AES_SIV_CMAC_512
nts enable
nts cert %s
nts key %s
nts cookie /var/lib/gontp/nts-keys
`, ca.CA, ca.Cert, ca.Key), 0)
	if len(rc.problems) != 0 {
		t.Fatalf("problems: %v", rc.problems)
	}
	c := rc.nts.clients
	if len(c) != 2 || c[0].name != "time.example" || c[0].noval || !c[0].peer.NTS || !c[0].peer.IBurst ||
		c[1].name != "pool.example" || !c[1].noval {
		t.Fatalf("NTS clients %+v", c)
	}
	if len(rc.engine.Servers) != 1 || len(rc.engine.Pools) != 0 || len(rc.named) != 0 {
		t.Errorf("NTS lines also became plain associations: %+v %+v %+v", rc.engine.Servers, rc.engine.Pools, rc.named)
	}
	if !strings.Contains(logs, "ntp.conf:3:1: server 198.18.0.9: noval applies only with nts") {
		t.Errorf("no warning for noval without nts:\n%s", logs)
	}
	if !rc.nts.serve || rc.nts.cert == nil || rc.nts.cookie != "/var/lib/gontp/nts-keys" || rc.nts.ca == nil ||
		len(rc.nts.aeads) != 1 || rc.nts.aeads[0] != nts.AEADAESSIVCMAC512 {
		t.Errorf("NTS settings %+v", rc.nts)
	}
	var logs2 strings.Builder
	pool, tc := loadNTSFiles(rc.nts, slog.New(slog.NewTextHandler(&logs2, nil)))
	if pool == nil || tc == nil || logs2.Len() != 0 {
		t.Errorf("NTS files not loaded: %v %v %s", pool, tc, logs2.String())
	}
	if strings.Contains(logs, `"nts" is read but`) {
		t.Errorf("nts named as not acted on:\n%s", logs)
	}
}

func TestNTSConfigProblems(t *testing.T) {
	for _, c := range []struct{ conf, want string }{
		{"nts enable\n", "nts enable: the NTS server needs `nts cert FILE` and `nts key FILE`"},
		{"nts aead AES_GCM\n", `ntp.conf:1:10: nts aead: unsupported NTS AEAD algorithm "AES_GCM"`},
	} {
		rc, _ := apply(t, c.conf, 0)
		if len(rc.problems) != 1 || !strings.HasPrefix(rc.problems[0], c.want) {
			t.Errorf("%q: problems %q, want %q", c.conf, rc.problems, c.want)
		}
		if rc.nts.serve {
			t.Errorf("%q: NTS server would start", c.conf)
		}
	}
	// Files are read at start only (loadNTSFiles), each problem with its file:line.
	for _, c := range []struct{ conf, want string }{
		{"nts enable\nnts cert /nonexistent/cert.pem\nnts key /nonexistent/key.pem\n", "ntp.conf:2:10: nts cert /nonexistent/cert.pem"},
		{"nts ca /nonexistent/ca.pem\n", "ntp.conf:1:8: nts ca: open /nonexistent/ca.pem"},
	} {
		rc, _ := apply(t, c.conf, 0)
		if len(rc.problems) != 0 {
			t.Errorf("%q: applying the configuration read a file: %q", c.conf, rc.problems)
		}
		var logs strings.Builder
		pool, tc := loadNTSFiles(rc.nts, slog.New(slog.NewTextHandler(&logs, nil)))
		if pool != nil || tc != nil || !strings.Contains(logs.String(), c.want) {
			t.Errorf("%q: loaded %v %v, log %s; want %q", c.conf, pool, tc, logs.String(), c.want)
		}
	}
}

// TestNTSReplyAllocations: the daemon's NTS reply path allocates only the AES key schedules
// of the client's two session keys (4 allocations, internal/nts TestResponderAllocs).
func TestNTSReplyAllocations(t *testing.T) {
	ring := nts.NewKeyRing()
	if _, err := ring.Rotate(time.Now(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	c2s, s2c := make([]byte, 32), make([]byte, 32)
	rand.Read(c2s)
	rand.Read(s2c)
	var cookies [][]byte
	for range 8 {
		c, _ := ring.AppendCookie(nil, nts.AEADAESSIVCMAC256, c2s, s2c, rand.Reader)
		cookies = append(cookies, c)
	}
	sess, err := nts.NewSession(nts.AEADAESSIVCMAC256, c2s, s2c, cookies)
	if err != nil {
		t.Fatal(err)
	}
	req := make([]byte, wire.HeaderLen, 1500)
	(&wire.Packet{Version: 4, Mode: wire.ModeClient}).Encode(req)
	req, err = sess.AppendRequest(req, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{now: time.Now, log: slog.New(slog.DiscardHandler)}
	d.nts = &ntsState{ring: ring}
	d.nts.responder.New = func() any { return &nts.Responder{Ring: ring, Rand: rand.Reader} }
	reply := make([]byte, netio.MaxReply)
	(&wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 2}).Encode(reply)
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		var hook netio.TxHook
		n, hook = d.ntsReply(req, reply, wire.HeaderLen+4)
		if hook != nil {
			t.Fatal("an NTS reply must not be stamped after its authenticator")
		}
	})
	if n <= wire.HeaderLen {
		t.Fatalf("no NTS reply (%d octets)", n)
	}
	var p wire.Packet
	tr, err := wire.Decode(reply[:n], &p)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.CheckResponse(reply[:n], &p, &tr); err != nil {
		t.Fatalf("the client refuses the daemon's reply: %v", err)
	}
	t.Logf("%v allocations per NTS reply", allocs)
	if allocs > 4 {
		t.Errorf("%v allocations per NTS reply, want at most 4 (the AES key schedules)", allocs)
	}
}

// TestNTSLinesReloadGroup: server and pool lines with nts belong to the nts group, which a
// reload reports as needing a restart, not to the pool group or the line-by-line servers.
func TestNTSLinesReloadGroup(t *testing.T) {
	parse := func(src string) map[string]string {
		cfg, err := ntpconf.ParseBytes("ntp.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return groupTexts(cfg)
	}
	a := parse("pool p.example iburst\nserver a.example nts\n")
	b := parse("pool p.example iburst\nserver a.example nts\npool q.example nts\nnts ca /x.pem\n")
	if a["pool"] != b["pool"] {
		t.Errorf("pool group changed by an NTS pool line: %q vs %q", a["pool"], b["pool"])
	}
	if a["nts"] != "server a.example nts\n" || !strings.Contains(b["nts"], "pool q.example nts\n") ||
		!strings.Contains(b["nts"], "nts ca /x.pem\n") {
		t.Errorf("nts group %q / %q", a["nts"], b["nts"])
	}
}

// syncLog is a goroutine-safe log buffer.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNTSKeyExchangeBackOff: an NTS-KE server that refuses connections is tried again after
// waits that double, each failure logged with the line and counted.
func TestNTSKeyExchangeBackOff(t *testing.T) {
	first, max := ntsRetryFirst, ntsRetryMax
	ntsRetryFirst, ntsRetryMax = 10*time.Millisecond, 40*time.Millisecond
	defer func() { ntsRetryFirst, ntsRetryMax = first, max }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every connection is refused
	var logs syncLog
	ctx, cancel := context.WithCancel(context.Background())
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logs, nil)), stopping: ctx.Done()}
	d.nts = &ntsState{ctx: ctx}
	done := make(chan struct{})
	go func() {
		d.ntsKeyExchange(ctx, ntsClientLine{pos: "ntp.conf:1:1", name: addr})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for d.nts.stats.keBad.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{"retrying in 10ms", "retrying in 20ms", "retrying in 40ms"} {
		if !strings.Contains(out, "ntp.conf:1:1: NTS-KE with "+addr+" failed") || !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "retrying in 80ms") {
		t.Errorf("back-off beyond its maximum:\n%s", out)
	}
	if n := d.nts.stats.keBad.Load(); n < 5 {
		t.Errorf("%d failures counted", n)
	}
}
