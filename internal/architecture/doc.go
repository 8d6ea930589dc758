// Package architecture holds no code: its test enforces the seams of DESIGN.md. The core
// packages (timestamps, wire codec, associations, system process, discipline, config parser,
// engine, snapshot, servers) must stay free of I/O and of the wall clock so that the
// simulator and the tests can drive them with virtual time; and the time and control servers
// know neither the engine nor the configuration: they read the published snapshot and take
// settings the daemon translated for them.
package architecture
