# driftwatch build, test and check targets. Run `make help` for the list.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin
DIST     := dist
# The agent's platforms; the collector is built for the linux ones.
CROSS    := linux/amd64 linux/arm64 windows/amd64 darwin/arm64
PKGENV    = VERSION=$(VERSION) COMMIT=$(COMMIT) DIST=$(DIST) NFPM=$(BIN)/nfpm GO=$(GO)

.PHONY: help build deps test unit check fmt vet tidy check-deps fuzz bench demo clean package cross package-repro install-test

help:
	@echo "make build       build bin/driftwatch-agent and bin/driftwatch-collector"
	@echo "make test        the whole suite: install what it needs, check, unit and end-to-end tests (-race), brief fuzzing, cross-builds, package checks"
	@echo "make unit        go test -race ./... alone"
	@echo "make check       gofmt, go vet, go mod tidy and dependency-direction checks"
	@echo "make fuzz        run each fuzz target briefly (FUZZTIME=10s)"
	@echo "make demo        a collector on SQLite and a local agent on an example tree, with the web report"
	@echo "make bench       speed and memory against AIDE (bench/aide.sh)"
	@echo "make package     .deb and .rpm of agent and collector for linux amd64 and arm64 into dist/ (reproducible)"
	@echo "make cross       agent for linux, windows and macOS, collector for linux, into dist/bin/"
	@echo "make package-repro  build the packages twice and compare their SHA-256"
	@echo "make install-test   install, upgrade and purge the .debs on this machine (root, dpkg)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/driftwatch-agent ./agent/cmd/driftwatch-agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/driftwatch-collector ./collector/cmd/driftwatch-collector

deps:
	bash scripts/deps.sh

# The packaging share: cross-compiles, packages twice (reproducibility), and
# installs the packages of dist/ (install-test skips, saying why, without
# root or dpkg; under CI=true it fails instead).
test: deps check unit fuzz cross package-repro install-test
test: INSTALL_TEST_PKGS = $(DIST)

unit:
	$(GO) test -race -count=1 ./...

check: fmt vet tidy check-deps

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./agent/... ./baseline/...
	GOOS=darwin $(GO) vet ./agent/... ./baseline/...

tidy:
	@cp go.mod /tmp/driftwatch-go.mod.bak; cp go.sum /tmp/driftwatch-go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then \
		git --no-pager diff -- go.mod go.sum; cp /tmp/driftwatch-go.mod.bak go.mod; cp /tmp/driftwatch-go.sum.bak go.sum; \
		echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

# baseline is the shared model: it imports nothing else of driftwatch. The
# agent never imports the collector's internals.
check-deps:
	@bad=$$($(GO) list -deps ./baseline/... | grep '^github.com/driftwatch/driftwatch' | grep -v '^github.com/driftwatch/driftwatch/baseline'); \
	if [ -n "$$bad" ]; then echo "baseline imports project packages:"; echo "$$bad"; exit 1; fi
	@bad=$$($(GO) list -deps ./agent/... | grep '^github.com/driftwatch/driftwatch/\(collector/internal\|reporter\)'); \
	if [ -n "$$bad" ]; then echo "the agent imports collector internals or the reporter:"; echo "$$bad"; exit 1; fi
	@echo "dependency directions ok"

FUZZTIME ?= 10s
fuzz:
	$(GO) test ./baseline/ -run '^$$' -fuzz '^FuzzUnifiedDiff$$' -fuzztime $(FUZZTIME)
	$(GO) test ./baseline/ -run '^$$' -fuzz '^FuzzItemUnmarshal$$' -fuzztime $(FUZZTIME)
	$(GO) test ./agent/internal/config/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

bench:
	bash bench/aide.sh

demo: build
	bash scripts/demo.sh

# nfpm comes from its own module (tools/go.mod), so that its dependencies
# stay out of the product's go.mod.
$(BIN)/nfpm: tools/go.mod tools/go.sum
	$(GO) build -C tools -o $(CURDIR)/$(BIN)/nfpm github.com/goreleaser/nfpm/v2/cmd/nfpm

package: $(BIN)/nfpm
	$(PKGENV) bash scripts/package.sh package

cross:
	$(PKGENV) bash scripts/package.sh build $(CROSS)

package-repro: $(BIN)/nfpm
	$(PKGENV) bash scripts/package-repro.sh

# Builds its own packages unless INSTALL_TEST_PKGS names a directory of them
# (`make test` passes the ones package-repro built).
install-test: $(BIN)/nfpm
	$(PKGENV) bash scripts/install-test.sh $(INSTALL_TEST_PKGS)

clean:
	rm -rf $(BIN) $(DIST)
