// SPDX-License-Identifier: BSD-2-Clause

package testnet

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startupTimeout bounds how long ClassicNTPD and Chronyd wait for the daemon to be up.
const startupTimeout = 15 * time.Second

// ClassicNTPD writes conf to ntp.conf in a fresh t.TempDir() and starts classic ntpd 4.2.8p15 on
// h in the foreground, touching no system path:
//
//	classic-ntpd -n -c DIR/ntp.conf -l DIR/ntpd.log -p DIR/ntpd.pid
//
// -n keeps it in the foreground (no fork, so Proc.Pid is ntpd's pid), -l sends its log to a file
// (Proc.Log includes it), -p puts the pidfile in DIR. With these flags ntpd opens no other file
// unless conf names one: it has no default driftfile, pidfile, statsdir or keys file. It runs as
// root (no -u) and its wrapper drops CAP_SYS_TIME, so its clock calls fail harmlessly
// ("ntp_adjtime: Operation not permitted" in the log).
//
// conf should hold, besides the associations:
//
//	disable ntp                # project rule: reference daemons never discipline a clock
//	driftfile DIR/ntp.drift    # only if the test wants one; use a t.TempDir() path
//
// Synchronisation: with `disable ntp` classic ntpd never answers synchronised. It polls its
// sources and even picks a system peer, but because the discipline is disabled the clock is never
// "updated", and only an update moves the leap indicator off 3 (alarm). Measured on the
// development machine with the real 4.2.8p15 (ntpq rv from another host every 2 s, and
// TestClassicLocalSyncTime with GONTP_MEASURE_SYNC=11m):
//
//   - LOCAL only (server 127.127.1.0, fudge stratum 10, minpoll 6): leap 3, stratum 16 (0 on
//     the wire), refid INIT for the first 320 s; at the sixth poll of LOCAL (reach 77) it selects
//     it (ntpq -p "*LOCAL(0)") and answers stratum 11, refid 127.127.1.0, but still leap 3,
//     and so on until the end of the 11 (and the 15) minutes measured.
//   - server = a Chronyd with `local stratum 8`, iburst: within seconds it selects it (ntpq -p
//     shows "*", stratum 9, refid 198.18.0.N) but still answers leap 3.
//
// So clients that insist on a synchronised server refuse it: classic ntpdate prints its
// "server ADDR, stratum 16, ..." line and then "no server suitable for synchronization found"
// (exit 1); sntp says "ADDR not in sync, skipping this server". Interop tests that need a
// synchronised reference server use Chronyd with `local stratum N`, which is synchronised from
// its first answer.
//
// ClassicNTPD returns once something listens on UDP port 123 in h's namespace.
func ClassicNTPD(t testing.TB, h *Host, conf string) *Proc {
	t.Helper()
	bin := Reference(t, "classic-ntpd")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	logPath := filepath.Join(dir, "ntpd.log")
	p := h.Start(t, filepath.Join(bin, "classic-ntpd"), "-n", "-c", confPath, "-l", logPath,
		"-p", filepath.Join(dir, "ntpd.pid"))
	p.extraLogs = append(p.extraLogs, logPath)
	if !h.WaitUDP(123, startupTimeout) {
		t.Fatalf("testnet: classic ntpd on %s does not listen on UDP 123 after %v (exited: %v, %v); log:\n%s",
			h, startupTimeout, p.Exited(), p.ExitErr(), p.Log())
	}
	return p
}

// chronydDefaults come before the caller's conf, so that chronyd needs no system directory;
// the caller's lines override them (chrony keeps the last value of pidfile, cmdport and
// bindcmdaddress).
//
//	pidfile DIR/chronyd.pid   default /run/chrony/chronyd.pid
//	bindcmdaddress /          no Unix command socket (default /run/chrony/chronyd.sock)
//	cmdport 0                 no UDP command port (chronyc is not used against it)
const chronydDefaults = "pidfile %s\nbindcmdaddress /\ncmdport 0\n"

// Chronyd writes conf to chrony.conf in a fresh t.TempDir() and starts chronyd on h in the
// foreground, touching no system path:
//
//	chronyd -x -d -u root -f DIR/chrony.conf
//
// -x never touches the clock (its wrapper also drops CAP_SYS_TIME), -d stays in the foreground
// and logs to stderr (Proc.Log), -u root skips the privilege drop to user _chrony, which does not
// exist outside a chrony package install and would be fatal ("Could not get user/group ID").
// The written file starts with
//
//	pidfile DIR/chronyd.pid
//	bindcmdaddress /
//	cmdport 0
//
// followed by conf. For a time server conf needs only
//
//	local stratum 8
//	allow
//
// and chronyd then answers synchronised (leap 0, stratum 8) from its first reply. Without a
// driftfile line it writes no drift file.
//
// Chronyd returns once chronyd has written its pidfile and, when conf has an `allow` line, once it
// listens on its NTP port (123 or conf's `port`).
func Chronyd(t testing.TB, h *Host, conf string) *Proc {
	t.Helper()
	bin := Reference(t, "chronyd")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "chrony.conf")
	pidPath := filepath.Join(dir, "chronyd.pid")
	full := fmt.Sprintf(chronydDefaults, pidPath) + conf
	if err := os.WriteFile(confPath, []byte(full), 0o644); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	p := h.Start(t, filepath.Join(bin, "chronyd"), "-x", "-d", "-u", "root", "-f", confPath)
	deadline := time.Now().Add(startupTimeout)
	for {
		if _, err := os.Stat(pidPath); err == nil {
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("testnet: chronyd on %s did not start (exited: %v, %v); log:\n%s", h, p.Exited(), p.ExitErr(), p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if port, serves := chronyServerPort(conf); serves && !h.WaitUDP(port, time.Until(deadline)) {
		t.Fatalf("testnet: chronyd on %s does not listen on UDP %d; log:\n%s", h, port, p.Log())
	}
	return p
}

// chronyServerPort reports the NTP server port of a chrony.conf and whether chronyd serves time
// at all (an `allow` directive; without one chronyd opens no server socket).
func chronyServerPort(conf string) (port int, serves bool) {
	port = 123
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "allow":
			serves = true
		case "port":
			if len(f) > 1 {
				if n, err := strconv.Atoi(f[1]); err == nil {
					port = n
				}
			}
		}
	}
	return port, serves && port != 0
}

// Reply is the header of a server's mode-4 answer, as a client sees it.
type Reply struct {
	Leap    int // 3 = unsynchronised (alarm)
	Version int
	Mode    int
	Stratum int
	RefID   [4]byte
	// Header is the answer's 48-octet NTP header as received, for tests that compare more
	// fields (decode it with wire.DecodeHeader).
	Header [48]byte
}

// Synced reports whether the reply says the server is synchronised: leap indicator not 3
// (alarm) and stratum 1..15 (RFC 5905 section 7.3: 0 means unspecified; classic ntpd sends 0
// on the wire while its own stratum is 16, and 0 is also the stratum of a kiss-o'-death).
func (r Reply) Synced() bool { return r.Leap != 3 && r.Stratum >= 1 && r.Stratum <= 15 }

// QueryNTP sends one NTPv4 mode-3 request from h's namespace to server:123 and returns the
// header of the answer. The answer must echo the request's transmit timestamp in its origin
// timestamp (RFC 5905 section 8, the bogus-packet test) and be mode 4.
func (h *Host) QueryNTP(server netip.Addr, timeout time.Duration) (Reply, error) {
	var r Reply
	err := h.Do(func() error {
		conn, err := net.ListenUDP("udp", nil)
		if err != nil {
			return fmt.Errorf("testnet: query %s from %s: %w", server, h.name, err)
		}
		defer conn.Close()
		var req [48]byte
		req[0] = 0<<6 | 4<<3 | 3 // LI 0, version 4, mode 3 (client)
		if _, err := rand.Read(req[40:48]); err != nil {
			return fmt.Errorf("testnet: query %s: %w", server, err)
		}
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			return fmt.Errorf("testnet: query %s: %w", server, err)
		}
		dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 123))
		if _, err := conn.WriteToUDP(req[:], dst); err != nil {
			return fmt.Errorf("testnet: query %s from %s: %w", server, h.name, err)
		}
		buf := make([]byte, 1024)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return fmt.Errorf("testnet: query %s from %s: %w", server, h.name, err)
			}
			if n < 48 || binary.BigEndian.Uint64(buf[24:32]) != binary.BigEndian.Uint64(req[40:48]) {
				continue // not the answer to this request
			}
			r = Reply{
				Leap:    int(buf[0] >> 6),
				Version: int(buf[0] >> 3 & 7),
				Mode:    int(buf[0] & 7),
				Stratum: int(buf[1]),
			}
			copy(r.RefID[:], buf[12:16])
			copy(r.Header[:], buf[:48])
			if r.Mode != 4 {
				return fmt.Errorf("testnet: query %s: answer has mode %d, want 4", server, r.Mode)
			}
			return nil
		}
	})
	return r, err
}

// errNotSynced is the last error WaitSynced saw when the server answered but unsynchronised.
var errNotSynced = errors.New("server answers unsynchronised")

// WaitSynced polls server from h once a second until it answers synchronised (Reply.Synced), up
// to timeout. It returns how long that took, or an error with the last answer or failure.
func (h *Host) WaitSynced(server netip.Addr, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	for {
		r, err := h.QueryNTP(server, time.Second)
		switch {
		case err != nil:
			last = err
		case r.Synced():
			return time.Since(start), nil
		default:
			last = fmt.Errorf("%w: leap %d stratum %d refid %q", errNotSynced, r.Leap, r.Stratum, r.RefID[:])
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("testnet: %s not synchronised after %v: %w", server, timeout, last)
		}
		time.Sleep(time.Second)
	}
}
