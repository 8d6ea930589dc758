# gontp build and test entry points. `make` builds the programs into bin/; `make test` installs
# what the tests need on a fresh Debian machine and runs the whole suite; `make run` builds and
# starts the daemon in the foreground on an example configuration.

GO      ?= go
BIN     := bin
CMDS    := $(notdir $(wildcard cmd/*))
FUZZTIME ?= 5s
# Port 123 needs root; use sudo only when not root already.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all build test test-deps check fuzz bench run clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

# The whole suite: dependencies, static checks, every test with the race detector, then the
# interoperability tests (they run the reference programs in private network namespaces,
# need root, and measure offsets in real time, so they run on their own, not beside the
# other packages' tests), the real-kernel tests (User-Mode Linux guests, same reasons),
# then a short fuzz run of every fuzz target.
INTEROP := gontp/internal/interop
PACKAGING := gontp/packaging
KERNELTEST := gontp/internal/kerneltest
test: test-deps check
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e '^$(INTEROP)$$' -e '^$(PACKAGING)$$' -e '^$(KERNELTEST)$$')
	$(GO) test -race -count=1 -timeout 20m $(INTEROP)
	$(GO) test -race -count=1 -parallel 8 -timeout 15m $(KERNELTEST)
	$(GO) test -count=1 -timeout 25m $(PACKAGING)
	$(MAKE) fuzz

test-deps:
	scripts/install-test-deps

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Each fuzz target runs on its own for FUZZTIME (the session notes give the longer figures).
# Go's fuzzer sometimes reports "context deadline exceeded" when the time runs out while it
# is minimising a new input; that is not a finding (a finding always writes "Failing input"),
# so such a run is repeated once.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/gontp-fuzz.log 2>&1 || \
	    if grep -q 'context deadline exceeded' /tmp/gontp-fuzz.log && ! grep -q 'Failing input' /tmp/gontp-fuzz.log; then \
	      echo "  the fuzzer hit its deadline while minimising (no failing input): running it again"; \
	      $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/gontp-fuzz.log 2>&1 || { cat /tmp/gontp-fuzz.log; exit 1; }; \
	    else cat /tmp/gontp-fuzz.log; exit 1; fi; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run: build
	@echo "gontp ntpd on UDP 123 (Ctrl-C stops it); in another terminal: bin/ntpq -p 127.0.0.1   (or bin/ntpdate -q 127.0.0.1)"
	$(SUDO) $(BIN)/ntpd -n -c examples/ntp.conf

clean:
	rm -rf $(BIN)

# Debian package (issue 9): packaging/deb-build runs dpkg-buildpackage -b in a copy of the
# checkout, offline from the Go module cache, and puts the .deb, .buildinfo and .changes into
# DEBDIR; lintian then checks them and fails the target on an error (debian/README.Debian lists
# the warnings it gives and why). packaging/deb-acceptance is the installation test.
DEBDIR  ?= dist
LINTIAN ?= lintian

.PHONY: deb
deb:
	packaging/deb-build -o $(DEBDIR)
	@if command -v $(LINTIAN) >/dev/null; then \
	  v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg --print-architecture); \
	  echo "$(LINTIAN) $(DEBDIR)/gontp_$${v}_$${a}.changes"; \
	  $(LINTIAN) --fail-on error $(DEBDIR)/gontp_$${v}_$${a}.changes; \
	else echo "lintian is not installed; the package was not checked (apt-get install lintian)"; fi
