// SPDX-License-Identifier: BSD-2-Clause

package clock_test

import (
	"gontp/clock"
	"gontp/internal/engine"
)

// *clock.Discipline is the engine's Loop: the engine reaches the clock only through it.
var _ engine.Loop = (*clock.Discipline)(nil)
