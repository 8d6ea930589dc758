// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	acc, _ := w.d.gate.Load().List.Match(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
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
		if err := w.d.applyFragment(text, name); err != nil {
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

// applyFragment applies a runtime configuration fragment through the reload's path (the
// same validation and the same single step on the engine goroutine): the running
// configuration, as saveconfig writes it, with text added at its end, is checked whole by
// applyConfig and, if it has no problem, its difference from the running one is applied at
// once by applyReload. A fragment that changes something a running daemon cannot change yet
// (the groups a reload would defer to the next restart) is refused whole, since no restart
// would bring it back. The association lines it adds are marked as runtime ones, which a
// SIGHUP reload of ntp.conf keeps.
func (d *Daemon) applyFragment(text, origin string) error {
	type current struct {
		rc      *runConfig
		text    string
		applied map[string]string
	}
	cur := make(chan current, 1)
	d.post(func(*engine.Engine, time.Time) []engine.Send {
		var b bytes.Buffer
		if d.cur != nil && d.cur.parsed != nil {
			d.cur.parsed.WriteSaveconfig(&b)
		}
		applied := make(map[string]string, len(d.applied))
		for k, v := range d.applied {
			applied[k] = v
		}
		cur <- current{rc: d.cur, text: b.String(), applied: applied}
		return nil
	})
	var c current
	select {
	case c = <-cur:
	case <-time.After(10 * time.Second):
		return errors.New("the daemon did not answer within 10 s")
	case <-d.stopping:
		return errors.New("the daemon is stopping")
	}
	cfg, perr := ntpconf.ParseBytes(origin, []byte(c.text+text+"\n"))
	if problems := Problems(perr); len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	commandLineKeys(cfg, d.opts)
	rc := applyConfig(cfg, d.opts.Family, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(rc.problems) > 0 {
		return errors.New(strings.Join(rc.problems, "\n"))
	}
	rc.parsed = cfg
	texts := groupTexts(cfg)
	for _, a := range appliers {
		if a.apply != nil {
			continue
		}
		for _, g := range a.groups {
			if c.applied[g] != texts[g] {
				return fmt.Errorf("%s cannot be changed while gontp runs yet; edit ntp.conf and restart", a.name)
			}
		}
	}
	done := make(chan error, 1)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		if d.cur != c.rc {
			done <- errors.New("the configuration changed meanwhile (a reload or another :config); nothing was applied, send it again")
			return nil
		}
		before := make(map[lineKey]bool, len(d.lines))
		for k := range d.lines {
			before[k] = true
		}
		d.applyReload(d.ctx, e, rc, now)
		d.installKeys(e, rc)
		for k, st := range d.lines {
			if !before[k] {
				st.runtime = true
			}
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
