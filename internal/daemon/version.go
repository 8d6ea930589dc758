// SPDX-License-Identifier: BSD-2-Clause

package daemon

// Version is gontp's version. The daemon's version string starts with "ntpd " as classic's
// does ("ntpd 4.2.8p15@1.3728-o ..."), because monitoring tools read the `version` system
// variable and the start-up banner and expect that word first.
const Version = "0.1.0"

// VersionString is what the daemon logs at start and what ntpq's `version` variable shows.
func VersionString() string { return "ntpd gontp-" + Version }
