// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capabilities the daemon keeps after dropping root (ntpd -u): setting the clock, and binding
// port 123 on interfaces that appear later (classic keeps CAP_NET_BIND_SERVICE for the same
// reason).
var KeepCapabilities = []uint{unix.CAP_SYS_TIME, unix.CAP_NET_BIND_SERVICE}

// Credentials are the user and groups to run as.
type Credentials struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Name     string   // for messages
}

// LookupCredentials resolves ntpd's -u argument, "user[:group]", where each part is a name or a
// number (Debian's unit passes "-u 105:112" or "-u ntp:ntp"). Without a group, the user's
// primary group is used, as classic does.
func LookupCredentials(spec string) (Credentials, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" {
		return Credentials{}, fmt.Errorf("-u %q: no user given", spec)
	}
	var c Credentials
	var u *user.User
	var err error
	if n, perr := strconv.ParseUint(name, 10, 32); perr == nil {
		c.UID = uint32(n)
		u, err = user.LookupId(name)
		if err != nil {
			u = nil // a numeric uid need not have a passwd entry
			if !hasGroup {
				return Credentials{}, fmt.Errorf("-u %q: uid %s has no passwd entry to take a group from; give user:group", spec, name)
			}
		}
	} else {
		u, err = user.Lookup(name)
		if err != nil {
			return Credentials{}, fmt.Errorf("-u %q: %w", spec, err)
		}
		n, _ := strconv.ParseUint(u.Uid, 10, 32)
		c.UID = uint32(n)
	}
	c.Name = name
	switch {
	case hasGroup:
		if n, perr := strconv.ParseUint(group, 10, 32); perr == nil {
			c.GID = uint32(n)
		} else {
			g, err := user.LookupGroup(group)
			if err != nil {
				return Credentials{}, fmt.Errorf("-u %q: %w", spec, err)
			}
			n, _ := strconv.ParseUint(g.Gid, 10, 32)
			c.GID = uint32(n)
		}
	default:
		n, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.GID = uint32(n)
	}
	if u != nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					c.Groups = append(c.Groups, uint32(n))
				}
			}
		}
	}
	return c, nil
}

// ErrCgo is returned by DropPrivileges in a binary built with cgo: Go can then not change the
// credentials of every thread at once (syscall.AllThreadsSyscall), and a thread left with
// root's capabilities would defeat the point.
var ErrCgo = errors.New("cannot drop privileges in every thread of a binary built with cgo; build with CGO_ENABLED=0")

// DropPrivileges switches every thread of the process to c, keeping only those capabilities
// of keep that the process has now, permitted and effective (ntpd -u: after the sockets are
// bound the daemon needs root for nothing else). Capabilities outside keep are also removed
// from the bounding set, so that no later exec can regain them. It returns the capabilities
// of keep that could not be kept because the process did not have them (a container or a
// service manager may withhold CAP_SYS_TIME: the daemon then runs but cannot set the clock,
// and should say so). It must be called as root, before anything else is started that relies
// on the old credentials.
func DropPrivileges(c Credentials, keep []uint) (missing []uint, err error) {
	var mask uint64
	for _, capability := range keep {
		mask |= 1 << capability
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if err := unix.Capget(&hdr, &cur[0]); err != nil {
		return nil, fmt.Errorf("capget: %w", err)
	}
	have := uint64(cur[0].Permitted) | uint64(cur[1].Permitted)<<32
	for _, capability := range keep {
		if have&(1<<capability) == 0 {
			missing = append(missing, capability)
		}
	}
	mask &= have
	// Keep the permitted set across the uid change; without it setresuid clears it.
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return nil, ErrCgo
		}
		return nil, fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", e)
	}
	// The bounding set is per thread; dropping needs CAP_SETPCAP, which we still have.
	for capability := uint(0); capability <= unix.CAP_LAST_CAP; capability++ {
		if mask&(1<<capability) != 0 {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(capability), 0); e != 0 && e != syscall.EINVAL {
			return nil, fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", capability, e)
		}
	}
	groups := make([]int, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = int(g)
	}
	if len(groups) == 0 {
		groups = []int{int(c.GID)}
	}
	// Go applies these to every thread (since Go 1.16).
	if err := syscall.Setgroups(groups); err != nil {
		return nil, fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(int(c.GID), int(c.GID), int(c.GID)); err != nil {
		return nil, fmt.Errorf("setresgid(%d): %w", c.GID, err)
	}
	if err := syscall.Setresuid(int(c.UID), int(c.UID), int(c.UID)); err != nil {
		return nil, fmt.Errorf("setresuid(%d): %w", c.UID, err)
	}
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Permitted = uint32(mask)
	data[0].Effective = uint32(mask)
	data[1].Permitted = uint32(mask >> 32)
	data[1].Effective = uint32(mask >> 32)
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return nil, fmt.Errorf("capset: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0); e != 0 {
		return nil, fmt.Errorf("prctl(PR_SET_KEEPCAPS, 0): %w", e)
	}
	return missing, nil
}
