// SPDX-License-Identifier: BSD-2-Clause

// Command privdrop is a test helper for netio.DropPrivileges: it binds a UDP socket on a
// privileged port, drops to the user given as its argument keeping CAP_SYS_TIME and
// CAP_NET_BIND_SERVICE, starts a few goroutines so that the runtime has several threads, and
// prints the credentials of every thread from /proc for the test to check.
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"gontp/internal/netio"
)

func main() {
	// Make sure the runtime has several threads before the drop.
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			<-ready
		}()
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:123")
	if err != nil {
		fmt.Println("bind:", err)
		os.Exit(1)
	}
	defer conn.Close()
	c, err := netio.LookupCredentials(os.Args[1])
	if err != nil {
		fmt.Println("lookup:", err)
		os.Exit(1)
	}
	if _, err := netio.DropPrivileges(c, netio.KeepCapabilities); err != nil {
		fmt.Println("drop:", err)
		os.Exit(1)
	}
	close(ready)
	wg.Wait()
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:"} {
				if strings.HasPrefix(l, k) {
					fmt.Println(strings.Join(strings.Fields(l), " "))
				}
			}
		}
	}
	// Still able to use the socket bound as root.
	if _, err := conn.WriteTo([]byte("x"), conn.LocalAddr()); err != nil {
		fmt.Println("send after drop:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
