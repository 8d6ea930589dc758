// SPDX-License-Identifier: BSD-2-Clause

// Package architecture holds no code: its test enforces the seams of DESIGN.md. The core
// packages (timestamps, wire codec, associations, discipline, config parser, engine, servers)
// must stay free of I/O and of the wall clock so that the simulator and the tests can drive
// them with virtual time.
package architecture
