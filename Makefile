# gontp build and test entry points. `make` builds the programs into bin/; `make test` installs
# what the tests need on a fresh Debian machine and runs the whole suite; `make run` builds and
# starts the daemon in the foreground on an example configuration.

GO      ?= go
BIN     := bin
CMDS    := $(notdir $(wildcard cmd/*))
FUZZTIME ?= 5s
# Port 123 needs root; use sudo only when not root already.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all build test test-deps check fuzz bench run clean man install uninstall install-check

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

# The whole suite: dependencies, static checks, every test with the race detector, then the
# interoperability tests (they run the reference programs in private network namespaces,
# need root, and measure offsets in real time, so they run on their own, not beside the
# other packages' tests; those that wait minutes call t.Parallel and run side by side, each on
# its own network), the real-kernel tests (User-Mode Linux guests, same reasons), then a short
# fuzz run of every fuzz target.
INTEROP := gontp/internal/interop
PACKAGING := gontp/packaging
KERNELTEST := gontp/internal/kerneltest
test: test-deps check install-check
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e '^$(INTEROP)$$' -e '^$(PACKAGING)$$' -e '^$(KERNELTEST)$$')
	$(GO) test -race -count=1 -timeout 40m -parallel 8 $(INTEROP)
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

# Manual pages: man/NAME.SECTION for every program in cmd/, written from the option table
# that parses its command line (internal/cli); each program's TestManPage compares the page
# with its table and fails when they differ, so run this after changing an option.
# man/ntp.conf.5 is written by hand.
man:
	$(GO) test -count=1 -run '^TestManPage$$' ./cmd/... -args -update-man

# make install / make uninstall, for those who do not use the Debian package (make deb).
# The programs whose page is in section 8 (ntpd, ntpdate) go to sbin, the others to bin.
# PREFIX=/usr/local and DESTDIR (a staging root) as usual.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
MANDIR  := $(PREFIX)/share/man
SBIN_CMDS := $(filter $(CMDS),$(basename $(notdir $(wildcard man/*.8))))
BIN_CMDS  := $(filter-out $(SBIN_CMDS),$(CMDS))
MANPAGES  := $(wildcard man/*.[1-8])
# The installed files, one a line (install-check compares them with what install wrote).
INSTALLED := $(addprefix $(BINDIR)/,$(BIN_CMDS)) $(addprefix $(SBINDIR)/,$(SBIN_CMDS)) \
	$(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	$(foreach c,$(BIN_CMDS),install -m 0755 $(BIN)/$(c) $(DESTDIR)$(BINDIR)/$(c);)
	$(foreach c,$(SBIN_CMDS),install -m 0755 $(BIN)/$(c) $(DESTDIR)$(SBINDIR)/$(c);)
	$(foreach m,$(MANPAGES),install -D -m 0644 $(m) $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m));)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# Installs into a scratch DESTDIR, checks that exactly the expected files are there, then
# uninstalls and checks that none is left (run by make test).
install-check:
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	  $(MAKE) -s install DESTDIR=$$d PREFIX=/usr/local >/dev/null; \
	  want=$$(printf '%s\n' $(subst $(PREFIX),/usr/local,$(INSTALLED)) | sort); \
	  got=$$(cd $$d && find . -type f | sed 's|^\.||' | sort); \
	  if [ "$$want" != "$$got" ]; then echo "install-check: make install wrote"; echo "$$got"; \
	    echo "install-check: expected"; echo "$$want"; exit 1; fi; \
	  $(MAKE) -s uninstall DESTDIR=$$d PREFIX=/usr/local; \
	  left=$$(cd $$d && find . -type f); \
	  if [ -n "$$left" ]; then echo "install-check: make uninstall left $$left"; exit 1; fi; \
	  echo "install-check: make install and uninstall agree ($$(echo "$$want" | wc -l) files)"

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
