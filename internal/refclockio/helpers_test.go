// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import "log/slog"

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
