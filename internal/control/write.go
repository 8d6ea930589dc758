// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"bytes"
	"fmt"
	"net/netip"
)

// The mode-6 writes (classic ntp_control.c: configure, save_config, write_variables). Each
// needs a request authenticated with the controlkey (classic's res_authokay: the key must
// also be the one `controlkey` names; any other key, or none, gets CERR_PERMISSION, which
// classic ntpq prints as "***Server disallowed request (authentication?)"), and a source
// without `restrict nomodify`. The work itself (parsing and applying a configuration
// fragment, writing a file) is the daemon's: the package stays pure.

// ConfigResult is what applying a runtime configuration fragment gave.
type ConfigResult struct {
	// Errors is the number of problems found; nothing was applied when it is not zero.
	Errors int
	// Text is the reply ntpq prints: "Config Succeeded", or the problems.
	Text string
}

// Writer carries out mode-6 writes for the daemon. Nil means writes are refused as if the
// requester had no key.
type Writer interface {
	// Configure applies the configuration text from `ntpq :config` or config-from-file, sent
	// by from, as one unit: all of it or, when any part is bad or cannot be applied at run
	// time, none of it.
	Configure(text string, from netip.AddrPort) ConfigResult
	// SaveConfig writes the running configuration to name in saveconfigdir and returns the
	// reply text.
	SaveConfig(name string, from netip.AddrPort) string
	// NoModify reports whether from is under `restrict nomodify`.
	NoModify(from netip.AddrPort) bool
}

// writeAllowed is classic's res_authokay for the write opcodes: authenticated with the
// controlkey.
func (s *Server) writeAllowed(authed bool, keyID uint32, ks *keyState) bool {
	return authed && s.src.Writer != nil && ks.controlKey != 0 && keyID == ks.controlKey
}

// putText replies with one text item, as classic's ctl_putdata(msg, len, 0) and
// ctl_flushpkt(0).
func (r *reply) putText(text string) {
	r.put([]byte(text))
	r.flush(false)
}

// configure answers CTL_OP_CONFIGURE (classic configure()).
func (s *Server) configure(r *reply, assoc uint16, data []byte, src netip.AddrPort) {
	if assoc != 0 {
		r.fail(ErrBadValue)
		return
	}
	w := s.src.Writer
	if w.NoModify(src) {
		s.c.restricted.Add(1)
		r.putText("runtime configuration prohibited by restrict ... nomodify")
		s.logf("runtime config from %s rejected due to nomodify restriction", src.Addr())
		return
	}
	// Classic takes the text up to the first NUL or control character; anything else but a
	// tab there is refused as unprintable.
	text := data
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	text = bytes.TrimRight(text, "\r\n")
	for _, c := range text {
		if c < ' ' && c != '\t' || c == 0x7f {
			r.putText("runtime configuration failed: request contains an unprintable character")
			s.logf("runtime config from %s rejected: unprintable character", src.Addr())
			return
		}
	}
	s.logf("%s config: %s", src.Addr(), text)
	res := w.Configure(string(text), src)
	if res.Errors > 0 {
		s.logf("%d error in %s config", res.Errors, src.Addr())
	}
	r.putText(res.Text)
}

// saveConfig answers CTL_OP_SAVECONFIG (classic save_config): nomodify is checked here, the
// file name and the writing are the daemon's.
func (s *Server) saveConfig(r *reply, data []byte, src netip.AddrPort) {
	w := s.src.Writer
	if w.NoModify(src) {
		s.c.restricted.Add(1)
		r.putText("saveconfig prohibited by restrict ... nomodify")
		s.logf("saveconfig from %s rejected due to nomodify restriction", src.Addr())
		return
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 {
		return // classic sends nothing for an empty file name
	}
	r.putText(w.SaveConfig(string(data), src))
}

// writeVar answers CTL_OP_WRITEVAR (classic write_variables): under nomodify, or for an
// association, CERR_PERMISSION; an unknown name CERR_UNKNOWNVAR. Classic 4.2.8p15 changes
// none of its built-in system variables this way (each one ends in CERR_UNSPEC, observed:
// "***Server returned an unspecified error"), and gontp's setvar variables are fixed by
// ntp.conf, so every known name gets CERR_UNSPEC too.
func (s *Server) writeVar(r *reply, assoc uint16, data []byte, src netip.AddrPort) {
	if assoc != 0 || s.src.Writer.NoModify(src) {
		r.fail(ErrPermission)
		return
	}
	name, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("="))
	name = bytes.TrimSpace(name)
	if len(name) == 0 {
		r.fail(ErrBadFormat)
		return
	}
	if !s.knownSysVar(string(name)) {
		r.fail(ErrUnknownVar)
		return
	}
	r.fail(ErrUnspec)
}

// knownSysVar reports whether name is a system variable or a setvar variable.
func (s *Server) knownSysVar(name string) bool {
	for _, v := range s.SetVars() {
		if v.Name == name {
			return true
		}
	}
	_, ok := sysIndex[name]
	return ok
}

// logf writes one notice in classic's words.
func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log.Info(fmt.Sprintf(format, args...))
	}
}
