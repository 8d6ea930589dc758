// SPDX-License-Identifier: BSD-2-Clause

package clock_test

import (
	"gontp/clock"
	"gontp/internal/engine"
)

// The engine's Discipline interface is satisfied; Process, Poll, Settling, Vars, Leap and
// SetPollLimits are the extras the engine reaches through *clock.Discipline.
var _ engine.Discipline = (*clock.Discipline)(nil)
