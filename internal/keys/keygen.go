// SPDX-License-Identifier: BSD-2-Clause

package keys

import (
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// ntpEpochOffset is the seconds from 1900 (NTP's era 0) to 1970.
const ntpEpochOffset = 2208988800

// KeygenName is the file name classic ntp-keygen -M gives its symmetric keys:
// ntpkey_MD5key_HOST.FSTAMP, where FSTAMP is the NTP seconds of the moment it was made.
func KeygenName(host string, now time.Time) string {
	return fmt.Sprintf("ntpkey_MD5key_%s.%d", host, uint32(now.Unix()+ntpEpochOffset))
}

// WriteKeygen writes a symmetric key file as classic ntp-keygen -M writes it (ntp-keygen(8),
// gen_md5 in util/ntp-keygen.c): a comment naming the file and the time, then ten MD5 keys
// of 20 printable ASCII characters (no blank and no '#', which would end the key) and ten
// SHA1 keys of 20 random octets in hex. rnd must be a cryptographic source.
func WriteKeygen(w io.Writer, name string, now time.Time, rnd io.Reader) error {
	if _, err := fmt.Fprintf(w, "# %s\n# %s\n\n", name, now.Format("Mon Jan _2 15:04:05 2006")); err != nil {
		return err
	}
	for id := 1; id <= 10; id++ {
		var key [20]byte
		for i := range key {
			c, err := printable(rnd)
			if err != nil {
				return err
			}
			key[i] = c
		}
		if _, err := fmt.Fprintf(w, "%2d MD5 %s  # MD5 key\n", id, key[:]); err != nil {
			return err
		}
	}
	for id := 11; id <= 20; id++ {
		var key [20]byte
		if _, err := io.ReadFull(rnd, key[:]); err != nil {
			return fmt.Errorf("random source: %w", err)
		}
		if _, err := fmt.Fprintf(w, "%2d SHA1 %s  # SHA1 key\n", id, hex.EncodeToString(key[:])); err != nil {
			return err
		}
	}
	return nil
}

// printable draws random octets until one is a printable character other than '#'
// (0x21..0x7e), so that every character is equally likely.
func printable(rnd io.Reader) (byte, error) {
	var b [1]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, fmt.Errorf("random source: %w", err)
		}
		if c := b[0] & 0x7f; c > 0x20 && c < 0x7f && c != '#' {
			return c, nil
		}
	}
}
