// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"gontp/internal/control"
	"gontp/internal/engine"
	"gontp/internal/server"
	"gontp/ntpconf"
)

// Runtime configuration over mode 6 (`ntpq -c ':config ...'`, config-from-file, saveconfig),
// as classic ntpd's ntp_control.c configure() and save_config() offer it to a requester
// with the controlkey. The control server checks the key and `restrict nomodify`; this
// file parses the text with the same parser as ntp.conf and applies it as one unit through
// applyFragment: a fragment with a problem, or with a directive gontp cannot change while
// running, changes nothing.

// runtimeDirectives are what a fragment may hold: the association lines, which the engine
// can add while running. Everything else is named in the reply and nothing is applied.
var runtimeDirectives = map[string]bool{"server": true, "peer": true}

// configWriter is the control server's Writer.
type configWriter struct {
	d *Daemon
	// saveDir is `saveconfigdir` ("" when none: saveconfig is refused, as classic).
	saveDir string

	// startFile and startAt are ntp.conf and when it was read, for saveconfig's comment.
	startFile string
	startAt   time.Time

	mu sync.Mutex
	// applied are the fragments applied so far, for saveconfig.
	applied []appliedFragment
}

// appliedFragment is one runtime configuration that was applied.
type appliedFragment struct {
	cfg  *ntpconf.Config
	at   time.Time
	from netip.Addr
}

// NoModify reports whether from is under `restrict nomodify`.
func (w *configWriter) NoModify(from netip.AddrPort) bool {
	acc, _ := w.d.gate.List.Match(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
	return acc&server.AccessNoModify != 0
}

// Configure parses and applies one runtime fragment. The reply is classic's "Config
// Succeeded" or, for each problem, the line, a caret under the column and the problem (in
// gontp's words; classic prints bison's).
func (w *configWriter) Configure(text string, from netip.AddrPort) control.ConfigResult {
	name := "remote config from " + from.Addr().String()
	frag, perr := ntpconf.ParseBytes(name, []byte(text+"\n"))
	var problems []string
	var merr *multierror.Error
	if errors.As(perr, &merr) {
		for _, e := range merr.Errors {
			var pe *ntpconf.PosError
			if errors.As(e, &pe) && pe.Kind == ntpconf.KindWarning {
				continue
			}
			problems = append(problems, caret(text, e))
		}
	} else if perr != nil {
		problems = append(problems, perr.Error())
	}
	if frag != nil && len(problems) == 0 {
		if err := w.d.applyFragment(frag); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, p := range problems {
		w.d.log.Info(fmt.Sprintf("%s: %s", name, strings.ReplaceAll(p, "\n", " ")))
	}
	if len(problems) > 0 {
		return control.ConfigResult{Errors: len(problems), Text: strings.Join(problems, "\n")}
	}
	w.mu.Lock()
	w.applied = append(w.applied, appliedFragment{cfg: frag, at: w.d.now(), from: from.Addr()})
	w.mu.Unlock()
	return control.ConfigResult{Text: "Config Succeeded"}
}

// caret formats a parse problem as classic's remote-config reply does: the line, a marker
// under the column, then "column N" and the message.
func caret(text string, err error) string {
	var pe *ntpconf.PosError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	col := max(pe.Pos.Col-1, 0)
	return fmt.Sprintf("%s\n%s^\ncolumn %d %s", text, strings.Repeat("_", min(col, len(text))), col, pe.Msg)
}

// applyFragment applies a parsed runtime configuration fragment atomically: every line is
// validated (the same translation as ntp.conf at start or at a reload), then every new
// association is mobilised on the engine goroutine in one call, which first checks that
// none of them exists, so that a fragment is either applied whole or not at all.
func (d *Daemon) applyFragment(frag *ntpconf.Config) error {
	for _, dir := range frag.Directives {
		if !runtimeDirectives[dir.Keyword] {
			return fmt.Errorf("%s: %q cannot be changed while gontp runs (only server and peer lines can); edit ntp.conf and reload (SIGHUP)", dir.Pos, dir.Keyword)
		}
	}
	var logs bytes.Buffer
	rc, err := applyConfig(frag, d.opts.Family, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		return err
	}
	for _, a := range frag.Associations {
		if a.Invalid {
			return fmt.Errorf("%s: %s %s is not usable", a.Pos, a.Kind, a.Address)
		}
		if a.Refclock != nil {
			return fmt.Errorf("%s: reference clocks cannot be added while gontp runs", a.Pos)
		}
		if a.Key != 0 && !d.keys.Load().Trusted(a.Key) {
			return fmt.Errorf("%s: %s %s key %d: not a trusted key", a.Pos, a.Kind, a.Address, a.Key)
		}
	}
	servers := rc.engine.Servers
	done := make(chan error, 1)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		seen := map[netip.AddrPort]bool{}
		for _, pc := range servers {
			if seen[pc.Addr] || e.HasAssociation(pc.Addr) {
				done <- fmt.Errorf("%s: there is already an association with %s", pc.Addr.Addr(), pc.Addr.Addr())
				return nil
			}
			seen[pc.Addr] = true
		}
		for _, pc := range servers {
			if _, err := e.AddServer(pc, now); err != nil {
				// Checked above; a failure here is a bug, reported rather than hidden.
				d.log.Error(fmt.Sprintf("runtime config: %s: %v", pc.Addr.Addr(), err))
				continue
			}
			d.lines[literalKey(pc)] = &lineState{desc: pc.Addr.Addr().String(), addr: pc.Addr, runtime: true}
			d.log.Info(fmt.Sprintf("runtime config: %s added", pc.Addr.Addr()))
		}
		for _, s := range rc.named {
			d.addNamed(d.ctx, s)
			d.lines[namedKey(s)].runtime = true
		}
		done <- nil
		return nil
	})
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("the daemon did not apply the configuration within 10 s")
	case <-d.stopping:
		return errors.New("the daemon is stopping")
	}
}

// SaveConfig writes the configuration (ntp.conf as read at start, then the runtime
// fragments, in classic's saveconfig format) to name in saveconfigdir, with classic's
// replies and checks: no saveconfigdir, an unsafe name and a name with a directory are
// refused; the file is created mode 0600.
func (w *configWriter) SaveConfig(name string, from netip.AddrPort) string {
	if w.saveDir == "" {
		w.d.log.Info(fmt.Sprintf("saveconfig from %s rejected, no saveconfigdir", from.Addr()))
		return "saveconfig prohibited, no saveconfigdir configured"
	}
	if !safeFilename(name) {
		w.d.log.Info(fmt.Sprintf("saveconfig rejects unsafe file name from %s", from.Addr()))
		return fmt.Sprintf("saveconfig rejects unsafe file name '%s'", name)
	}
	full := filepath.Join(w.saveDir, name)
	err := w.write(full)
	if err != nil {
		w.d.log.Error(fmt.Sprintf("saveconfig %s from %s failed: %v", name, from.Addr(), err))
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Sprintf("Unable to save configuration to file '%s': %v", name, err)
	}
	w.d.log.Info(fmt.Sprintf("Configuration saved to '%s' (requested by %s)", full, from.Addr()))
	return fmt.Sprintf("Configuration saved to '%s'", name)
}

func (w *configWriter) write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w.mu.Lock()
	applied := append([]appliedFragment(nil), w.applied...)
	w.mu.Unlock()
	// Classic's layout: the header, then each configuration tree after a comment saying
	// where it came from.
	const stamp = "2006-01-02 15:04:05"
	err = ntpconf.WriteSaveconfigHeader(f, w.d.now(), VersionString())
	if err == nil {
		_, err = fmt.Fprintf(f, "# %s startup configuration file %s\n", w.startAt.Format(stamp), w.startFile)
	}
	if err == nil && w.d.startConfig != nil {
		err = w.d.startConfig.WriteSaveconfig(f)
	}
	for _, a := range applied {
		if err == nil {
			_, err = fmt.Fprintf(f, "# %s ntpq remote config from %s\n", a.at.Format(stamp), a.from)
		}
		if err == nil {
			err = a.cfg.WriteSaveconfig(f)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// safeFilename is classic's is_safe_filename: letters, digits and "-_.+%," only, not
// starting with a dot, so that no name leaves saveconfigdir.
func safeFilename(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 255 {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.+%,", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// installKeys makes a key set read at a reload take effect everywhere at once: the time
// server's replies, the associations' polls and replies, and the control server's
// authentication and controlkey. It runs on the engine goroutine.
func (d *Daemon) installKeys(e *engine.Engine, rc *runConfig) {
	d.keys.Store(rc.keys)
	if rc.keys == nil {
		d.srv.SetKeys(nil)
		e.SetKeys(nil)
		d.ctl.SetKeys(nil, 0)
		return
	}
	d.srv.SetKeys(rc.keys)
	e.SetKeys(rc.keys)
	d.ctl.SetKeys(rc.keys, rc.controlKey)
}
