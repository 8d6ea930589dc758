// SPDX-License-Identifier: BSD-2-Clause

package server_test

import (
	"fmt"

	"gontp/internal/snapshot"

	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/wire"
)

// The receive loop's use of Respond: answer, stamp T3 as late as possible, send.
func ExampleServer_Respond() {
	start := ntptime.Time(0xeeb58bc7_00000000)
	srv := server.New(server.Config{}, start)
	snap := &snapshot.Snapshot{Sys: snapshot.SysVars{
		Leap: wire.LeapAlarm, Stratum: wire.StratumUnsynched, Precision: -24,
		RefID: wire.RefIDFromString("INIT"), RootDispTime: start,
	}}

	req := make([]byte, wire.HeaderLen)
	req[0] = 4<<3 | wire.ModeClient // an SNTP client's request
	rx := start.Add(2e9)            // the kernel's receive timestamp
	out := make([]byte, server.MaxReplyLen)

	n, verdict := srv.Respond(req, rx, snap, server.Source{}, out)
	if verdict.StampXmt() {
		wire.PutXmt(out[:n], rx.Add(20e3)) // the clock read just before the send
	}
	fmt.Println(n, verdict, out[0]>>3&7, out[0]&7)
	fmt.Println(srv.Stats(rx).ThisVer)
	// Output:
	// 48 replied 4 4
	// 1
}
