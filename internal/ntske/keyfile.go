// SPDX-License-Identifier: BSD-2-Clause

package ntske

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gontp/internal/nts"
)

// KeyFile keeps the server's master keys in a file (`nts cookie FILE`), so that a restart
// keeps every cookie handed out valid and clients need no new NTS-KE.
type KeyFile struct {
	Path string
	Ring *nts.KeyRing
	Rand io.Reader
}

// Load reads the file into the ring; a missing file is not an error (the first Rotate
// creates it). A file that exists but cannot be read or parsed is an error naming it.
func (k *KeyFile) Load() error {
	b, err := os.ReadFile(k.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if err := k.Ring.UnmarshalText(b); err != nil {
		return fmt.Errorf("%s: %w", k.Path, err)
	}
	return nil
}

// Rotate makes a new master key when due (nts.RotatePeriod) and then writes the file.
func (k *KeyFile) Rotate(now time.Time) (bool, error) {
	changed, err := k.Ring.Rotate(now, k.Rand)
	if err != nil || !changed {
		return changed, err
	}
	return true, k.Save()
}

// Save writes the ring atomically: a temporary file in the same directory, mode 0600,
// synced, then renamed over the old one, so that a crash leaves the old keys or the new
// ones, never half a file.
func (k *KeyFile) Save() error {
	text, err := k.Ring.MarshalText()
	if err != nil {
		return err
	}
	dir := filepath.Dir(k.Path)
	f, err := os.CreateTemp(dir, ".ntskeys-*")
	if err != nil {
		return fmt.Errorf("NTS master keys: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if err := os.Rename(tmp, k.Path); err != nil {
		return fmt.Errorf("NTS master keys: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
