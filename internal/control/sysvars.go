// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"strings"

	"gontp/internal/ntptime"
)

// sysNames is classic ntpd 4.2.8p15's system variable table (sys_var[] in ntp_control.c),
// indexed by its variable codes. When names are requested, replies list them in this order,
// not in the request's (compat.md 1.6, READVAR). gontp has no leap-smear or Autokey build,
// so those names are unknown, as in Debian's classic build.
var sysNames = []string{
	"", "leap", "stratum", "precision", "rootdelay", "rootdisp", "refid", "reftime", "tc",
	"peer", "offset", "frequency", "sys_jitter", "clk_jitter", "clock", "processor",
	"system", "version", "clk_wander", "sys_var_list", "tai", "leapsec", "expire", "mintc",
	"mru_enabled", "mru_depth", "mru_deepest", "mru_mindepth", "mru_maxage", "mru_maxdepth",
	"mru_mem", "mru_maxmem", "ss_uptime", "ss_reset", "ss_received", "ss_thisver",
	"ss_oldver", "ss_badformat", "ss_badauth", "ss_declined", "ss_restricted", "ss_limited",
	"ss_kodsent", "ss_processed", "ss_lamport", "ss_tsrounding", "peeradr", "peermode",
	"bcastdelay", "authdelay", "authkeys", "authfreek", "authklookups", "authknotfound",
	"authkuncached", "authkexpired", "authencrypts", "authdecrypts", "authreset", "koffset",
	"kfreq", "kmaxerr", "kesterr", "kstflags", "ktimeconst", "kprecis", "kfreqtol",
	"kppsfreq", "kppsstab", "kppsjitter", "kppscalibdur", "kppscalibs", "kppscaliberrs",
	"kppsjitexc", "kppsstbexc", "iostats_reset", "total_rbuf", "free_rbuf", "used_rbuf",
	"rbuf_lowater", "io_dropped", "io_ignored", "io_received", "io_sent", "io_sendfailed",
	"io_wakeups", "io_goodwakeups", "timerstats_reset", "timer_overruns", "timer_xmts",
	"fuzz", "clk_wander_threshold",
	// NTPsec's NTS counters (`ntpq -c ntsinfo` of NTPsec's ntpq), after classic's table so
	// that classic's codes, default list and sys_var_list stay as they are.
	"nts_client_send", "nts_client_recv_good", "nts_client_recv_bad", "nts_server_recv_good",
	"nts_server_recv_bad", "nts_server_send", "nts_cookie_make", "nts_cookie_decode",
	"nts_cookie_decode_old", "nts_cookie_decode_old2", "nts_cookie_decode_older",
	"nts_cookie_decode_too_old", "nts_cookie_decode_error", "nts_ke_probes_good",
	"nts_ke_probes_bad", "nts_ke_serves_good", "nts_ke_serves_bad",
}

// Codes of the system variables used by name below.
const (
	csLeap = 1 + iota
	csStratum
	csPrecision
	csRootDelay
	csRootDisp
	csRefID
	csRefTime
	csPoll
	csPeerID
	csOffset
	csDrift
	csJitter
	csError
	csClock
	csProcessor
	csSystem
	csVersion
	csStabil
	csVarList
	csTAI
	csLeapTab
	csLeapEnd
	csRate
)

// sysDefault is classic's default list (def_sys_var), without the leap-file variables that
// gontp never has (tai, leapsec, expire are emitted only when known).
var sysDefault = []int{csVersion, csProcessor, csSystem, csLeap, csStratum, csPrecision,
	csRootDelay, csRootDisp, csRefID, csRefTime, csClock, csPeerID, csPoll, csRate, csOffset,
	csDrift, csJitter, csError, csStabil, csTAI, csLeapTab, csLeapEnd}

var sysIndex = func() map[string]int {
	m := make(map[string]int, len(sysNames))
	for i, n := range sysNames {
		if n != "" {
			m[n] = i
		}
	}
	return m
}()

// sysVarList is the value of sys_var_list: the table's names joined by commas, cut before
// the name that would make the item longer than one fragment (classic stops there too;
// observed ending at "peermode"), then the setvar names.
func (s *Server) sysVarList() string {
	var b strings.Builder
	limit := 468 - len(`sys_var_list=""`)
	for _, n := range sysNames[1:] {
		add := len(n)
		if b.Len() > 0 {
			add++
		}
		if b.Len()+add > limit {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	return b.String()
}

func (s *Server) readSysVars(r *reply, data []byte) {
	setvars := s.SetVars()
	set, extra, ok := s.requestNames(r, data, sysNames, setvars)
	if !ok {
		return
	}
	r.hdr.Status = sysStatus(r.snap)
	now := ntptime.FromTime(r.now)
	if set.empty() && extra.empty() {
		for _, c := range sysDefault {
			s.putSys(r, c, now)
		}
		for i := range setvars {
			if setvars[i].Default {
				putSetVar(r, &setvars[i])
			}
		}
	} else {
		for c := 1; c < len(sysNames); c++ {
			if set.has(c) {
				s.putSys(r, c, now)
			}
		}
		for i := range setvars {
			if i < 128 && extra.has(i) {
				putSetVar(r, &setvars[i])
			}
		}
	}
	r.flush(false)
}

// putSetVar writes a setvar variable verbatim as name=value (classic serves the text as
// configured, quotes removed by the parser).
func putSetVar(r *reply, v *SetVar) {
	b := append(r.scratch[:0], v.Name...)
	b = append(b, '=')
	b = append(b, v.Value...)
	r.put(b)
}

// putSys writes one system variable; variables without a value (no source, not applicable)
// are skipped as classic skips them.
func (s *Server) putSys(r *reply, c int, now ntptime.Time) {
	snap := r.snap
	sys := &snap.Sys
	b := r.scratch[:0]
	name := sysNames[c]
	switch name {
	case "leap":
		b = appendUint(b, name, uint64(sys.Leap))
	case "stratum":
		b = appendUint(b, name, uint64(sys.Stratum))
	case "precision":
		b = appendInt(b, name, int64(sys.Precision))
	case "rootdelay":
		b = appendFixed(b, name, sys.RootDelay*1e3, 3)
	case "rootdisp":
		b = appendFixed(b, name, rootDisp(snap, now)*1e3, 3)
	case "refid":
		b = appendRefID(b, name, sys.RefID, textRefID(sys.Stratum))
	case "reftime":
		b = appendTS(b, name, sys.RefTime)
	case "tc":
		b = appendInt(b, name, int64(sys.Poll))
	case "peer":
		b = appendUint(b, name, uint64(snap.SysPeer))
	case "offset":
		b = appendFixed(b, name, snap.Offset*1e3, 6)
	case "frequency":
		b = appendFixed(b, name, snap.Frequency, 3)
	case "sys_jitter":
		b = appendFixed(b, name, snap.Jitter*1e3, 6)
	case "clk_jitter":
		b = appendFixed(b, name, snap.ClkJitter*1e3, 3)
	case "clock":
		b = appendTS(b, name, now)
	case "processor":
		b = appendQuoted(b, name, s.cfg.Processor)
	case "system":
		b = appendQuoted(b, name, s.cfg.System)
	case "version":
		b = appendQuoted(b, name, s.cfg.Version)
	case "clk_wander":
		b = appendFixed(b, name, snap.ClkWander, 3)
	case "sys_var_list":
		b = appendQuoted(b, name, s.sysVarList())
	case "tai", "leapsec", "expire":
		return // gontp has no leap-seconds file yet; classic omits them without one
	case "mintc":
		b = appendInt(b, name, int64(s.cfg.MinPoll))
	case "peeradr", "peermode":
		p := findPeer(snap, snap.SysPeer)
		if name == "peeradr" {
			if p == nil {
				b = append(b, "peeradr=0.0.0.0:0"...)
			} else {
				b = appendAddrPort(b, name, p.Vars.Addr)
			}
		} else {
			var m uint8
			if p != nil {
				m = p.Vars.HMode
			}
			b = appendUint(b, name, uint64(m))
		}
	case "bcastdelay":
		b = appendFixed(b, name, s.cfg.BroadcastDelay*1e3, 3)
	case "authdelay":
		b = appendFixed(b, name, s.cfg.AuthDelay*1e3, 3)
	case "fuzz", "clk_wander_threshold":
		return // not measured by gontp
	default:
		var ok bool
		if b, ok = s.putStats(b, name, c, r); !ok {
			return
		}
	}
	r.put(b)
}

// putStats writes the counter variables that come from the daemon's sources.
func (s *Server) putStats(b []byte, name string, c int, r *reply) ([]byte, bool) {
	switch {
	case strings.HasPrefix(name, "ss_"):
		if s.src.ServerStats == nil {
			return b, false
		}
		st := s.src.ServerStats(ntptime.FromTime(r.now))
		var v uint64
		switch name {
		case "ss_uptime":
			v = st.Uptime
		case "ss_reset":
			v = st.SinceReset
		case "ss_received":
			v = st.Received
		case "ss_thisver":
			v = st.ThisVer
		case "ss_oldver":
			v = st.OldVer
		case "ss_badformat":
			v = st.BadFormat
		case "ss_badauth":
			v = st.BadAuth
		case "ss_declined":
			v = st.Declined
		case "ss_restricted":
			v = st.Restricted
		case "ss_limited":
			v = st.Limited
		case "ss_kodsent":
			v = st.KoDSent
		case "ss_processed":
			v = st.Processed
		case "ss_lamport", "ss_tsrounding":
			// Clock-reading violations: gontp reads the clock through the kernel's
			// monotonic-safe CLOCK_REALTIME and never sees them.
			v = 0
		}
		return appendUint(b, name, v), true
	case strings.HasPrefix(name, "nts_"):
		if s.src.NTS == nil {
			return b, false
		}
		v, ok := s.src.NTS().value(name)
		return appendUint(b, name, v), ok
	case strings.HasPrefix(name, "mru_"):
		if s.src.Monitor == nil {
			return b, false
		}
		m := s.src.Monitor()
		switch name {
		case "mru_enabled":
			return appendHex(b, name, uint64(m.Enabled)), true
		case "mru_depth":
			return appendUint(b, name, m.Depth), true
		case "mru_deepest":
			return appendUint(b, name, m.Deepest), true
		case "mru_mindepth":
			return appendUint(b, name, m.MinDepth), true
		case "mru_maxage":
			return appendInt(b, name, m.MaxAge), true
		case "mru_maxdepth":
			return appendUint(b, name, m.MaxDepth), true
		case "mru_mem":
			return appendUint(b, name, m.MemKiB), true
		case "mru_maxmem":
			return appendUint(b, name, m.MaxMemKiB), true
		}
	case strings.HasPrefix(name, "auth"):
		if s.src.Auth == nil {
			return b, false
		}
		a := s.src.Auth(r.now)
		v := map[string]uint64{"authkeys": a.Keys, "authfreek": a.FreeKeys,
			"authklookups": a.Lookups, "authknotfound": a.NotFound, "authkuncached": a.Uncached,
			"authkexpired": a.Expired, "authencrypts": a.Encrypts, "authdecrypts": a.Decrypts,
			"authreset": a.SinceReset}[name]
		return appendUint(b, name, v), true
	case name[0] == 'k':
		if s.src.Kernel == nil {
			return b, false
		}
		k, ok := s.src.Kernel()
		if !ok {
			return b, false
		}
		return appendKernel(b, name, &k), true
	case strings.HasPrefix(name, "timer"):
		if s.src.Timer == nil {
			return b, false
		}
		t := s.src.Timer(r.now)
		v := map[string]uint64{"timerstats_reset": t.SinceReset, "timer_overruns": t.Overruns,
			"timer_xmts": t.Xmits}[name]
		return appendUint(b, name, v), true
	default: // iostats
		if s.src.IO == nil {
			return b, false
		}
		o := s.src.IO(r.now)
		v, ok := map[string]uint64{"iostats_reset": o.SinceReset, "total_rbuf": o.TotalRecvBufs,
			"free_rbuf": o.FreeRecvBufs, "used_rbuf": o.UsedRecvBufs,
			"rbuf_lowater": o.LowWaterRefills, "io_dropped": o.Dropped, "io_ignored": o.Ignored,
			"io_received": o.Received, "io_sent": o.Sent, "io_sendfailed": o.SendFailed,
			"io_wakeups": o.Wakeups, "io_goodwakeups": o.GoodWakeups}[name]
		if !ok {
			return b, false
		}
		return appendUint(b, name, v), true
	}
	return b, false
}

// staNames are the kernel STA_* status bits as classic's kstflags names them.
var staNames = []string{"pll", "ppsfreq", "ppstime", "fll", "ins", "del", "unsync",
	"freqhold", "ppssignal", "ppsjitter", "ppswander", "ppserror", "clockerr", "nano",
	"mode=fll", "src=B"}

func appendKernel(b []byte, name string, k *KernelState) []byte {
	ms := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1e3 }
	switch name {
	case "koffset":
		return appendG(b, name, ms(k.Offset))
	case "kfreq":
		return appendG(b, name, k.Freq)
	case "kmaxerr":
		return appendG(b, name, ms(k.MaxError))
	case "kesterr":
		return appendG(b, name, ms(k.EstError))
	case "kstflags":
		var f strings.Builder
		for i, n := range staNames {
			if k.Status&(1<<i) != 0 {
				if f.Len() > 0 {
					f.WriteByte(' ')
				}
				f.WriteString(n)
			}
		}
		return appendQuoted(b, name, f.String())
	case "ktimeconst":
		return appendInt(b, name, k.Constant)
	case "kprecis":
		return appendG(b, name, ms(k.Precision))
	case "kfreqtol":
		return appendG(b, name, k.Tolerance)
	case "kppsfreq":
		return appendG(b, name, k.PPSFreq)
	case "kppsstab":
		return appendG(b, name, k.PPSStability)
	case "kppsjitter":
		return appendG(b, name, ms(k.PPSJitter))
	case "kppscalibdur":
		return appendInt(b, name, 1<<max(k.PPSShift, 0)&^1)
	case "kppscalibs":
		return appendInt(b, name, k.PPSCalibrations)
	case "kppscaliberrs":
		return appendInt(b, name, k.PPSErrors)
	case "kppsjitexc":
		return appendInt(b, name, k.PPSJitterExceeded)
	case "kppsstbexc":
		return appendInt(b, name, k.PPSStabilityExceeded)
	}
	return b
}
