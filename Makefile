# actnet: the two set-up commands are `make demo` and `make test`.
GO ?= go
# gotestsum prints a one-line summary of the whole run at the end.
GOTESTSUM ?= $(GO) run gotest.tools/gotestsum@v1.13.0
# Fuzz targets run briefly in `make test`, by iteration count: a duration
# races the fuzzer's start-up on a loaded machine ("context deadline
# exceeded" with no crasher). 5000 runs each keep the fuzz step well under
# two minutes on two cores. Longer runs: `make fuzz FUZZTIME=5m`.
FUZZTIME ?= 5000x

.PHONY: all build demo test unit race allocs fuzz lint portable clean bench examples soak tap-offload-off hvt test-hvt scale

all: build

build:
	$(GO) build -o bin/actnet ./cmd/actnet

# As root: a network namespace with a tap, actnet serving in it, Linux
# reaching it. Without root: two stacks in one process over the memory link.
demo: build
	@if [ "$$(id -u)" = 0 ]; then ./scripts/demo-tap.sh bin/actnet; \
	else echo "(not root: running two stacks over the memory link)"; ./bin/actnet demo; fi

# Everything CI checks: gofmt, go.mod tidiness, vet (the bench module's
# too), staticcheck, the core's portability, the allocation tests, each
# fuzz target briefly, the examples, then the race-enabled test suite (tap
# tests run as root inside namespaces they create), whose summary line ends
# the output.
test: lint portable allocs fuzz examples race

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	cd bench && $(GO) mod tidy -diff
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; \
	elif [ -x "$$($(GO) env GOPATH)/bin/staticcheck" ]; then "$$($(GO) env GOPATH)/bin/staticcheck" ./...; \
	else echo "staticcheck not installed: $(GO) install honnef.co/go/tools/cmd/staticcheck@latest"; fi

# The core builds without Linux or cgo (scripts/portable.sh); with
# TAMAGO=/path/to/tamago-go/bin/go it is also built for GOOS=tamago.
portable:
	GO=$(GO) ./scripts/portable.sh

# actnet as a Solo5 hvt unikernel (README, "Running as a unikernel"):
# TAMAGO is the tamago-go compiler's go command, SOLO5_HVT the solo5-hvt
# tender; both are prerequisites the user installs. The board links the
# image at 0x10010000 (device/hvt.TextStart) and replaces TamaGo's amd64
# start-up (linkcpuinit, linkramstart); hvtnote then writes the Solo5 ABI
# and manifest notes (one NET_BASIC device, service).
TAMAGO ?=
SOLO5_HVT ?= $(shell command -v solo5-hvt 2>/dev/null)
HVT_TAGS = nostatfs,linkcpuinit,linkramstart
hvt:
	@if [ -z "$(TAMAGO)" ]; then \
	  echo "make hvt: TAMAGO is unset: build the tamago-go compiler (github.com/usbarmory/tamago-go, tag tamago-go1.26.0: cd src && ./make.bash) and run make hvt TAMAGO=/path/to/tamago-go/bin/go"; exit 2; fi
	GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago $(TAMAGO) build -tags $(HVT_TAGS) \
	  -trimpath -ldflags "-T 0x10010000 -R 0x1000 -s -w" -o bin/actnet.hvt ./cmd/actnet-hvt
	$(GO) run ./cmd/hvtnote bin/actnet.hvt
	@ls -l bin/actnet.hvt

# As root: boots bin/actnet.hvt under solo5-hvt on a tap in a network
# namespace, pings it 50 times and runs TCP (1 MiB, SHA-256) and UDP echo
# from Linux (scripts/test-hvt.sh). Where KVM cannot run a Go guest (no SSE
# in nested guests) it does so inside a Linux VM under QEMU's emulation.
# Without TAMAGO or SOLO5_HVT it says what is missing and skips (exit 0).
test-hvt:
ifeq ($(and $(TAMAGO),$(SOLO5_HVT)),)
	@echo "make test-hvt: skipped:"
	@[ -n "$(TAMAGO)" ] || echo "  TAMAGO is unset: the tamago-go compiler's go command (github.com/usbarmory/tamago-go, tag tamago-go1.26.0, built with cd src && ./make.bash), e.g. TAMAGO=/opt/tamago-go/bin/go"
	@[ -n "$(SOLO5_HVT)" ] || echo "  SOLO5_HVT is unset and solo5-hvt is not on PATH: the Solo5 hvt tender (github.com/solo5/solo5: ./configure.sh && make, needs libseccomp-dev and pkg-config), e.g. SOLO5_HVT=/opt/solo5/tenders/hvt/solo5-hvt"
else
	$(MAKE) hvt TAMAGO=$(TAMAGO)
	GO=$(GO) SOLO5_HVT=$(SOLO5_HVT) ./scripts/test-hvt.sh bin/actnet.hvt
endif

race:
	$(GOTESTSUM) --format pkgname-and-test-fails -- -race -count=1 -timeout 15m ./...

# The allocation tests count every malloc in the process, which the race
# detector's own bookkeeping would swamp: they run without -race.
allocs:
	$(GO) test -count=1 -run 'Alloc' ./...

# As root: the tap tests again with `actnet serve --offload off` (the
# suite's normal run has the tap's offloads on). Its summary line (DONE
# ...) is the last line of .ci/run's output.
tap-offload-off:
	ACTNET_OFFLOAD=off $(GOTESTSUM) --format pkgname-and-test-fails -- -count=1 -timeout 15m -run '^TestTap' ./tests/

# As root: issue 14's scale acceptance runs (tests/scale_tap_test.go), a
# quarter of an hour or more: 100,000 idle echo connections over a tap,
# and 2,000 server-closed connections a second for 2 minutes. Not part of
# `make test`; without ACTNET_SCALE=1 the tests skip.
scale:
	ACTNET_SCALE=1 $(GO) test -count=1 -timeout 60m -v -run '^TestScale' ./tests/

# Each program in examples/ checks its own result and exits non-zero on a
# failure; each prints one line.
examples:
	@set -e; for dir in examples/*/; do \
	  echo "run $$dir"; $(GO) run ./$$dir; \
	done

unit:
	$(GO) test -count=1 ./...

# Each fuzz target for FUZZTIME, one at a time (go test -fuzz takes one).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
	  done; \
	done

# As root: actnet, gVisor's netstack and Linux under the same loads, each in
# fresh network namespaces; prints a table and writes bench/results/. The
# bench module is separate, so gVisor never enters the main go.mod; actnet
# itself is built here, with the dependencies its users get.
bench:
	$(GO) build -o bench/results/bin/actnet ./cmd/actnet
	cd bench && $(GO) build -o results/bin/ ./cmd/... && \
	  $(GO) test -c -o results/bin/inproc.test ./inproc && \
	  ./results/bin/benchrun -bin results/bin -out results

# As root: SOAK (default 10m) of mixed load against `actnet serve` on a tap
# through a lossy router namespace (tests/soak_test.go, TestSoak, which runs
# only when ACTNET_SOAK is set, so `make test` skips it). It prints the
# stack's RSS, goroutines, open connections and pool buffers every 30 s and
# fails if a load errs beyond its tolerance or a gauge grows after warm-up.
SOAK ?= 10m
soak:
	ACTNET_SOAK=$(SOAK) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 0 ./tests

clean:
	rm -rf bin
