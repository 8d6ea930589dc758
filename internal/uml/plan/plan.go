// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

// Package plan is what a User-Mode Linux test guest is told to do and what it reports, shared by
// the host side (internal/uml) and the guest's init (internal/uml/agent). The host writes a Plan
// as JSON into the run directory before the guest boots; the guest writes its samples and calls
// there as JSON lines. The run directory has the same path on both sides (the guest's root is
// the host's / through hostfs, read-only, and the run directory is mounted over it read-write).
package plan

// File names in the run directory.
const (
	PlanFile    = "plan.json"
	SamplesFile = "samples.jsonl" // one Sample per line
	CallsFile   = "calls.jsonl"   // one Call per line
	LogFile     = "agent.log"     // the agent's own log
	DoneFile    = "done"          // written last, before power-off: the plan ran to its end
)

// Anchor maps the counter to the host's CLOCK_REALTIME at boot: host ns = Ns + (tsc-TSC)/GHz.
// The guest uses it once, to put the plan's clock error into its own clock before anything runs.
type Anchor struct {
	TSC uint64
	Ns  int64
	GHz float64 // counter ticks per nanosecond
}

// Plan is one guest's orders.
type Plan struct {
	Addr     string   // eth0's address with prefix, e.g. "198.18.0.100/24"; "" leaves eth0 down
	Anchor   Anchor   // host clock at boot
	Offset   int64    // the guest clock's error to set at start, ns ahead of the host (0: none)
	Tick     int64    // ADJ_TICK value to set at start (0: leave 10000)
	Mkdirs   []string // directories to make (on tmpfs under /tmp, /run, /var/lib or the run dir)
	SampleMs int      // sampling period, ms (0: 1000)
	Steps    []Step
}

// Step is one action. Exactly one of its groups is set; At, when not zero, first waits until At
// seconds after the plan's start (CLOCK_MONOTONIC, so steps of the clock do not move it). The
// plan starts when the guest's clock reads a whole second, so a step At n+0.5 runs in the middle
// of a second of the kernel's clock; samples are taken from 0.125 s on.
type Step struct {
	At float64 `json:",omitempty"`

	// Run a program. Background ones are stopped (SIGTERM, then SIGKILL) at the end of the plan
	// or by a Stop step naming them; foreground ones are waited for up to Timeout seconds (60
	// if 0) and their exit status is recorded as a Call.
	Name       string   `json:",omitempty"`
	Argv       []string `json:",omitempty"`
	Env        []string `json:",omitempty"`
	Output     string   `json:",omitempty"` // file in the run directory for stdout and stderr
	Background bool     `json:",omitempty"`
	Timeout    float64  `json:",omitempty"`

	Stop string `json:",omitempty"` // stop the background program of this name

	Sleep float64 `json:",omitempty"` // seconds

	Adjtimex *Timex `json:",omitempty"` // one adjtimex call, recorded as a Call
}

// Timex is the part of struct timex a plan sets (units are the kernel's: Offset in µs, or ns
// with ADJ_NANO/STA_NANO; Freq in ppm·2^16; SetOffset in ns for ADJ_SETOFFSET).
type Timex struct {
	Modes     uint32
	Offset    int64 `json:",omitempty"`
	Freq      int64 `json:",omitempty"`
	Status    int32 `json:",omitempty"`
	Constant  int64 `json:",omitempty"`
	Tick      int64 `json:",omitempty"`
	SetOffset int64 `json:",omitempty"`
	MaxError  int64 `json:",omitempty"` // µs
	EstError  int64 `json:",omitempty"` // µs
}

// Kernel is what adjtimex reported.
type Kernel struct {
	State    int   // return value: TIME_OK ... TIME_ERROR
	Offset   int64 // remaining PLL offset, ns
	Freq     int64 // ppm·2^16
	Status   int32
	Constant int64
	Tick     int64
	MaxError int64 // µs
	EstError int64 // µs
	TAI      int32
}

// Sample is one periodic reading of the guest clock: the counter-tied realtime, the kernel's
// NTP state, and how many times the clock was set since the agent started (a timerfd armed with
// TFD_TIMER_CANCEL_ON_SET: settimeofday, clock_settime and ADJ_SETOFFSET all cancel it).
type Sample struct {
	Mono   float64 // seconds since the plan's start (CLOCK_MONOTONIC)
	TSC    uint64
	Ns     int64
	Width  uint64
	Steps  int
	Kernel Kernel
}

// Call is one adjtimex call of the plan (or a program's exit), with the counter before and
// after it so that the host can replay it at the same instant.
type Call struct {
	Step     int
	TSC0     uint64
	TSC1     uint64
	Mono     float64
	In       *Timex `json:",omitempty"`
	Kernel   Kernel
	Err      string `json:",omitempty"`
	Name     string `json:",omitempty"`
	ExitCode int    `json:",omitempty"`
}
