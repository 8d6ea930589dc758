// SPDX-License-Identifier: BSD-2-Clause

// Command finitmodule loads kernel modules by path (finit_module), for User-Mode Linux guests
// whose root (the host's, read-only) has no insmod: finitmodule FILE.ko...
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	for _, p := range os.Args[1:] {
		f, err := os.Open(p)
		if err == nil {
			err = unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "finitmodule: %s: %v\n", p, err)
			os.Exit(1)
		}
	}
}
