// SPDX-License-Identifier: BSD-2-Clause

package control_test

import (
	"fmt"
	"net/netip"
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/control"
	"gontp/internal/wire"
)

// The daemon makes one Server at start and calls Handle for every mode-6 datagram that
// server.Respond hands on (verdict ToControl), sending each reply datagram back to the
// requester from the socket the request came in on.
func ExampleServer_Handle() {
	snap := &snapshot.Snapshot{Sys: snapshot.SysVars{Leap: 3, Stratum: 16, RefID: 0x494e4954}}
	ctl := control.New(control.Config{Version: "ntpd gontp"}, control.Sources{
		Snapshot: func() *snapshot.Snapshot { return snap },
	})
	// ntpq -c "rv 0 stratum,refid"
	req := make([]byte, 12+16)
	h := wire.ControlHeader{Version: 2, Opcode: control.OpReadVar, Sequence: 1, Count: 13}
	h.Encode(req)
	copy(req[12:], "stratum,refid")
	from := netip.MustParseAddrPort("192.0.2.7:50123")
	ctl.Handle(req, from, control.Restrict(0), time.Now(), func(b []byte) {
		rh, data, _, _ := wire.DecodeControl(b)
		fmt.Printf("status %04x: %q\n", rh.Status, data)
	})
	// Output: status c000: "stratum=16, refid=INIT\r\n"
}
