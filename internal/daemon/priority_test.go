// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEachThreadOnce: eachThread reaches every thread of the process exactly once, also the
// threads made while it runs (each is cloned from a thread f may not have reached yet, so a
// single pass over /proc/self/task is not enough: CI saw one thread left SCHED_OTHER).
func TestEachThreadOnce(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skipf("no /proc/self/task: %v", err)
	}
	var wg sync.WaitGroup
	release := make(chan struct{})
	defer wg.Wait()
	defer close(release)
	// spawn makes n goroutines that each hold a thread of their own until release, and
	// returns those threads' ids once all hold one.
	spawn := func(n int) []int {
		tids := make(chan int, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				tids <- unix.Gettid()
				<-release
			}()
		}
		var out []int
		for range n {
			out = append(out, <-tids)
		}
		return out
	}
	before := spawn(8)
	var during []int
	seen := map[int]int{}
	err := eachThread(func(tid int) error {
		seen[tid]++
		if during == nil {
			during = spawn(8) // threads made after the first pass read the list
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range append(before, during...) {
		if seen[tid] == 0 {
			t.Errorf("thread %d: never reached", tid)
		}
	}
	for tid, n := range seen {
		if n != 1 {
			t.Errorf("thread %d: f called %d times, want once", tid, n)
		}
	}
}
