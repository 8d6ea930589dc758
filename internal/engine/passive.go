// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"net/netip"
	"time"

	"gontp/internal/wire"
	"gontp/peer"
)

// NewPassive mobilises a symmetric passive association for a symmetric-active packet from
// a stranger that the server allowed to (server.NewPassive) and processes the packet with
// it, as classic receive() does for AM_NEWPASS: newpeer(MODE_PASSIVE) with the packet's
// version, its poll as minpoll and NTP_MAXDPOLL (17) as maxpoll, the packet's key if it
// had a MAC, not configured, so that the association is demobilised after Unreach polls
// without a reply (peer.Poll). Its first packet goes out after NTP_MINPKT (2 s).
//
// As classic, a synchronised peer whose stratum is below `tos floor` or at or above `tos
// ceiling` gets no association ("no help"); an unsynchronised one does, so that it can
// synchronise to us. A packet from a source that already has an association (two packets
// queued before the snapshot showed the first one's) is simply received.
func (e *Engine) NewPassive(data []byte, src netip.AddrPort, rx time.Time, now time.Time) []Send {
	if as := e.byAddr[src]; as != nil {
		return e.Receive(data, src, rx, now)
	}
	var pkt wire.Packet
	tr, err := wire.Decode(data, &pkt)
	if err != nil || pkt.Mode != wire.ModeSymActive {
		return nil
	}
	// An authenticated packet (the server checked its MAC) makes an association with its
	// key (classic newpeer(..., skeyid)), which then signs and checks every packet.
	var keyID uint32
	if tr.HasMAC {
		keyID = tr.KeyID
	}
	// Classic's PKT_TO_STRATUM: stratum 0 (unspecified) counts as 16, so a packet that
	// claims leap 0 at stratum 0 is out of range too.
	stratum := pkt.Stratum
	if stratum == wire.StratumUnspec || stratum > wire.StratumUnsynched {
		stratum = wire.StratumUnsynched
	}
	if pkt.Leap != wire.LeapAlarm && (stratum < e.sys.Tos.Floor || stratum >= e.sys.Tos.Ceiling) {
		e.log.Debug("symmetric active peer declined: stratum out of range", "from", src.String(),
			"stratum", pkt.Stratum)
		return nil
	}
	minPoll := pkt.Poll
	if minPoll < peer.MinPoll || minPoll > peer.MaxPoll {
		// newpeer clamps the packet's poll into NTP_MINPOLL..NTP_MAXPOLL.
		minPoll = min(max(minPoll, peer.MinPoll), peer.MaxPoll)
	}
	as, err := e.add(peer.Config{Addr: src, Mode: wire.ModeSymPassive, Version: pkt.Version,
		MinPoll: minPoll, MaxPoll: peer.MaxPoll, KeyID: keyID}, nil, now)
	if err != nil {
		e.warnOnce("passive", fmt.Sprintf("cannot mobilise a symmetric passive association for %s: %v", src.Addr(), err))
		return nil
	}
	e.log.Debug(fmt.Sprintf("%s mobilized: symmetric passive, peer version %d, poll %d", e.name(as), pkt.Version, minPoll))
	return e.Receive(data, src, rx, now)
}
