// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gontp/internal/ntptime"
)

// --json (gontp's addition; classic ntpq has no machine output): the commands peers,
// readvar/rv, associations, sysinfo, sysstats and mrulist print JSON instead of text, with
// numbers as numbers in base units: seconds (not milliseconds), frequencies as ratios (not
// ppm), timestamps as seconds since 1970-01-01 UTC, poll intervals in seconds, the reach
// register as a number. One command on one host prints one JSON object; several print one
// array of them. The text output without --json is unchanged.

// jsonCommands are the commands --json covers.
var jsonCommands = map[string]func(r *Runner, args []string) any{
	"peers":        (*Runner).jsonPeers,
	"readvar":      (*Runner).jsonReadvar,
	"rv":           (*Runner).jsonReadvar,
	"associations": (*Runner).jsonAssociations,
	"sysinfo":      func(r *Runner, _ []string) any { return r.jsonTable(sysinfoTable) },
	"sysstats":     func(r *Runner, _ []string) any { return r.jsonTable(sysstatsTable) },
	"mrulist":      (*Runner).jsonMRU,
}

// runJSON runs a command in JSON mode and keeps its result for FlushJSON.
func (r *Runner) runJSON(c *command, args []string) {
	f := jsonCommands[c.name]
	if f == nil {
		fmt.Fprintf(r.Err, "***Command `%s' has no JSON output; --json covers peers, readvar (rv), associations, sysinfo, sysstats and mrulist\n", c.name)
		r.jsonFailed = true
		return
	}
	v := f(r, args)
	if v == nil {
		r.jsonFailed = true
		return
	}
	r.jsonOut = append(r.jsonOut, jsonResult{Host: r.currentHost, Command: c.name, Result: v})
}

type jsonResult struct {
	Host    string `json:"host"`
	Command string `json:"command"`
	Result  any    `json:"result"`
}

// FlushJSON writes what the JSON commands collected: one object, or an array when there are
// several; nothing when there is nothing.
func (r *Runner) FlushJSON(w io.Writer) error {
	if len(r.jsonOut) == 0 {
		return nil
	}
	var v any = r.jsonOut
	if len(r.jsonOut) == 1 {
		v = r.jsonOut[0]
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	r.jsonOut = nil
	_, err = w.Write(append(b, '\n'))
	return err
}

// seconds is a 32.32 fixed-point value in seconds as a JSON number.
func seconds(x lfp) float64 { return float64(x) / (1 << 32) }

// unixSeconds is an NTP timestamp as seconds since 1970 (null for 0, "never").
// The era is the one within 68 years of pivot (ntpq's clock).
func unixSeconds(ts ntptime.Time, pivot time.Time) any {
	if ts == 0 {
		return nil
	}
	return float64(ts.Time(pivot).UnixNano()) / 1e9
}

type jsonPeer struct {
	AssocID   uint16  `json:"assoc_id"`
	Tally     string  `json:"tally"`
	Status    uint16  `json:"status"`
	Selection string  `json:"selection"`
	Remote    string  `json:"remote"`
	Address   string  `json:"address"`
	RefID     string  `json:"refid"`
	Stratum   uint64  `json:"stratum"`
	Type      string  `json:"type"`
	When      *int64  `json:"when"` // seconds since the last packet; null when "-"
	Poll      int64   `json:"poll"` // seconds
	Reach     uint64  `json:"reach"`
	Delay     float64 `json:"delay"`  // seconds
	Offset    float64 `json:"offset"` // seconds
	Jitter    float64 `json:"jitter"` // seconds
}

var selectionWords = [...]string{"reject", "falsetick", "excess", "outlier", "candidate", "backup", "sys.peer", "pps.peer"}

// jsonPeers is `peers` (-p): the rows of the table, from the same variables.
func (r *Runner) jsonPeers(args []string) any {
	if len(args) == 1 && args[0] != "-4" && args[0] != "-6" {
		fmt.Fprintf(r.Err, "***Version must be either 4 or 6\n")
		return nil
	}
	if !r.getAssocs() {
		return nil
	}
	out := []jsonPeer{}
	for _, a := range r.assocs {
		if (a.status>>8)&(0x80|0x10) == 0 {
			continue
		}
		resp, ok := r.query(OpReadVar, a.id, nil, false)
		if !ok {
			return nil
		}
		pv := decodePeerVars(ParseVars(resp.Data), peersN)
		if len(args) == 1 && (pv.srcadr.Is4() != (args[0] == "-4")) {
			continue
		}
		name := pv.clockName
		if !pv.haveSrchost {
			name = r.nntohost(pv.srcadr)
		}
		refid := ""
		if pv.flash&0x0800 != 0 {
			refid = "(loop)"
		} else if pv.haveRefid {
			refid = pv.refid
		}
		p := min(pv.ppoll, pv.hpoll)
		var poll int64
		if p >= 0 && p < 62 {
			poll = 1 << p
		}
		jd := pv.disp
		if pv.haveJitter {
			jd = pv.jitter
		}
		row := jsonPeer{AssocID: a.id, Tally: string(tally[(resp.Status>>8)&7]), Status: resp.Status,
			Selection: selectionWords[(resp.Status>>8)&7], Remote: name, Address: stoa(pv.srcadr),
			RefID: refid, Stratum: pv.stratum, Type: string(pv.typ), Poll: poll, Reach: pv.reach,
			Delay: seconds(pv.delay), Offset: seconds(pv.offset), Jitter: seconds(jd)}
		if w := when(ntptime.FromTime(r.now()), pv.rec, pv.reftime); w != 0 || pv.rec != 0 || pv.reftime != 0 {
			row.When = &w
		}
		out = append(out, row)
	}
	return map[string]any{"peers": out}
}

// Units of the mode-6 variables, for the conversion to base units.
var (
	msVars = map[string]bool{"offset": true, "sys_jitter": true, "clk_jitter": true,
		"rootdelay": true, "rootdisp": true, "delay": true, "jitter": true, "dispersion": true,
		"bcastdelay": true, "authdelay": true, "koffset": true, "kmaxerr": true, "kesterr": true,
		"kprecis": true, "kppsjitter": true}
	ppmVars = map[string]bool{"frequency": true, "clk_wander": true, "kfreq": true,
		"kfreqtol": true, "kppsfreq": true, "kppsstab": true}
	tsVars      = map[string]bool{"reftime": true, "clock": true, "org": true, "rec": true, "xmt": true}
	msArrayVars = map[string]bool{"filtdelay": true, "filtoffset": true, "filtdisp": true, "filterror": true}
	hexVars     = map[string]bool{"flash": true, "kstflags": true}
)

// jsonValue converts one variable's value to a JSON value in base units.
func jsonValue(name, value string, pivot time.Time) any {
	s := value
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	switch {
	case msVars[name]:
		if x, ok := decodeTime(s); ok {
			return seconds(x)
		}
	case ppmVars[name]:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f / 1e6
		}
	case tsVars[name]:
		if ts, ok := decodeTS(s); ok {
			return unixSeconds(ts, pivot)
		}
	case msArrayVars[name]:
		var out []float64
		for _, f := range strings.Fields(s) {
			x, ok := decodeTime(f)
			if !ok {
				return s
			}
			out = append(out, seconds(x))
		}
		return out
	case hexVars[name]:
		if u, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64); err == nil {
			return u
		}
	case name == "srcadr" || name == "dstadr" || name == "peeradr" || name == "refid":
		if a, _, ok := decodeNetnum(s); ok {
			if name == "refid" && isRefclock(a) {
				return refnumtoa(a)
			}
			return stoa(a)
		}
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return s
}

// jsonVars converts a variable list to an object (in the daemon's order of names; a name
// repeated keeps its last value, as the text shows both).
func jsonVars(data []byte, pivot time.Time) map[string]any {
	out := map[string]any{}
	for _, v := range ParseVars(data) {
		out[v.Name] = jsonValue(v.Name, v.Value, pivot)
	}
	return out
}

// jsonReadvar is `readvar [assocID] [names]`.
func (r *Runner) jsonReadvar(args []string) any {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return nil
		}
		assoc = a
	}
	var vl []Var
	for _, a := range args[min(1, len(args)):] {
		vl = addVars(vl, a)
	}
	resp, ok := r.query(OpReadVar, assoc, makeQueryData(vl), false)
	if !ok {
		return nil
	}
	kind := StatusSys
	if assoc != 0 {
		kind = StatusPeer
	}
	return map[string]any{"assoc_id": assoc, "status": resp.Status,
		"status_text": StatusString(kind, resp.Status), "variables": jsonVars(resp.Data, r.now())}
}

// jsonTable is sysinfo or sysstats: the table's variables by their mode-6 names.
func (r *Runner) jsonTable(table []vdcEntry) any {
	var names []Var
	for _, e := range table {
		if e.kind == vdcAdd {
			names = append(names, Var{Name: e.tag + "adr"}, Var{Name: e.tag + "port"})
		} else {
			names = append(names, Var{Name: e.tag})
		}
	}
	resp, ok := r.query(OpReadVar, 0, makeQueryData(names), false)
	if !ok {
		return nil
	}
	return map[string]any{"status": resp.Status, "variables": jsonVars(resp.Data, r.now())}
}

type jsonAssoc struct {
	Index     int    `json:"index"`
	AssocID   uint16 `json:"assoc_id"`
	Status    uint16 `json:"status"`
	Conf      bool   `json:"configured"`
	Reachable bool   `json:"reachable"`
	Auth      string `json:"auth"`
	Condition string `json:"condition"`
	LastEvent string `json:"last_event"`
	Count     int    `json:"event_count"`
}

// jsonAssociations is `associations`.
func (r *Runner) jsonAssociations([]string) any {
	if !r.getAssocs() {
		return nil
	}
	out := []jsonAssoc{}
	for i, a := range r.assocs {
		st := uint8(a.status >> 8)
		if st&(0x80|0x10) == 0 {
			continue
		}
		auth := "none"
		if st&0x40 != 0 {
			auth = "bad"
			if st&0x20 != 0 {
				auth = "ok"
			}
		}
		event := ""
		switch ev := a.status & 0xf; ev {
		case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
			event = peerEvents[ev]
		case 11:
			event = "clock_alarm"
		}
		out = append(out, jsonAssoc{Index: i + 1, AssocID: a.id, Status: a.status, Conf: st&0x80 != 0,
			Reachable: st&0x10 != 0, Auth: auth, Condition: selectionWords[st&7], LastEvent: event,
			Count: int(a.status>>4) & 0xf})
	}
	return map[string]any{"associations": out}
}

type jsonMRUEntry struct {
	Address  string  `json:"address"`
	Port     uint16  `json:"port"`
	First    any     `json:"first"` // seconds since 1970
	Last     any     `json:"last"`
	LastInt  float64 `json:"lstint"` // seconds since the last packet
	AvgInt   float64 `json:"avgint"` // mean seconds between packets
	Count    int     `json:"count"`
	Restrict uint16  `json:"restrict"`
	Mode     int     `json:"mode"`
	Version  int     `json:"version"`
}

// jsonMRU is `mrulist [tag=value...]`, newest first; the sort= option is not applied.
func (r *Runner) jsonMRU(args []string) any {
	var parms strings.Builder
	for _, arg := range args {
		switch {
		case strings.HasPrefix(arg, "resall=") || strings.HasPrefix(arg, "resany=") ||
			strings.HasPrefix(arg, "mincount=") || strings.HasPrefix(arg, "laddr=") ||
			strings.HasPrefix(arg, "maxlst"):
			parms.WriteString(", " + arg)
		case arg == "limited":
			parms.WriteString(fmt.Sprintf(", resany=0x%x", resLimited))
		case arg == "kod":
			parms.WriteString(fmt.Sprintf(", resany=0x%x", resKoD))
		case strings.HasPrefix(arg, "sort="):
		default:
			fmt.Fprintf(r.Err, "ignoring unrecognized mrulist parameter: %s\n", arg)
		}
	}
	list, now, ok := r.collectMRU(parms.String())
	if !ok {
		return nil
	}
	out := []jsonMRUEntry{}
	for _, e := range list {
		out = append(out, jsonMRUEntry{Address: stoa(e.addr.Addr()), Port: e.addr.Port(),
			First: unixSeconds(e.first, r.now()), Last: unixSeconds(e.last, r.now()),
			LastInt: lfpSeconds(int64(now - e.last)), AvgInt: lfpSeconds(int64(e.last-e.first)) / float64(max(e.count, 1)),
			Count: e.count, Restrict: e.rs, Mode: e.mode, Version: e.ver})
	}
	return map[string]any{"now": unixSeconds(now, r.now()), "entries": out}
}
