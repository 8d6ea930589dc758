// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"fmt"
	"strconv"
)

// Pos is where a token or directive starts: the file name as it was opened, the 1-based
// line, and the 1-based byte column. Classic ntpd reports 0-based columns; gontp uses the
// file:line:col form editors and compilers use.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// ErrorKind says how a problem relates to what classic ntpd 4.2.8p15 does with the line.
type ErrorKind int

const (
	// KindSyntax: classic ntpd's parser rejects the line too ("syntax error in FILE line N");
	// the line is skipped, or only its complete leading part is kept, exactly as classic does.
	KindSyntax ErrorKind = iota + 1
	// KindSemantic: the grammar accepts the line but classic ntpd rejects or ignores it
	// when applying it (unusable address, value out of range, missing include file...).
	KindSemantic
	// KindWarning: the line is used, possibly with an adjusted value, but it is probably
	// not what the administrator meant.
	KindWarning
)

func (k ErrorKind) String() string {
	switch k {
	case KindSyntax:
		return "syntax error"
	case KindSemantic:
		return "error"
	case KindWarning:
		return "warning"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// PosError is one problem found in a configuration file.
type PosError struct {
	Pos  Pos
	Kind ErrorKind
	Msg  string
}

func (e *PosError) Error() string {
	if e.Kind == KindWarning {
		return fmt.Sprintf("%s: warning: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}
