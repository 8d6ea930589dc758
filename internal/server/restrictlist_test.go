// SPDX-License-Identifier: BSD-2-Clause

package server

import "testing"

func TestReslistFlags(t *testing.T) {
	// The texts of classic's reslist capture (compat.md 3.5).
	for _, c := range []struct {
		a    AccessFlags
		m    MatchFlags
		want string
	}{
		{AccessIgnore, MatchNTPPort | MatchInterface, "ntpport interface ignore serve trust peer epeer query trap"},
		{AccessNoQuery | AccessNoModify | AccessNoTrap, MatchSource, "source serve trust peer epeer noquery nomodify notrap"},
		{AccessNoPeer | AccessLimited | AccessNoQuery | AccessNoModify | AccessNoTrap | AccessKoD, 0,
			"serve trust nopeer epeer limited noquery nomodify notrap kod"},
		{0, 0, "serve trust peer epeer query trap"},
	} {
		if got := ReslistFlags(c.a, c.m); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
