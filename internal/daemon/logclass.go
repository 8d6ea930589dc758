// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"strings"
)

// logMask is classic ntpd's ntp_syslogmask: four types (info, events, status, statistics) in
// each of four classes (sys, peer, clock, sync), the NLOG_* bits of ntp_syslog.h.
type logMask uint32

const (
	logInfo   logMask = 0x1
	logEvents logMask = 0x2
	logStatus logMask = 0x4
	logStatis logMask = 0x8
	logTypes  logMask = 0xf

	shiftSys   = 0
	shiftPeer  = 4
	shiftClock = 8
	shiftSync  = 12

	maskAll logMask = 0xffff
	// maskDefault is what classic uses after start-up when no logconfig line is given:
	// the sync class only (NLOG_SYNCMASK).
	maskDefault logMask = logTypes << shiftSync
)

var logClasses = map[string]logMask{"sys": logTypes << shiftSys, "peer": logTypes << shiftPeer,
	"clock": logTypes << shiftClock, "sync": logTypes << shiftSync, "all": maskAll}

var logTypeNames = map[string]logMask{"info": logInfo, "events": logEvents, "status": logStatus,
	"statistics": logStatis, "all": logTypes}

// parseLogClass reads one logconfig word: a class (sys, peer, clock, sync or all) followed by
// a type (info, events, status, statistics or all), e.g. "syncall", "sysevents", "allinfo";
// "all" alone is everything.
func parseLogClass(name string) (logMask, error) {
	if name == "all" {
		return maskAll, nil
	}
	for cname, cmask := range logClasses {
		rest, ok := strings.CutPrefix(name, cname)
		if !ok {
			continue
		}
		if t, ok := logTypeNames[rest]; ok {
			var m logMask
			for _, shift := range []int{shiftSys, shiftPeer, shiftClock, shiftSync} {
				if cmask&(logTypes<<shift) != 0 {
					m |= t << shift
				}
			}
			return m, nil
		}
	}
	return 0, fmt.Errorf("logconfig: unknown class %q (classes sys, peer, clock, sync or all, followed by info, events, status, statistics or all)", name)
}

// classRule maps a gontp message onto the class classic ntpd logs the same message under
// (its NLOG() guard). Messages no rule matches are not filtered, as classic's unguarded
// msyslog() calls are not: start-up banner, errors, configuration problems, "Listen normally
// on", "Soliciting pool server", "time reset".
type classRule struct {
	prefix  bool   // match at the start; else anywhere
	text    string // words of the message
	class   logMask
	because string // classic's guard, for the reader
}

var classRules = []classRule{
	{true, "synchronized to ", logStatus << shiftSync, "NLOG_SYNCSTATUS"},
	{false, "no servers can be used", logStatus << shiftSync, "NLOG_SYNCSTATUS"},
	{false, "kernel reports TIME_ERROR", logEvents << shiftSync, "NLOG_SYNCEVENT"},
	{false, " demobilized: ", logInfo << shiftPeer, "NLOG_PEERINFO"},
}

// classify returns the class of msg, 0 when it is never filtered. Event reports in
// protostats form ("0.0.0.0 c016 06 restart", "198.18.0.3 961a 8a sys_peer") are system
// events for 0.0.0.0, clock events for reference clocks, and peer events otherwise, as
// classic's report_event decides.
func classify(msg string) logMask {
	for _, r := range classRules {
		if (r.prefix && strings.HasPrefix(msg, r.text)) || (!r.prefix && strings.Contains(msg, r.text)) {
			return r.class
		}
	}
	f := strings.Fields(msg)
	if len(f) >= 4 && isHex(f[1], 4) && isHex(f[2], 2) {
		switch {
		case f[0] == "0.0.0.0":
			return logEvents << shiftSys
		case strings.HasPrefix(f[0], "127.127.") || strings.HasPrefix(f[0], "LOCAL("):
			return logEvents << shiftClock
		default:
			return logEvents << shiftPeer
		}
	}
	return 0
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
