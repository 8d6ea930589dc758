// SPDX-License-Identifier: BSD-2-Clause

// Command ntpq is gontp's drop-in for classic ntpq 4.2.8p15: it queries an NTP daemon over the
// mode-6 control protocol and prints what classic ntpq prints. The logic is in gontp/ntpq; this
// file only wires the process's standard streams and terminal.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"gontp/ntpq"
)

func main() {
	env := ntpq.Env{
		Prog:       os.Args[0],
		Stdin:      os.Stdin,
		Stdout:     bufio.NewWriter(os.Stdout),
		Stderr:     os.Stderr,
		StdinIsTTY: isTerminal(int(os.Stdin.Fd())),
		ReadSecret: readSecret,
	}
	out := env.Stdout.(*bufio.Writer)
	// Interactive sessions need every prompt on the screen at once; batch output is buffered,
	// as classic's stdout is when it is not a terminal.
	if env.StdinIsTTY || isTerminal(int(os.Stdout.Fd())) {
		env.Stdout = flushWriter{out}
	}
	code := ntpq.Main(os.Args[1:], env)
	out.Flush()
	os.Exit(code)
}

type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// readSecret prompts on the terminal and reads a line with echo off, like getpass(3).
func readSecret(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("ntpq: no terminal to read the password from: %w", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err == nil {
		noEcho := *old
		noEcho.Lflag &^= unix.ECHO
		if unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho) == nil {
			defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
		}
	}
	line, err := bufio.NewReader(tty).ReadString('\n')
	fmt.Fprintln(tty)
	return strings.TrimRight(line, "\r\n"), err
}
