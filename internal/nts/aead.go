// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"errors"
	"fmt"
	"strings"
)

// AEAD algorithm identifiers (IANA "AEAD Algorithms" registry, RFC 5297 section 6 and RFC
// 5116). RFC 8915 section 5.1 makes AEAD_AES_SIV_CMAC_256 mandatory; the longer two are the
// same construction with bigger keys and NTPsec offers them too.
const (
	AEADAESSIVCMAC256 = 15
	AEADAESSIVCMAC384 = 16
	AEADAESSIVCMAC512 = 17
)

// DefaultAEADs is what gontp offers and accepts, in order of preference.
var DefaultAEADs = []uint16{AEADAESSIVCMAC256, AEADAESSIVCMAC512, AEADAESSIVCMAC384}

// ErrAEAD: an AEAD identifier gontp does not implement.
var ErrAEAD = errors.New("unsupported NTS AEAD algorithm")

// KeyLen is the key length of an AEAD algorithm (the length both the C2S and S2C keys are
// exported with, section 5.1), or 0 if gontp does not implement it.
func KeyLen(aead uint16) int {
	switch aead {
	case AEADAESSIVCMAC256:
		return 32
	case AEADAESSIVCMAC384:
		return 48
	case AEADAESSIVCMAC512:
		return 64
	}
	return 0
}

// AEADName returns the IANA name of an algorithm.
func AEADName(aead uint16) string {
	switch aead {
	case AEADAESSIVCMAC256:
		return "AES_SIV_CMAC_256"
	case AEADAESSIVCMAC384:
		return "AES_SIV_CMAC_384"
	case AEADAESSIVCMAC512:
		return "AES_SIV_CMAC_512"
	}
	return fmt.Sprintf("AEAD-%d", aead)
}

// ParseAEADList reads NTPsec's `nts aead` value: names separated by colons, with or without
// the AEAD_ prefix (NTPsec: "AES_SIV_CMAC_256:AES_SIV_CMAC_512").
func ParseAEADList(s string) ([]uint16, error) {
	var out []uint16
	for _, n := range strings.Split(s, ":") {
		n = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(n)), "AEAD_")
		var id uint16
		for _, a := range DefaultAEADs {
			if AEADName(a) == n {
				id = a
			}
		}
		if id == 0 {
			return nil, fmt.Errorf("%w %q (known: AES_SIV_CMAC_256, AES_SIV_CMAC_384, AES_SIV_CMAC_512)", ErrAEAD, n)
		}
		out = append(out, id)
	}
	return out, nil
}

// ExporterLabel and ExporterContext give the TLS exporter inputs of section 5.1: the label,
// and a context of the Next Protocol ID, the AEAD ID and 0 for the client-to-server key or 1
// for the server-to-client key.
const ExporterLabel = "EXPORTER-network-time-security"

// ExporterContext returns the exporter context for NTPv4 with aead; s2c selects the
// server-to-client key.
func ExporterContext(aead uint16, s2c bool) []byte {
	c := []byte{0, ProtocolNTPv4, byte(aead >> 8), byte(aead), 0}
	if s2c {
		c[4] = 1
	}
	return c
}
