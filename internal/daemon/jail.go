// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"os"
	"syscall"
)

// enterJail is ntpd -i DIR: the process's root becomes dir. Everything the daemon opens
// later is then looked up inside it: a SIGHUP reload reads the configuration file under the
// same name inside the jail (copy it there, or the reload says it cannot read it), names are
// resolved with the jail's /etc/resolv.conf, and the syslog socket, already connected, is
// redialled as dir/dev/log if syslog restarts. Classic ntpd has the same constraints.
func enterJail(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := syscall.Chroot(dir); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in the jail: %w", err)
	}
	return nil
}
