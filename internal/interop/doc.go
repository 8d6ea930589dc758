// SPDX-License-Identifier: BSD-2-Clause

// Package interop holds the end-to-end interoperability tests: the gontp programs run against
// the real classic ntpd 4.2.8p15, its sntp and ntpdate, chrony and NTPsec, each on its own host
// of a private test network (internal/testnet). It has no code of its own besides test helpers.
package interop
