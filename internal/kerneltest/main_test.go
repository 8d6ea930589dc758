// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"os"
	"testing"

	"gontp/internal/uml"
)

func TestMain(m *testing.M) {
	code := m.Run()
	uml.Cleanup()
	os.Exit(code)
}
