// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// fakeGPSD serves gpsd's JSON protocol on port 2947 of host h: a VERSION greeting, then
// every second a PPS report for the pulse (its system stamp 50 ms after the second), and
// 100 ms after the second a TPV with a 3D fix and a TOFF (the serial data's system stamp
// 100 ms after the second). A serial-time clock therefore reads -100 ms and one that pairs
// the serial time with the pulse -50 ms. Real gpsd cannot be used here: it reports pulses
// only from a serial line's modem lines or a kernel PPS device, which a pty lacks.
func fakeGPSD(t *testing.T, h *testnet.Host) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", ":2947"); return err }); err != nil {
		t.Fatalf("fake gpsd: %v", err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { // read and drop ?WATCH and ?VERSION
					b := make([]byte, 512)
					for {
						if _, err := c.Read(b); err != nil {
							return
						}
					}
				}()
				fmt.Fprintf(c, "{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":\"3.22\",\"proto_major\":3,\"proto_minor\":14}\r\n")
				for {
					now := time.Now()
					sec := now.Truncate(time.Second).Add(time.Second)
					select {
					case <-stop:
						return
					case <-time.After(time.Until(sec.Add(10 * time.Millisecond))):
					}
					s := sec.Unix()
					if _, err := fmt.Fprintf(c, "{\"class\":\"PPS\",\"device\":\"/dev/gps0\",\"real_sec\":%d,\"real_nsec\":0,\"clock_sec\":%d,\"clock_nsec\":50000000,\"precision\":-20}\r\n", s, s); err != nil {
						return
					}
					time.Sleep(time.Until(sec.Add(100 * time.Millisecond)))
					u := sec.UTC().Format("2006-01-02T15:04:05.000Z")
					if _, err := fmt.Fprintf(c, "{\"class\":\"TPV\",\"device\":\"/dev/gps0\",\"mode\":3,\"time\":%q,\"ept\":0.005}\r\n"+
						"{\"class\":\"TOFF\",\"device\":\"/dev/gps0\",\"real_sec\":%d,\"real_nsec\":0,\"clock_sec\":%d,\"clock_nsec\":100000000}\r\n",
						u, s, s); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// TestRefclockGPSDModesLikeClassic: classic ntpd 4.2.8p15 and gontp, each a GPSD_JSON clock
// of a fake gpsd that reports pulses, in mode 0 (serial time: -100 ms), 1 (STRICT: the serial
// time's second against the pulse: -50 ms) and 2 (AUTO, with pulses: -50 ms), with fudge
// flag4: both select the clock at the same offset, show the same ntpq -p columns, and write
// clockstats lines of classic's form, the seven tallies of each poll interval.
func TestRefclockGPSDModesLikeClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	cntpq := ref + "/classic-ntpq"
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	for _, c := range []struct {
		mode int
		want float64
	}{{0, -100}, {1, -50}, {2, -50}} {
		t.Run(fmt.Sprintf("mode%d", c.mode), func(t *testing.T) {
			t.Parallel()
			n := testnet.New(t)
			hc, hg := n.Host("classic"), n.Host("gontp")
			fakeGPSD(t, hc)
			fakeGPSD(t, hg)
			dir, gdir := t.TempDir(), t.TempDir()
			script := filepath.Join(dir, "privdev.sh")
			if err := os.WriteFile(script, []byte(privDev), 0o755); err != nil {
				t.Fatal(err)
			}
			_, pts := openPTY(t) // classic insists that /dev/gps0 is a character device
			conf := func(d string) string {
				return fmt.Sprintf("disable ntp\nserver 127.127.46.0 mode %d minpoll 4 maxpoll 4\nfudge 127.127.46.0 flag4 1\n"+
					"statsdir %s/\nstatistics clockstats\nfilegen clockstats file clockstats type none enable\n", c.mode, d)
			}
			os.WriteFile(filepath.Join(dir, "ntp.conf"), []byte(conf(dir)), 0o644)
			cd := hc.Start(t, script, pts, ref+"/classic-ntpd", "-n", "-c", filepath.Join(dir, "ntp.conf"),
				"-l", filepath.Join(dir, "ntpd.log"), "-p", filepath.Join(dir, "ntpd.pid"))
			defer cd.Stop()
			g := startGontp(t, hg, conf(gdir))
			defer g.Stop()
			if !hc.WaitUDP(123, 15*time.Second) || !hg.WaitUDP(123, 15*time.Second) {
				t.Fatal("the daemons do not listen")
			}
			near := func(off float64) bool { return math.Abs(off-c.want) < 3 }
			cl, _ := waitOffset(t, hc, cntpq, "GPSD_JSON(0)", 3*time.Minute, "*", near)
			gl, _ := waitOffset(t, hg, cntpq, "GPSD_JSON(0)", 3*time.Minute, "*", near)
			t.Logf("classic: *%s\ngontp:   *%s", cl, gl)
			cf, gf := strings.Fields(cl), strings.Fields(gl)
			for _, i := range []int{1, 2, 3, 5} {
				if cf[i] != gf[i] {
					t.Errorf("ntpq -p column %d: classic %q, gontp %q", i, cf[i], gf[i])
				}
			}
			goff, _ := strconv.ParseFloat(gf[8], 64)
			coff, _ := strconv.ParseFloat(cf[8], 64)
			if math.Abs(goff-coff) > feedAgree {
				t.Errorf("offsets: classic %v ms, gontp %v ms, want both %v", coff, goff, c.want)
			}
			line := regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} 127\.127\.46\.0 [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$`)
			for who, d := range map[string]string{"classic": dir, "gontp": gdir} {
				b, err := os.ReadFile(filepath.Join(d, "clockstats"))
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if err != nil || len(lines) < 2 {
					t.Errorf("%s clockstats: %v\n%s", who, err, b)
					continue
				}
				for _, l := range lines {
					if !line.MatchString(l) {
						t.Errorf("%s clockstats line %q", who, l)
					}
				}
				t.Logf("%s clockstats, last lines:\n%s", who, strings.Join(lines[max(0, len(lines)-3):], "\n"))
			}
		})
	}
}
