// SPDX-License-Identifier: BSD-2-Clause

package control

// SetSetVars replaces the `setvar` variables (a configuration reload); requests being
// answered keep the list they started with. Safe for concurrent use.
func (s *Server) SetSetVars(vars []SetVar) {
	v := append([]SetVar(nil), vars...)
	s.setvars.Store(&v)
}

// SetVars returns the `setvar` variables in effect.
func (s *Server) SetVars() []SetVar {
	if p := s.setvars.Load(); p != nil {
		return *p
	}
	return s.cfg.SetVars
}
