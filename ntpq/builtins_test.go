// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// silentConn is a host that never answers: the built-ins send nothing.
type silentConn struct{}

func (silentConn) Send([]byte) error                   { return errors.New("no network in this test") }
func (silentConn) Recv([]byte, time.Time) (int, error) { return 0, ErrTimeout }

// TestToggleBuiltins compares the two-valued settings with what classic ntpq 4.2.8p15
// printed for the same command line (captured: classic-ntpq -c hostnames -c "hostnames no"
// ... -c "hostnames x"), stdout and stderr separately.
func TestToggleBuiltins(t *testing.T) {
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Prog: "ntpq",
		Dial: func(string, int) (Conn, string, error) { return silentConn{}, "127.0.0.1", nil }}
	Main([]string{"-c", "hostnames", "-c", "hostnames no", "-c", "hostnames", "-c", "drefid",
		"-c", "drefid hash", "-c", "drefid", "-c", "drefid ipv4", "-c", "drefid foo",
		"-c", "authenticate", "-c", "authenticate yes", "-c", "authenticate",
		"-c", "authenticate maybe", "-c", "hostnames x"}, env)
	wantOut := "hostnames being shown\n\n\nhostnames not being shown\n\ndrefid value is ipv4\n\n" +
		"drefid value set to hash\n\ndrefid value is hash\n\ndrefid value set to ipv4\n\nWhat?\n\n" +
		"unauthenticated requests being sent\n\n\nauthenticated requests being sent\n\n\n"
	if out.String() != wantOut {
		t.Errorf("stdout:\n%q\nwant (classic):\n%q", out.String(), wantOut)
	}
	if errb.String() != "What?\nWhat?\n" {
		t.Errorf("stderr %q, want classic's %q", errb.String(), "What?\nWhat?\n")
	}
}
