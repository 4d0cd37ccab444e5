# Chorus build, generation and test entry points. README.md names the two
# that matter to a newcomer; .ci/run calls `make test`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/chorusledger/chorus/internal/buildinfo.version=$(VERSION)
# Packages, excluding the generated protobuf code from formatting checks.
GOFILES  = $(shell git ls-files '*.go' | grep -v '\.pb\.go$$')

.PHONY: build test test-unit test-e2e lint check-proto proto fuzz bench

## build: the static chorus binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/chorus ./cmd/chorus

## proto: regenerate the Go code beside every .proto file (buf and its three
## plugins are pinned in tools/go.mod; no protoc binary is needed)
proto:
	cd proto && $(GO) tool -modfile=../tools/go.mod buf generate

## check-proto: fail when the committed generated code is stale
check-proto: proto
	@git diff --exit-code --stat -- proto || { echo "generated protobuf code is stale: run 'make proto' and commit the result" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- proto); \
	  if [ -n "$$untracked" ]; then echo "generated files not committed: $$untracked" >&2; exit 1; fi

## lint: formatting and go vet
lint:
	@unformatted=$$(gofmt -l $(GOFILES)); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

## test: everything CI runs: unit tests with the race detector, then the
## end-to-end tests that start real node processes (built without -race)
test: lint check-proto test-unit test-e2e

# The second line tests keytable's portable path, which architectures
# without nistec's assembly take (ADR 0016).
test-unit:
	$(GO) test -race -short -timeout 15m ./...
	$(GO) test -race -tags purego ./internal/identity/keytable/

test-e2e:
	$(GO) test -count=1 -timeout 20m ./internal/network/...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the Go benchmarks of the hot paths
bench:
	$(GO) test -run XXX -bench . -benchmem ./...
