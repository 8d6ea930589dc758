// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// debugStep is one of classic's debug levels in slog terms: -d once is debug level 1
// (slog.LevelDebug), each further level 4 below it.
const debugStep = slog.LevelInfo - slog.LevelDebug

// DebugLevel is the classic debug level a slog level stands for (0 at info or above).
func DebugLevel(l slog.Level) int {
	if l >= slog.LevelInfo {
		return 0
	}
	return int((slog.LevelInfo - l + debugStep - 1) / debugStep)
}

// LevelFor is the slog level of classic debug level n (n ≤ 0: info).
func LevelFor(n int) slog.Level {
	if n <= 0 {
		return slog.LevelInfo
	}
	return slog.LevelInfo - slog.Level(n)*debugStep
}

// HandleSignals handles the signals a running ntpd takes besides SIGTERM and SIGINT:
// SIGUSR1 raises the debug level by one and SIGUSR2 lowers it (classic's moredebug and
// lessdebug; classic needs a debug build, gontp always has one), and SIGHUP is sent on
// the returned channel for Run to reload. It stops when ctx ends.
func HandleSignals(ctx context.Context, level *slog.LevelVar, log *slog.Logger) <-chan struct{} {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	reload := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				switch s {
				case syscall.SIGHUP:
					select {
					case reload <- struct{}{}:
					default: // one is pending already
					}
				case syscall.SIGUSR1:
					n := DebugLevel(level.Level()) + 1
					level.Set(LevelFor(n))
					log.Info(fmt.Sprintf("debug raised to %d", n))
				case syscall.SIGUSR2:
					n := DebugLevel(level.Level()) - 1
					if n < 0 {
						n = 0
					}
					// Said before lowering, so that the line is seen at the old level.
					log.Info(fmt.Sprintf("debug lowered to %d", n))
					level.Set(LevelFor(n))
				}
			}
		}
	}()
	return reload
}
