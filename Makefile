# driftwatch build, test and check targets. Run `make help` for the list.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin

.PHONY: help build deps test unit check fmt vet tidy check-deps fuzz bench demo clean

help:
	@echo "make build       build bin/driftwatch-agent and bin/driftwatch-collector"
	@echo "make test        the whole suite: install what it needs, check, unit and end-to-end tests (-race), brief fuzzing"
	@echo "make unit        go test -race ./... alone"
	@echo "make check       gofmt, go vet, go mod tidy and dependency-direction checks"
	@echo "make fuzz        run each fuzz target briefly (FUZZTIME=10s)"
	@echo "make demo        standalone drift check of the example tree"
	@echo "make bench       speed and memory against AIDE (bench/aide.sh)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/driftwatch-agent ./agent/cmd/driftwatch-agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/driftwatch-collector ./collector/cmd/driftwatch-collector

deps:
	bash scripts/deps.sh

test: deps check unit fuzz

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
	$(GO) test ./agent/internal/config/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

bench:
	bash bench/aide.sh

demo: build
	bash scripts/demo.sh

clean:
	rm -rf $(BIN)
