# Tollgate: build, test, benchmark and run. `make test` is what CI runs
# (.ci/run); `make deps` installs the Debian packages the tests drive.

GO ?= go
# The version stamped into the binary; a checkout without commits is a dev build.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
# Extra `go test` flags, e.g. `make test TESTFLAGS=-race`.
TESTFLAGS ?=
# 1: the package test may install the .deb on this machine (see test).
TOLLGATE_TEST_INSTALL ?=
# Build tools (staticcheck, nfpm) are tools of their own module, tools/go.mod,
# so that their dependencies stay out of the product's module graph.
GOTOOL = $(GO) tool -modfile=tools/go.mod

.PHONY: build deps test fmt vet bench run clean

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/tollgate ./cmd/tollgate

deps:
	bash scripts/install-deps.sh

# gofmt must have nothing to say: the check fails listing the files it would change.
# The package test installs the .deb on this machine only in CI (CI=true) or
# with `make test TOLLGATE_TEST_INSTALL=1`; elsewhere it checks the packages
# without installing them.
test: deps
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (make fmt):"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(GOTOOL) staticcheck ./...
	TOLLGATE_TEST_INSTALL=$(TOLLGATE_TEST_INSTALL) $(GO) test -count=1 -timeout 20m $(TESTFLAGS) ./...

fmt:
	gofmt -w .

vet:
	$(GO) vet ./...
	$(GOTOOL) staticcheck ./...

# Flags for the load driver, e.g. `make bench BENCHFLAGS=-quick` for a
# smoke run of about 6 minutes; `go run ./internal/bench -h` lists them.
BENCHFLAGS ?=

# Go benchmarks — the hot paths, the CDR table's searches (BenchmarkCDRScale,
# one million rows unless TOLLGATE_BENCH_CDR_ROWS says more) and the cluster
# run (BenchmarkCluster: three Tollgates behind Kamailio's dispatcher sharing
# Redis, rising rates of 100 to 800 calls/s for 10 s each, stopping at the
# first not held; the highest rate held and Redis commands per call)
# — then the load driver: SIPp through the switch (call rate, concurrent
# calls, call rate with RADIUS auth and accounting on a real FreeRADIUS), the
# same call-rate steps through a Kamailio proxy and SIPp to SIPp for
# comparison, and the built-in relay's load tool.
# docs/benchmarks.md explains the figures.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	$(GO) run ./internal/bench $(BENCHFLAGS)

# The whole appliance on this machine: a private PostgreSQL under .run/
# (installed from Debian when missing), migrated, and tollgate serve on the
# example configuration with its call records going there. Ctrl-C stops both.
run: build
	$(GO) run ./internal/devrun -c examples/tollgate.yaml -dir .run -bin bin/tollgate

# The .deb and .rpm (nfpm, a tool of tools/go.mod) in PACKAGE_DIR:
# tollgate_<version>_<arch>.deb and tollgate-<version>.<rpm arch>.rpm, the
# version from git (packaging/version.sh) unless PACKAGE_VERSION is given.
# `make package PACKAGE_ARCH=arm64` cross-compiles for arm64.
PACKAGE_ARCH ?= amd64
PACKAGE_DIR ?= dist
PACKAGE_VERSION ?=
.PHONY: package
package:
	GO="$(GO)" sh packaging/package.sh "$(PACKAGE_ARCH)" "$(PACKAGE_DIR)" "$(PACKAGE_VERSION)"

clean:
	rm -rf bin dist .run
