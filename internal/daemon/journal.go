// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// StreamIsJournal reports whether f is the stream systemd connected a service's output to the
// journal with: systemd sets $JOURNAL_STREAM to "DEVICE:INODE" of that stream
// (systemd.exec(5)), and a program that logs to syslog as well should then not print its lines
// on it too, or the journal gets each line twice. ntpd -n under ntp.service (Type=notify)
// is such a program: classic ntpd echoes its log on the terminal when it does not fork, and
// gontp does so only when the output is not the journal.
func StreamIsJournal(f *os.File, journalStream string) bool {
	devText, inoText, ok := strings.Cut(journalStream, ":")
	if !ok || f == nil {
		return false
	}
	dev, err1 := strconv.ParseUint(devText, 10, 64)
	ino, err2 := strconv.ParseUint(inoText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
