// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"time"

	"gontp/peer"
)

// ReconfigureServer gives the configured network association with pc.Addr the options of
// its edited server or peer line (gontp's live reload): poll limits, version, key and
// flags change in place, and everything it has measured (clock filter, reach, counters) and
// its association ID stay. The host mode cannot change this way: the caller removes the
// association and adds a new one. The next selection (at the next sample) sees the new
// prefer, noselect and true.
func (e *Engine) ReconfigureServer(pc peer.Config, now time.Time) error {
	as := e.byAddr[pc.Addr]
	if as == nil || as.driver != nil || as.removed {
		return fmt.Errorf("no network association for %s", pc.Addr)
	}
	pc.Configured = true
	if err := as.a.Reconfigure(pc, now); err != nil {
		return err
	}
	e.publish(now)
	return nil
}

// SetTos applies a reloaded `tos` configuration (selection and orphan parameters). The
// next selection (at the next sample) uses it; the associations and the discipline are
// not touched.
func (e *Engine) SetTos(t peer.Tos, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	e.sys.Tos = t
	e.publish(now)
	return nil
}

// Tos returns the selection parameters in use.
func (e *Engine) Tos() peer.Tos { return e.sys.Tos }
