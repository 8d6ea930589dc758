// SPDX-License-Identifier: BSD-2-Clause

// Package architecture holds no code: its tests keep docs/architecture.md and the code in
// step. The core packages (timestamps, wire codec, associations, system process, discipline,
// config parser, engine, snapshot, servers) must stay free of I/O and of the wall clock so
// that the simulator and the tests can drive them with virtual time; the time and control
// servers know neither the engine nor the configuration: they read the published snapshot and
// take settings the daemon translated for them. The document must list exactly the core
// packages checked, name every package of the module and state each boundary; nothing may
// refer outside the repository; every Go file carries the SPDX licence line.
package architecture
