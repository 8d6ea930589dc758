// SPDX-License-Identifier: BSD-2-Clause

package refclock

import "time"

// local is classic ntpd's LOCAL driver (type 1, refclock_local.c): the system clock itself as
// a reference, used as a last resort so that an isolated network still agrees on one time.
// Every poll it reports the system clock as exactly right, with a fixed dispersion, so the
// association's offset is 0 and its quality comes from the stratum it is fudged to.
type local struct {
	stratum uint8
	refid   string
}

// Defaults of classic refclock_local.c: stratum 5, refid LOCL, 10 ms dispersion, precision
// about 10 ms (-7).
const (
	localStratum    = 5
	localRefID      = "LOCL"
	localDispersion = 0.01
	localPrecision  = -7
)

func newLocal(f Fudge) *local {
	l := &local{stratum: localStratum, refid: localRefID}
	if f.StratumSet && f.Stratum >= 0 && f.Stratum <= 15 {
		l.stratum = uint8(f.Stratum)
	}
	if f.RefIDSet {
		l.refid = f.RefID
	}
	return l
}

func (l *local) Poll(now time.Time) (Sample, bool, error) {
	return Sample{Time: now, Offset: 0, Disp: localDispersion}, true, nil
}

func (l *local) Description() string { return "Undisciplined local clock" }
func (l *local) Stratum() uint8      { return l.stratum }
func (l *local) RefID() string       { return l.refid }
func (l *local) Precision() int8     { return localPrecision }
