// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"net/netip"
	"time"
)

// ReceiveNTS is Receive for a reply whose NTS authenticator (RFC 8915 section 5.7) the daemon
// has verified with the association's session keys: the association counts it as
// authenticated (peer.AuthOK), which an association configured with peer.Config.NTS
// requires of every reply. The cryptography stays in the daemon (internal/nts); the engine
// only learns the verdict.
func (e *Engine) ReceiveNTS(data []byte, src netip.AddrPort, rx time.Time, now time.Time) []Send {
	e.ntsVerified = true
	defer func() { e.ntsVerified = false }()
	return e.Receive(data, src, rx, now)
}
