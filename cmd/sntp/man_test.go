// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"testing"

	"gontp/internal/cli/clitest"
)

// TestManPage: man/sntp's page is what the option table generates and names every option.
func TestManPage(t *testing.T) { clitest.ManPage(t, &command) }
