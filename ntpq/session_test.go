// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gontp/internal/wire"
)

// fragments splits data into mode-6 response packets of at most size octets each.
func fragments(t *testing.T, seq uint16, op uint8, status uint16, data []byte, size int) [][]byte {
	t.Helper()
	var out [][]byte
	for off := 0; off == 0 || off < len(data); off += size {
		end := min(off+size, len(data))
		h := wire.ControlHeader{Version: 2, Response: true, More: end < len(data), Opcode: op,
			Sequence: seq, Status: status, Offset: uint16(off)}
		b := make([]byte, 600)
		n, err := wire.EncodeControl(b, h, data[off:end])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:n])
	}
	return out
}

func decodeFrag(t *testing.T, b []byte) (wire.ControlHeader, []byte) {
	t.Helper()
	h, d, _, err := wire.DecodeControl(b)
	if err != nil {
		t.Fatal(err)
	}
	return h, d
}

func TestAssemblerAnyOrderDuplicatesHoles(t *testing.T) {
	data := bytes.Repeat([]byte("abcdefghij"), 150) // 1500 octets: 4 fragments of 468
	frags := fragments(t, 1, OpReadVar, 0x1234, data, wire.ControlMaxData)
	if len(frags) != 4 {
		t.Fatalf("%d fragments, want 4", len(frags))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		order := rng.Perm(len(frags))
		// Duplicate one fragment somewhere.
		dup := order[rng.IntN(len(order))]
		order = append(order[:2], append([]int{dup}, order[2:]...)...)
		var a Assembler
		done := false
		for i, k := range order {
			h, d := decodeFrag(t, frags[k])
			ok, err := a.Add(h, d)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if i != len(order)-1 && !done {
					// Complete before the last packet only if the rest are duplicates.
					for _, rest := range order[i+1:] {
						seen := false
						for _, prev := range order[:i+1] {
							seen = seen || prev == rest
						}
						if !seen {
							t.Fatalf("order %v: complete at %d with fragment %d missing", order, i, rest)
						}
					}
				}
				done = true
			}
		}
		if !done {
			t.Fatalf("order %v: never complete", order)
		}
		r := a.Response()
		if !bytes.Equal(r.Data, data) || r.Status != 0x1234 {
			t.Fatalf("order %v: reassembled %d octets status %04x", order, len(r.Data), r.Status)
		}
	}
}

func TestAssemblerHoleNeverCompletes(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	frags := fragments(t, 1, OpReadVar, 0, data, 400)
	var a Assembler
	for _, k := range []int{0, 2} { // middle one lost
		h, d := decodeFrag(t, frags[k])
		if done, err := a.Add(h, d); done || err != nil {
			t.Fatalf("complete=%v err=%v with a hole", done, err)
		}
	}
	// An overlapping fragment is ignored, not merged.
	h, _ := decodeFrag(t, frags[1])
	h.Offset = 300
	if done, _ := a.Add(h, make([]byte, 100)); done {
		t.Fatal("overlapping fragment completed the response")
	}
	h, d := decodeFrag(t, frags[1])
	if done, err := a.Add(h, d); !done || err != nil {
		t.Fatalf("hole filled: complete=%v err=%v", done, err)
	}
}

func TestAssemblerLimits(t *testing.T) {
	var a Assembler
	h := wire.ControlHeader{Response: true, More: true, Offset: uint16(maxResponse - 10)}
	if _, err := a.Add(h, make([]byte, 20)); !errors.Is(err, ErrTooMuch) {
		t.Errorf("beyond buffer: %v, want ErrTooMuch", err)
	}
	// A zero-length fragment with M set is ignored.
	if done, err := a.Add(wire.ControlHeader{More: true}, nil); done || err != nil || a.Fragments() != 0 {
		t.Errorf("empty fragment: done=%v err=%v frags=%d", done, err, a.Fragments())
	}
	for i := 0; i < wire.ControlMaxFrags; i++ {
		if _, err := a.Add(wire.ControlHeader{More: true, Offset: uint16(i * 4)}, []byte("abcd")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Add(wire.ControlHeader{Offset: 200}, []byte("abcd")); !errors.Is(err, ErrTooMuch) {
		t.Errorf("33rd fragment: %v, want ErrTooMuch", err)
	}
}

// scriptConn answers each request with the packets a script function returns.
type scriptConn struct {
	sent    [][]byte
	pending [][]byte
	reply   func(n int, req []byte) [][]byte
}

func (c *scriptConn) Send(pkt []byte) error {
	c.sent = append(c.sent, append([]byte(nil), pkt...))
	c.pending = append(c.pending, c.reply(len(c.sent), pkt)...)
	return nil
}

func (c *scriptConn) Recv(buf []byte, _ time.Time) (int, error) {
	if len(c.pending) == 0 {
		return 0, ErrTimeout
	}
	n := copy(buf, c.pending[0])
	c.pending = c.pending[1:]
	return n, nil
}

func seqOf(b []byte) uint16 { return uint16(b[2])<<8 | uint16(b[3]) }

func TestSessionRetries(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	t.Run("timeout keeps sequence", func(t *testing.T) {
		c := &scriptConn{reply: func(n int, req []byte) [][]byte {
			if n == 1 {
				return nil // lost
			}
			return fragments(t, seqOf(req), OpReadVar, 7, data, 468)
		}}
		s := NewSession(c)
		r, err := s.Query(OpReadVar, 0, nil, false)
		if err != nil || !bytes.Equal(r.Data, data) {
			t.Fatalf("err %v, %d octets", err, len(r.Data))
		}
		if len(c.sent) != 2 || seqOf(c.sent[0]) != seqOf(c.sent[1]) || seqOf(c.sent[0]) != 1 {
			t.Errorf("sent %d requests with sequences %d, %d; want 2 with 1, 1", len(c.sent), seqOf(c.sent[0]), seqOf(c.sent[len(c.sent)-1]))
		}
	})
	t.Run("incomplete takes new sequence", func(t *testing.T) {
		c := &scriptConn{reply: func(n int, req []byte) [][]byte {
			f := fragments(t, seqOf(req), OpReadVar, 7, data, 468)
			if n == 1 {
				return f[:1]
			}
			return f
		}}
		s := NewSession(c)
		if _, err := s.Query(OpReadVar, 0, nil, false); err != nil {
			t.Fatal(err)
		}
		if len(c.sent) != 2 || seqOf(c.sent[1]) != seqOf(c.sent[0])+1 {
			t.Errorf("sequences %d then %d; want a new one for the retry", seqOf(c.sent[0]), seqOf(c.sent[1]))
		}
	})
	t.Run("gives up after one retry", func(t *testing.T) {
		c := &scriptConn{reply: func(int, []byte) [][]byte { return nil }}
		if _, err := NewSession(c).Query(OpReadVar, 0, nil, false); !errors.Is(err, ErrTimedOut) {
			t.Errorf("err %v, want ErrTimedOut", err)
		}
		if len(c.sent) != 2 {
			t.Errorf("%d requests, want 2", len(c.sent))
		}
	})
	t.Run("stray packets ignored, error code reported", func(t *testing.T) {
		c := &scriptConn{reply: func(n int, req []byte) [][]byte {
			wrongSeq := fragments(t, seqOf(req)+1, OpReadVar, 0, []byte("x=1"), 468)
			wrongOp := fragments(t, seqOf(req), OpReadStat, 0, []byte("x=1"), 468)
			h := wire.ControlHeader{Version: 2, Response: true, Error: true, Opcode: OpReadVar,
				Sequence: seqOf(req), Status: 4 << 8}
			b := make([]byte, 12)
			h.Encode(b)
			return append(append(wrongSeq, wrongOp...), b, []byte{1, 2, 3})
		}}
		_, err := NewSession(c).Query(OpReadVar, 9, nil, false)
		var se *ServerError
		if !errors.As(err, &se) || se.Code != 4 {
			t.Errorf("err %v, want server error 4", err)
		}
	})
}

func TestSignedRequest(t *testing.T) {
	c := &scriptConn{reply: func(n int, req []byte) [][]byte {
		return fragments(t, seqOf(req), OpReadOrdlistA, 0, []byte("addr.0=1.2.3.4"), 468)
	}}
	s := NewSession(c)
	s.Key = &Key{ID: 1, Type: "md5", Secret: []byte("secret1")}
	if _, err := s.Query(OpReadOrdlistA, 0, nil, true); err != nil {
		t.Fatal(err)
	}
	// Bytes as classic ntpq sent them for this request with key 1 "secret1" (captured with
	// ntpq -d -d -d -d against classic ntpd).
	want := []byte{0x16, 0x0B, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x01, 0x29, 0x81, 0x63, 0x36, 0x2A, 0x4D, 0xF5, 0x64, 0xC4, 0xD0,
		0xD5, 0x32, 0xC4, 0x9C, 0x33, 0x2D}
	if d := cmp.Diff(want, c.sent[0]); d != "" {
		t.Errorf("signed request differs from classic's (-classic +gontp):\n%s", d)
	}
	if _, err := (&Session{Conn: c}).Query(OpReadOrdlistA, 0, nil, true); !errors.Is(err, ErrNoKey) {
		t.Errorf("without key: %v, want ErrNoKey", err)
	}
}

// TestInteractive runs the prompt loop with a terminal-like stdin: prompt before every line,
// commands run in turn, quit ends it.
func TestInteractive(t *testing.T) {
	c := &scriptConn{reply: func(n int, req []byte) [][]byte {
		return fragments(t, seqOf(req), OpReadVar, 0xc616, []byte("stratum=2\r\n"), 468)
	}}
	var out, errw bytes.Buffer
	code := Main([]string{"srv"}, Env{
		Stdin:      bytes.NewBufferString("rv 0 stratum\nhost\nnosuch\nquit\nrv\n"),
		Stdout:     &out,
		Stderr:     &errw,
		StdinIsTTY: true,
		Dial:       func(string, int) (Conn, string, error) { return c, "198.18.0.2", nil },
	})
	want := "ntpq> stratum=2\nntpq> current host is srv\nntpq> ntpq> "
	if code != 0 || out.String() != want || errw.String() != "***Command `nosuch' unknown\n" {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, out.String(), want, errw.String())
	}
	if len(c.sent) != 1 {
		t.Errorf("%d requests after quit handling, want 1", len(c.sent))
	}
}
