// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// maxOutLine is where classic ntpq wraps name=value lists (ntpq.c MAXOUTLINE).
const maxOutLine = 72

// lineWriter prints a name=value list the way classic's output/endoutput do: items separated
// by ", ", or by ",\n" when the item would take the line past 72 columns.
type lineWriter struct {
	w       io.Writer
	chars   int
	linelen int
}

func (o *lineWriter) item(name, value string) {
	n := len(name) + 1 + len(value)
	if o.chars != 0 {
		o.chars += 2
		if o.linelen+n+2 > maxOutLine {
			io.WriteString(o.w, ",\n")
			o.linelen = 0
		} else {
			io.WriteString(o.w, ", ")
			o.linelen += 2
		}
	}
	io.WriteString(o.w, name+"="+value)
	o.chars += n
	o.linelen += n
}

func (o *lineWriter) end() {
	if o.chars != 0 {
		io.WriteString(o.w, "\n")
	}
}

// Cooked value formats of classic ntpq (its cookedvars table).
const (
	fmtRaw = iota
	fmtTS
	fmtHostAddr
	fmtNumAddr
	fmtRefid
	fmtLeap
	fmtOctal
	fmtArray
	fmtFlash
	fmtSigned
)

var cookedFormats = map[string]int{
	"leap": fmtLeap, "reach": fmtOctal, "refid": fmtRefid,
	"reftime": fmtTS, "clock": fmtTS, "org": fmtTS, "rec": fmtTS, "xmt": fmtTS,
	"flash": fmtFlash, "srcadr": fmtHostAddr, "peeradr": fmtHostAddr, "dstadr": fmtNumAddr,
	"filtdelay": fmtArray, "filtoffset": fmtArray, "filtdisp": fmtArray, "filterror": fmtArray,
	"offset": fmtSigned, "frequency": fmtSigned,
}

// printVars prints a variable list in classic's cooked (or raw) form: an optional status line,
// then the items. kind selects the status decoding.
func (r *Runner) printVars(w io.Writer, data []byte, status uint16, kind int, quiet bool) {
	if r.Raw {
		r.rawPrint(w, data, status, quiet)
		return
	}
	if !quiet {
		fmt.Fprintf(w, "status=%04x %s,\n", status, StatusString(kind, status))
	}
	o := &lineWriter{w: w}
	for _, v := range ParseVars(data) {
		name, value := v.Name, v.Value
		bad := false
		switch cookedFormats[name] {
		case fmtTS:
			if ts, ok := decodeTS(value); ok {
				value = prettyDate(ts, r.loc())
			} else {
				bad = true
			}
		case fmtHostAddr, fmtNumAddr:
			if a, _, ok := decodeNetnum(value); ok {
				if cookedFormats[name] == fmtHostAddr {
					value = r.nntohost(a)
				} else {
					value = stoa(a)
				}
			} else {
				bad = true
			}
		case fmtRefid:
			if a, _, ok := decodeNetnum(value); ok {
				if isRefclock(a) {
					value = refnumtoa(a)
				} else {
					value = stoa(a)
				}
			} else if len(value) > 4 {
				bad = true
			}
		case fmtLeap:
			if u, ok := decodeUint(value); ok && u <= 3 {
				value = fmt.Sprintf("%d%d", u>>1&1, u&1)
			} else {
				bad = true
			}
		case fmtOctal:
			if u, ok := decodeUint(value); ok {
				value = fmt.Sprintf("%03o", u)
			} else {
				bad = true
			}
		case fmtFlash:
			if u, ok := decodeUint(value); ok {
				value = flashString(u)
			} else {
				bad = true
			}
		case fmtArray:
			if s, ok := cookArray(name, value); ok {
				value = s
			} else {
				bad = true
			}
		case fmtSigned:
			if value != "" && value[0] >= '0' && value[0] <= '9' {
				value = "+" + value
			}
		default:
			name, value = makeASCII(name), makeASCII(value)
		}
		if bad {
			name, value = makeASCII(name), makeASCII(value)+"?"
		}
		o.item(name, value)
	}
	o.end()
}

// cookArray re-prints a clock filter array (up to 8 ms values) with 2 decimals, each right
// aligned in 7 columns, after (11 - len(name)) spaces; filtoffset gets signs.
func cookArray(name, value string) (string, bool) {
	f := strings.Fields(value)
	if len(f) == 0 || len(f) > 8 {
		return "", false
	}
	var b strings.Builder
	if pad := 11 - len(name); pad > 0 {
		b.WriteString(strings.Repeat(" ", pad))
	}
	for i, s := range f {
		x, ok := decodeTime(s)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%7s", trunc(msString(x, 2, name == "filtoffset"), 7))
	}
	return b.String(), true
}

// rawPrint is classic's raw mode: the daemon's text with CR LF turned into LF.
func (r *Runner) rawPrint(w io.Writer, data []byte, status uint16, quiet bool) {
	if !quiet {
		fmt.Fprintf(w, "status=0x%04x,\n", status)
	}
	var b strings.Builder
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\r':
			if i == len(data)-1 || data[i+1] != '\n' {
				b.WriteString(makeASCII(string(c)))
			}
		case isSpace(c) || (c >= ' ' && c < 0x7f):
			b.WriteByte(c)
		default:
			b.WriteString(makeASCII(string(c)))
		}
	}
	io.WriteString(w, b.String())
}

// nntohost names an address for display: numeric with -n or when unspecified, the driver name
// for a refclock, else reverse DNS (numeric when that fails).
func (r *Runner) nntohost(a netip.Addr) string {
	if r.Numeric || isUnspec(a) {
		return stoa(a)
	}
	if isRefclock(a) {
		return refnumtoa(a)
	}
	if r.Resolve != nil {
		if name := r.Resolve(a); name != "" {
			return name
		}
	}
	return stoa(a)
}

// nntohostp is nntohost with the port: "name:port", or sptoa when numeric.
func (r *Runner) nntohostp(a netip.Addr, port uint16) string {
	if r.Numeric || isUnspec(a) {
		return sptoa(a, port)
	}
	if isRefclock(a) {
		return refnumtoa(a)
	}
	if r.Resolve != nil {
		if name := r.Resolve(a); name != "" {
			return name + ":" + strconv.Itoa(int(port))
		}
	}
	return sptoa(a, port)
}

// modeNames are classic's modetoa names for association modes.
var modeNames = []string{"unspec", "sym_active", "sym_passive", "client", "server",
	"broadcast", "control", "private", "bclient"}

func modeString(m uint64) string {
	if m < uint64(len(modeNames)) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode#%d", m)
}
