// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gontp/internal/wire"
)

// golden is one captured run of classic ntpq 4.2.8p15 (testdata/golden/*.txt, written by
// internal/interop/ntpq_test.go with GONTP_NTPQ_GOLDEN=write): its arguments, the reverse DNS
// answers on the capturing host, every mode-6 packet it exchanged, and what it printed.
type golden struct {
	args    []string
	resolve map[netip.Addr]string
	events  []event
	stdout  string
	stderr  string
}

type event struct {
	request bool
	at      time.Time
	pkt     []byte
}

func readGolden(t *testing.T, path string) *golden {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{resolve: map[netip.Addr]string{}}
	r := bufio.NewReader(bytes.NewReader(data))
	block := func(n int) string {
		buf := make([]byte, n+1)
		if _, err := ioReadFull(r, buf); err != nil {
			t.Fatalf("%s: output block: %v", path, err)
		}
		return string(buf[:n])
	}
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		key, rest, _ := strings.Cut(line, " ")
		switch key {
		case "#", "":
		case "arg":
			g.args = append(g.args, rest)
		case "resolve":
			a, name, _ := strings.Cut(rest, " ")
			g.resolve[netip.MustParseAddr(a)] = name
		case ">":
			b, err := hex.DecodeString(rest)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, lineNo, err)
			}
			g.events = append(g.events, event{request: true, pkt: b})
		case "<":
			ts, h, _ := strings.Cut(rest, " ")
			ns, err1 := strconv.ParseInt(ts, 10, 64)
			b, err2 := hex.DecodeString(h)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s:%d: bad reply line", path, lineNo)
			}
			g.events = append(g.events, event{at: time.Unix(0, ns), pkt: b})
		case "===":
			which, n, _ := strings.Cut(rest, " ")
			size, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, lineNo, err)
			}
			s := block(size)
			if which == "stdout" {
				g.stdout = s
			} else {
				g.stderr = s
			}
		default:
			t.Fatalf("%s:%d: unknown line %q", path, lineNo, line)
		}
	}
	return g
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// replayConn plays a golden file's server side: each request must match the recorded one
// (opcode, association, data; the sequence number may differ), and is answered with the
// recorded replies, renumbered to the request's sequence. The clock is the arrival time of the
// last reply handed out, so the `when` column is what classic ntpq computed.
type replayConn struct {
	t       *testing.T
	mu      sync.Mutex
	events  []event
	pending [][]byte
	now     time.Time
}

func (c *replayConn) Send(pkt []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.events) > 0 && !c.events[0].request {
		c.events = c.events[1:] // replies classic received after it stopped listening
	}
	if len(c.events) == 0 {
		c.t.Errorf("gontp ntpq sent a request classic ntpq did not send: % x", pkt)
		return fmt.Errorf("unexpected request")
	}
	want := c.events[0].pkt
	c.events = c.events[1:]
	gh, gd, _, err1 := wire.DecodeControl(pkt)
	wh, wd, _, err2 := wire.DecodeControl(want)
	if err1 != nil || err2 != nil || gh.Opcode != wh.Opcode || gh.AssocID != wh.AssocID ||
		gh.Version != wh.Version || !bytes.Equal(gd, wd) || len(pkt) != len(want) {
		c.t.Errorf("request differs from classic ntpq's:\n got  op %d assoc %d len %d data %q\n want op %d assoc %d len %d data %q",
			gh.Opcode, gh.AssocID, len(pkt), gd, wh.Opcode, wh.AssocID, len(want), wd)
	}
	for len(c.events) > 0 && !c.events[0].request {
		rep := append([]byte(nil), c.events[0].pkt...)
		if len(rep) >= 4 {
			copy(rep[2:4], pkt[2:4])
		}
		c.pending = append(c.pending, rep)
		c.now = c.events[0].at
		c.events = c.events[1:]
	}
	return nil
}

func (c *replayConn) Recv(buf []byte, deadline time.Time) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return 0, ErrTimeout
	}
	n := copy(buf, c.pending[0])
	c.pending = c.pending[1:]
	return n, nil
}

func (c *replayConn) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// TestGolden replays every captured classic ntpq run to gontp's ntpq and requires byte-exact
// output, and the same requests on the wire.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/golden")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			g := readGolden(t, f)
			var stdout, stderr bytes.Buffer
			conn := &replayConn{t: t, events: g.events}
			env := Env{
				Prog:   "ntpq",
				Stdin:  strings.NewReader(""),
				Stdout: &stdout,
				Stderr: &stderr,
				Dial: func(host string, family int) (Conn, string, error) {
					return conn, host, nil
				},
				Resolve: func(a netip.Addr) string { return g.resolve[a] },
				Now:     conn.clock,
				Loc:     time.UTC,
			}
			Main(g.args, env)
			if d := cmp.Diff(g.stdout, stdout.String()); d != "" {
				t.Errorf("stdout differs from classic ntpq (-classic +gontp):\n%s", d)
			}
			if d := cmp.Diff(g.stderr, stderr.String()); d != "" {
				t.Errorf("stderr differs from classic ntpq (-classic +gontp):\n%s", d)
			}
			for _, e := range conn.events {
				if e.request {
					t.Errorf("classic ntpq sent a request gontp ntpq did not: % x", e.pkt)
				}
			}
		})
	}
}
