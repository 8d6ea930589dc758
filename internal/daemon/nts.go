// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gontp/internal/control"
	"gontp/internal/engine"
	"gontp/internal/netio"
	"gontp/internal/ntptime"
	"gontp/internal/nts"
	"gontp/internal/ntske"
	"gontp/internal/wire"
	"gontp/ntpconf"
	"gontp/peer"
)

// Network Time Security (RFC 8915) in the daemon: the `nts` lines of ntp.conf (NTPsec's
// syntax, ntpconf/nts.go), the NTS-KE server on TCP 4460 with its master key file, the NTS
// fields of the server's replies, and the client side of `server NAME nts` associations.
// The protocol itself is internal/nts (pure) and internal/ntske (TLS).

// DefaultNTSCookieFile is where the master keys live without `nts cookie` (NTPsec's default).
const DefaultNTSCookieFile = "/var/lib/ntp/nts-keys"

// ntsKEListen is the NTS-KE server's address (RFC 8915 section 4: TCP 4460).
var ntsKEListen = fmt.Sprintf(":%d", nts.DefaultKEPort)

// Back-off of a client's NTS-KE after a failure: the wait doubles from ntsRetryFirst up to
// ntsRetryMax (variables for the tests).
var (
	ntsRetryFirst = 2 * time.Second
	ntsRetryMax   = time.Hour
)

// ntsClientLine is a `server NAME nts` (or `pool NAME nts`) line.
type ntsClientLine struct {
	pos    string
	name   string
	family int
	noval  bool
	peer   peer.Config
}

// ntsConf is what the configuration says about NTS.
type ntsConf struct {
	serve     bool
	cert, key *ntpconf.NTSOption // the server's certificate and key files
	ca        *ntpconf.NTSOption // the clients' trusted authorities; nil: the system's
	cookie    string
	aeads     []uint16
	clients   []ntsClientLine
}

// ntsFromConfig reads the `nts` lines, logging every problem with its file:line. It reads
// no file: the certificate, key and authorities are loaded once, at start, before root is
// dropped (loadNTSFiles), so that a reload by an unprivileged daemon does not trip over
// files only root may read (`nts` changes at a restart anyway).
func ntsFromConfig(cfg *ntpconf.Config, nc *ntsConf, log *slog.Logger) {
	if o := cfg.NTSSetting("aead"); o != nil {
		a, err := nts.ParseAEADList(o.Value)
		if err != nil {
			log.Error(fmt.Sprintf("%s: nts aead: %v", o.ValuePos, err))
		} else {
			nc.aeads = a
		}
	}
	nc.ca = cfg.NTSSetting("ca")
	nc.cookie = DefaultNTSCookieFile
	if o := cfg.NTSSetting("cookie"); o != nil {
		nc.cookie = o.Value
	}
	if !cfg.NTSEnabled() {
		return
	}
	nc.cert, nc.key = cfg.NTSSetting("cert"), cfg.NTSSetting("key")
	if nc.cert == nil || nc.key == nil {
		log.Error("nts enable: the NTS server needs `nts cert FILE` and `nts key FILE`; it is not started")
		return
	}
	nc.serve = true
}

// loadNTSFiles reads the authorities of `nts ca` and the server's certificate and key. A
// file that cannot be used is logged with its file:line: the clients then trust the system's
// authorities, the server does not start.
func loadNTSFiles(nc ntsConf, log *slog.Logger) (rootCAs *x509.CertPool, tc *tls.Config) {
	if o := nc.ca; o != nil {
		pem, err := os.ReadFile(o.Value)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			log.Error(fmt.Sprintf("%s: nts ca: %v; NTS clients use the system's authorities", o.ValuePos, err))
		case !pool.AppendCertsFromPEM(pem):
			log.Error(fmt.Sprintf("%s: nts ca %s: no PEM certificate in it; NTS clients use the system's authorities", o.ValuePos, o.Value))
		default:
			rootCAs = pool
		}
	}
	if !nc.serve {
		return rootCAs, nil
	}
	pair, err := tls.LoadX509KeyPair(nc.cert.Value, nc.key.Value)
	if err != nil {
		log.Error(fmt.Sprintf("%s: nts cert %s / key %s: %v; the NTS server is not started", nc.cert.ValuePos, nc.cert.Value, nc.key.Value, err))
		return rootCAs, nil
	}
	return rootCAs, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13}
}

// ntsStats are the daemon's NTS counters (NTPsec's ntsinfo names in the comments).
type ntsStats struct {
	served     atomic.Uint64 // server: NTS requests answered (server recv good)
	nakSent    atomic.Uint64 // server: NTS NAKs sent (bad cookie or authenticator)
	badRequest atomic.Uint64 // server: malformed NTS requests dropped (server recv bad)
	clientSend atomic.Uint64 // client: NTS requests sent (client send)
	clientGood atomic.Uint64 // client: replies authenticated (client recv good)
	clientBad  atomic.Uint64 // client: replies refused, no time taken (client recv bad)
	clientNAK  atomic.Uint64 // client: NTS NAKs received
	keGood     atomic.Uint64 // client: NTS-KE exchanges that succeeded
	keBad      atomic.Uint64 // client: NTS-KE exchanges that failed
}

// ntsState is the daemon's NTS part.
type ntsState struct {
	conf  ntsConf
	stats ntsStats
	// server
	ring      *nts.KeyRing
	keyFile   *ntske.KeyFile
	ke        *ntske.Server
	ln        net.Listener
	responder sync.Pool // *nts.Responder, one per receive loop in use
	// client, owned by the engine goroutine
	peers   map[netip.AddrPort]*ntsPeer
	ctx     context.Context
	rootCAs *x509.CertPool
}

// ntsPeer is the NTS state of one client association.
type ntsPeer struct {
	line     ntsClientLine
	sess     *nts.Session // nil while (re-)keying
	rekeying bool
	retry    time.Duration
}

// startNTS loads the NTS files, opens the NTS-KE listener and loads the master keys (before
// root is dropped),
// and starts the NTS-KE of every NTS association. An NTS server that cannot start (port
// 4460 taken, no master key) is logged and left out; plain NTP is served all the same.
func (d *Daemon) startNTS(ctx context.Context, nc ntsConf) {
	if !nc.serve && len(nc.clients) == 0 {
		return
	}
	st := &ntsState{conf: nc, peers: map[netip.AddrPort]*ntsPeer{}, ctx: ctx}
	d.nts = st
	var tc *tls.Config
	st.rootCAs, tc = loadNTSFiles(nc, d.log)
	nc.serve = tc != nil
	var ln net.Listener
	if nc.serve {
		st.ring = nts.NewKeyRing()
		st.keyFile = &ntske.KeyFile{Path: nc.cookie, Ring: st.ring, Rand: rand.Reader}
		if err := st.keyFile.Load(); err != nil {
			// Unreadable keys: start with new ones (clients re-key), but say so.
			d.log.Error(fmt.Sprintf("nts cookie %s: %v; starting with new master keys", nc.cookie, err))
		}
		if _, err := st.keyFile.Rotate(time.Now()); err != nil {
			d.log.Error(fmt.Sprintf("nts cookie %s: %v", nc.cookie, err))
		}
		var err error
		ln, err = net.Listen("tcp", ntsKEListen)
		if err == nil && st.ring.Len() == 0 {
			ln.Close()
			err = errors.New("no master key for cookies")
		}
		if err != nil {
			// Plain NTP keeps being served; the NTS server is what fails, and says so.
			d.log.Error(fmt.Sprintf("nts enable: the NTS server is not started: %v", err))
			st.ring = nil
			nc.serve = false
		}
	}
	if st.ring != nil {
		st.ln = ln
		st.ke = &ntske.Server{TLS: tc, Ring: st.ring, Rand: rand.Reader, AEADs: nc.aeads, Log: d.log}
		st.responder.New = func() any { return &nts.Responder{Ring: st.ring, Rand: rand.Reader} }
		go func() {
			if err := st.ke.Serve(ln); err != nil {
				d.log.Error("NTS-KE server stopped", "error", err)
			}
		}()
		go func() {
			<-ctx.Done()
			ln.Close()
		}()
		go d.rotateNTSKeys(ctx)
		d.srv.AcceptNTS(true)
		d.log.Info(fmt.Sprintf("NTS-KE server listening on TCP %s, master keys in %s", ln.Addr(), nc.cookie))
	}
	for _, l := range nc.clients {
		go d.ntsKeyExchange(ctx, l)
	}
}

// ntsInfo gathers the NTS counters for mode 6 (NTPsec's ntsinfo).
func (d *Daemon) ntsInfo() control.NTSStats {
	st := d.nts
	c := &st.stats
	n := control.NTSStats{
		ClientSend: c.clientSend.Load(), ClientRecvGood: c.clientGood.Load(),
		ClientRecvBad:  c.clientBad.Load() + c.clientNAK.Load(),
		ServerRecvGood: c.served.Load(), ServerRecvBad: c.nakSent.Load() + c.badRequest.Load(),
		ServerSend:   c.served.Load() + c.nakSent.Load(),
		KEProbesGood: c.keGood.Load(), KEProbesBad: c.keBad.Load(),
	}
	if st.ring != nil {
		r := &st.ring.Stats
		n.CookieMake = r.Made.Load()
		n.CookieDecode = r.Decoded[0].Load()
		n.CookieDecodeOld = r.Decoded[1].Load()
		n.CookieDecodeOld2 = r.Decoded[2].Load()
		n.CookieDecodeOlder = r.Decoded[3].Load()
		n.CookieDecodeTooOld = r.TooOld.Load()
		n.CookieDecodeError = r.Errors.Load()
	}
	if st.ke != nil {
		k := &st.ke.Stats
		n.KEServesGood = k.Serves.Load()
		n.KEServesBad = k.NoAEAD.Load() + k.BadRequest.Load() + k.TLSFail.Load() + k.Busy.Load()
	}
	return n
}

// rotateNTSKeys makes a new master key daily and saves the ring (ntske.KeyFile.Rotate).
func (d *Daemon) rotateNTSKeys(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := d.nts.keyFile.Rotate(time.Now()); err != nil {
				d.log.Error("NTS master key rotation", "error", err)
			} else if changed {
				d.log.Info("NTS master keys rotated")
			}
		}
	}
}

// ntsKeyExchange runs NTS-KE for a line until it succeeds, backing off, then mobilises the
// association (or gives an existing one its new session).
func (d *Daemon) ntsKeyExchange(ctx context.Context, l ntsClientLine) {
	wait := ntsRetryFirst
	for {
		res, err := ntske.Exchange(ctx, ntske.ClientConfig{Address: l.name, RootCAs: d.nts.rootCAs,
			NoVerify: l.noval, AEADs: d.nts.conf.aeads})
		var addr netip.AddrPort
		if err == nil {
			var addrs []netip.Addr
			addrs, err = d.lookup(ctx, network(l.family, d.opts.Family), res.NTPHost)
			if err == nil {
				addr = netip.AddrPortFrom(addrs[0], res.NTPPort)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			d.nts.stats.keGood.Add(1)
			d.post(func(e *engine.Engine, now time.Time) []engine.Send {
				d.ntsInstall(e, l, addr, res.Session, now)
				return nil
			})
			return
		}
		d.nts.stats.keBad.Add(1)
		d.log.Warn(fmt.Sprintf("%s: NTS-KE with %s failed: %v; retrying in %v", l.pos, l.name, err, wait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, ntsRetryMax)
	}
}

// ntsInstall runs on the engine goroutine: it registers the session for addr before the
// association exists, so that no packet of it is ever taken unauthenticated.
func (d *Daemon) ntsInstall(e *engine.Engine, l ntsClientLine, addr netip.AddrPort, s *nts.Session, now time.Time) {
	if p := d.nts.peers[addr]; p != nil {
		p.sess, p.rekeying, p.retry = s, false, 0
		d.log.Info(fmt.Sprintf("%s: NTS-KE with %s: new keys and %d cookies", l.pos, l.name, s.Cookies()))
		return
	}
	d.nts.peers[addr] = &ntsPeer{line: l, sess: s}
	pc := l.peer
	pc.Addr = addr
	if _, err := e.AddServer(pc, now); err != nil {
		d.log.Error(fmt.Sprintf("%s: %s %s: %v", l.pos, l.name, addr, err))
		delete(d.nts.peers, addr)
		return
	}
	d.log.Info(fmt.Sprintf("%s: NTS-KE with %s: %s, %d cookies, NTP at %s", l.pos, l.name,
		nts.AEADName(s.AEAD), s.Cookies(), addr))
}

// ntsRekey starts a new NTS-KE for p unless one is running (engine goroutine).
func (d *Daemon) ntsRekey(p *ntsPeer, why string) {
	p.sess = nil
	if p.rekeying {
		return
	}
	p.rekeying = true
	d.log.Info(fmt.Sprintf("%s: %s: %s; new NTS-KE", p.line.pos, p.line.name, why))
	go d.ntsKeyExchange(d.nts.ctx, p.line)
}

// ntsSend sends an association's request with NTS fields, if the association is an NTS
// one; it reports whether it handled s. The transmit timestamp is written before the
// authenticator is computed (it is part of the authenticated data), so it is taken a few
// microseconds before the send rather than in the send hook.
func (d *Daemon) ntsSend(sock *netio.Socket, s engine.Send) bool {
	if d.nts == nil {
		return false
	}
	p := d.nts.peers[s.To]
	if p == nil {
		return false
	}
	if p.sess == nil {
		return true // keying: no request without a session, so no reply to trust
	}
	var buf [netio.MaxPacket]byte
	b := buf[:wire.HeaderLen]
	s.Packet.Encode(b)
	actual := ntptime.FromTime(d.now())
	wire.PutXmt(b, actual)
	b, err := p.sess.AppendRequest(b, rand.Reader)
	if errors.Is(err, nts.ErrJarEmpty) {
		d.ntsRekey(p, "no cookie left")
		return true
	}
	if err != nil {
		d.log.Error("NTS request", "to", s.To.String(), "error", err)
		return true
	}
	if err := sock.SendTo(b, s.To, nil); err != nil {
		d.log.Debug("send failed", "to", s.To.String(), "error", err)
		return true
	}
	d.nts.stats.clientSend.Add(1)
	d.eng.Transmitted(s.To, s.Packet.Xmt, actual)
	return true
}

// ntsAccept checks a reply to an NTS association before the engine sees it (engine
// goroutine). Replies that fail are dropped and counted: no time is ever taken from an
// unauthenticated reply of an NTS association. An NTS NAK answering the last request
// starts a new NTS-KE.
func (d *Daemon) ntsAccept(in inbound) ntsVerdict {
	if d.nts == nil {
		return ntsPlain
	}
	p := d.nts.peers[in.src]
	if p == nil {
		return ntsPlain
	}
	if p.sess == nil {
		d.nts.stats.clientBad.Add(1)
		return ntsRefused
	}
	var pkt wire.Packet
	tr, err := wire.Decode(in.data, &pkt)
	if err == nil {
		err = p.sess.CheckResponse(in.data, &pkt, &tr)
	}
	switch {
	case err == nil:
		d.nts.stats.clientGood.Add(1)
		return ntsVerified
	case errors.Is(err, nts.ErrNAK):
		d.nts.stats.clientNAK.Add(1)
		d.ntsRekey(p, "NTS NAK")
		return ntsRefused
	default:
		d.nts.stats.clientBad.Add(1)
		d.log.Info(fmt.Sprintf("%s: reply from %s refused: %v", p.line.pos, in.src, err))
		return ntsRefused
	}
}

// ntsVerdict is what ntsAccept decided about an association's packet.
type ntsVerdict uint8

const (
	ntsPlain    ntsVerdict = iota // not an NTS association: the engine's own checks apply
	ntsVerified                   // NTS reply verified: hand it to the engine as authenticated
	ntsRefused                    // NTS association, reply not verified: drop it
)

// ntsStampXmt writes the transmit timestamp of an NTS NAK just before the send; a NAK carries
// no MAC (its unique identifier field must not be taken for one).
func ntsStampXmt(b []byte, now time.Time) { wire.PutXmt(b, ntptime.FromTime(now)) }

// ntsReply adds the NTS fields to the reply the server made to req (n octets in reply), if
// req is an NTS request. It returns the reply's length and the transmit-stamp hook, as the
// handler does: an NTS reply is stamped before its authenticator is computed, so it has no
// hook. A request whose cookie or authenticator fails gets an NTS NAK; a malformed one is
// dropped.
func (d *Daemon) ntsReply(req, reply []byte, n int) (int, netio.TxHook) {
	var pkt wire.Packet
	tr, err := wire.Decode(req, &pkt)
	if err != nil || !nts.IsNTS(&tr) {
		return n, d.stampSeal
	}
	// Classic's fast_xmit appends a crypto-NAK to a reply to any request longer than the
	// header (it cannot verify what follows); an NTS reply has the NTS fields instead.
	n = wire.HeaderLen
	st := d.nts
	r := st.responder.Get().(*nts.Responder)
	defer st.responder.Put(r)
	err = r.Verify(req, &tr)
	switch {
	case err == nil:
		r.FitReply(n, len(reply))
		if r.ReplyLen(n) > len(reply) {
			st.stats.badRequest.Add(1)
			return 0, nil
		}
		wire.PutXmt(reply, ntptime.FromTime(d.now()))
		out, err := r.AppendReply(reply[:n])
		if err != nil {
			d.log.Error("NTS reply", "error", err)
			return 0, nil
		}
		st.stats.served.Add(1)
		return len(out), nil
	case r.UniqueID() != nil && (errors.Is(err, nts.ErrCookieKey) || errors.Is(err, nts.ErrCookieInvalid) || errors.Is(err, nts.ErrAuthFailed)):
		// NTS NAK (RFC 8915 section 5.7): a kiss-o'-death NTSN with the unique identifier,
		// unauthenticated; the client checks the identifier and re-keys.
		reply[0] = wire.LeapAlarm<<6 | reply[0]&0x3f
		reply[1] = wire.StratumUnspec
		copy(reply[12:16], nts.KissNTSN[:])
		out := r.AppendNAK(reply[:n])
		st.stats.nakSent.Add(1)
		return len(out), ntsStampXmt
	default:
		st.stats.badRequest.Add(1)
		d.log.Debug("NTS request dropped", "error", err)
		return 0, nil
	}
}
