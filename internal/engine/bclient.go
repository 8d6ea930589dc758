// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"net/netip"
	"time"

	"gontp/internal/wire"
	"gontp/peer"
)

// DefaultVolleyLimit is the most a volley may measure when `broadcastdelay` is not given:
// classic compares with |sys_bdelay|, which it keeps at -50 ms until configured (ntpq
// shows bcastdelay=-50.000).
const DefaultVolleyLimit = 0.050

// BClient is the broadcast client configuration (`broadcastclient`, `multicastclient`,
// `broadcastdelay`).
type BClient struct {
	// Delay is `broadcastdelay` in seconds: the most a volley may measure before the
	// association is given up (0: DefaultVolleyLimit).
	Delay float64
}

// SetBClient applies a reloaded `broadcastdelay` (gontp's live reload; classic has none):
// the broadcast client associations mobilised from now on take it, as classic's read
// sys_bdelay when they start; the running ones keep the delay they measured.
func (e *Engine) SetBClient(b BClient) { e.bclient = b }

// NewBClient mobilises a broadcast client association for a broadcast from a stranger that
// the server allowed to (server.NewBClient) and hands it the packet, as classic receive()
// does for AM_NEWBCL (4.2.8p15 always runs the volley): newpeer with the packet's version and its poll as minpoll and
// maxpoll, the packet's key if it had a MAC, not configured (it goes after Unreach polls
// without a broadcast). With the volley (the default) the association starts in client
// mode with iburst towards the sender, which answers as any server, and turns into a
// broadcast client once that server is fit (peer.Assoc endVolley); the broadcast itself
// is then not used, as in classic.
func (e *Engine) NewBClient(data []byte, src netip.AddrPort, rx time.Time, now time.Time) []Send {
	if as := e.byAddr[src]; as != nil {
		return e.Receive(data, src, rx, now)
	}
	var pkt wire.Packet
	tr, err := wire.Decode(data, &pkt)
	if err != nil || pkt.Mode != wire.ModeBroadcast {
		return nil
	}
	var keyID uint32
	if tr.HasMAC {
		keyID = tr.KeyID
	}
	poll := min(max(pkt.Poll, peer.MinPoll), peer.MaxPoll)
	delay := e.bclient.Delay
	if delay == 0 {
		delay = DefaultVolleyLimit
	}
	pc := peer.Config{Addr: src, Mode: wire.ModeClient, Version: pkt.Version, MinPoll: poll, MaxPoll: poll,
		KeyID: keyID, BClient: true, BDelay: delay, IBurst: true, StartDelay: time.Millisecond}
	as, err := e.add(pc, nil, now)
	if err != nil {
		e.warnOnce("bclient", fmt.Sprintf("cannot mobilise a broadcast client association for %s: %v", src.Addr(), err))
		return nil
	}
	e.log.Debug(fmt.Sprintf("%s mobilized: broadcast client, volley first (client mode)", e.name(as)))
	e.publish(now)
	return nil
}
