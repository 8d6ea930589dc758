// SPDX-License-Identifier: BSD-2-Clause

// Package engine owns the associations, the system state and the clock loop. It consumes
// events, emits effects and publishes an immutable snapshot.Snapshot that the time server and
// the control server read without locks (see docs/architecture.md, "Data flow").
package engine
