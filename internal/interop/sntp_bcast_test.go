// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// TestSntpBroadcast: `sntp -b ADDRESS` listens for a broadcast of gontp's ntpd (`broadcast
// 198.18.0.255 minpoll 4`, then the multicast group 224.0.1.1) on the private network and
// prints classic's result line for it, with the server's stratum and an offset of a few
// milliseconds (the server serves the time of the chronyd it follows, which serves this
// machine's clock). Classic sntp 4.2.8p15 is run the same way and, as the README says,
// prints no result: it waits out -t and exits with status 0.
func TestSntpBroadcast(t *testing.T) {
	t.Parallel() // a minute or more of waiting on its own network: runs beside the others
	classic := filepath.Join(testnet.Reference(t, "classic-sntp", "chronyd"), "classic-sntp")
	ours := binary(t, "sntp")
	for _, addr := range []string{testnet.BroadcastAddr.String(), "224.0.1.1"} {
		t.Run(addr, func(t *testing.T) {
			n := testnet.New(t)
			chrony, server, client := n.Host("chrony"), n.Host("gontp"), n.Host("client")
			testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
			startGontp(t, server, fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nbroadcast %s minpoll 4\n", chrony.Addr(), addr))
			waitSynced(t, server, 90*time.Second)

			// Classic's -b waits out -t and prints no result, though broadcasts arrive every
			// 16 s: 20 s is more than one interval.
			start := time.Now()
			out, errOut, err := runIn(client, classic, "-b", addr, "-t", "20")
			t.Logf("classic sntp -b %s (%v, %v):\n%s%s", addr, time.Since(start).Round(time.Second), err, out, errOut)
			if regexp.MustCompile(`(?m) s\d+ no-leap$`).MatchString(out) {
				t.Errorf("classic sntp -b printed a result; the README says it never does")
			}

			// The broadcasts come every 16 s (with classic's random stretch); -t 60 waits
			// for at least three.
			out, errOut, err = runIn(client, ours, "-b", addr, "-t", "60")
			t.Logf("gontp sntp -b %s (%v):\n%s%s", addr, err, out, errOut)
			line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \([+-]\d{4}\) ([+-]\d+\.\d+) \+/- \d+\.\d+ ` +
				regexp.QuoteMeta(server.Addr().String()) + ` s9 no-leap$`)
			m := line.FindStringSubmatch(out)
			switch {
			case err != nil:
				t.Errorf("sntp -b %s: %v", addr, err)
			case m == nil:
				t.Errorf("sntp -b %s printed no result line for %s at stratum 9", addr, server.Addr())
			default:
				if off, _ := strconv.ParseFloat(m[1], 64); off < -0.1 || off > 0.1 {
					t.Errorf("sntp -b %s: offset %v s, want within 0.1 s (all clocks here are this machine's)", addr, off)
				}
			}
		})
	}
}
