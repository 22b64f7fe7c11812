# hlgate — the commands a developer and CI use. See README.md.
GO      ?= go
TOOL    := $(GO) tool -modfile=tools/go.mod
PKGS    := ./...

.PHONY: all generate check-generated lint build test test-e2e run bench bench-webhooks ensure-redis ensure-client-tools clients clean

all: build

## generate: regenerate everything under gen/: the operation table (tools/opgen:
## api/highlevel's official documents plus api/overlay.yaml), buf and oapi-codegen.
generate:
	scripts/generate.sh

## check-generated: regenerate, then fail if anything in the tree differs
## from what is committed (generated files and any file a generator writes);
## also check third_party/proto against the descriptors it was written from.
check-generated: generate
	$(GO) -C tools test -count=1 ./thirdpartyproto
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "make generate left the tree different from what is committed; run it and commit the result:" >&2; \
		git status --porcelain >&2; git --no-pager diff --stat >&2; exit 1; \
	fi
	@echo "generated files are up to date"

## lint: buf lint, go vet, staticcheck and gofmt.
lint:
	$(TOOL) buf lint
	$(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./e2e/
	$(TOOL) staticcheck $(PKGS)
	$(TOOL) staticcheck -tags e2e ./e2e/
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt would change:" >&2; echo "$$out" >&2; exit 1; fi

## build: build bin/hlgate.
build:
	$(GO) build -o bin/hlgate ./cmd/hlgate

## ensure-redis: install redis-server when missing (as root), or say how.
ensure-redis:
	@scripts/ensure-redis.sh

## test: every unit and integration test, with the race detector and never
## from the test cache (a cached pass must not hide a failure); starts its own
## redis-servers.
test: ensure-redis
	$(GO) test -race -shuffle=on -count=1 $(PKGS)
	$(GO) -C tools test -count=1 ./...

## test-e2e: the end-to-end suite: redis-server, `hlgate sandbox` and three `hlgate serve` built from the tree, and a Node client (installs its npm packages);
## TestClients generates clients/go, clients/ts (npm ci) and clients/python
## (Debian packages, installed by ensure-client-tools) and runs their examples.
test-e2e: ensure-redis ensure-client-tools
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make test-e2e needs Node.js (18 or newer) and npm: apt-get install nodejs npm" >&2; exit 1; }
	@[ -d e2e/node/node_modules ] || (cd e2e/node && npm ci --no-audit --no-fund)
	$(GO) vet -tags e2e ./e2e/
	$(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/

## clients: generate the Go, TypeScript and Python clients of the API into
## clients/*/gen (not committed) with clients/*/buf.gen.yaml; see README.md.
## One language: scripts/clients.sh go|ts|python.
clients:
	scripts/clients.sh

## ensure-client-tools: install the Debian packages the Python client needs
## (as root), or say which.
ensure-client-tools:
	@scripts/ensure-client-tools.sh

## run: hlgate with the sandbox in-process and memory stores; no other setup.
## Listens on 127.0.0.1 only (caller auth is off); HLGATE_HTTP_ADDR and
## HLGATE_GRPC_ADDR override. The cold build is slow, so it says so first.
run:
	@echo "building hlgate (first build takes about two minutes)…"
	$(GO) build -o bin/hlgate ./cmd/hlgate
	./bin/hlgate serve --sandbox

## bench: the package benchmarks (limiter, tokenstore, sandbox), then the facade
## against direct calls (cmd/hlbench), which rewrites its section of
## docs/BENCHMARKS.md and docs/bench-latency.png.
bench: ensure-redis
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	HLBENCH_VIA_MAKE=1 $(GO) run ./cmd/hlbench -doc docs/BENCHMARKS.md -plot docs/bench-latency.png

## bench-webhooks: 1,000 signed webhooks a second for 10 s into two replicas
## (real processes, one Redis); rewrites the "Webhook load" section of
## docs/BENCHMARKS.md. Not part of `make bench`: it needs the machine.
bench-webhooks: ensure-redis
	HLGATE_WEBHOOK_LOAD=1 HLGATE_WEBHOOK_LOAD_DOC=$(CURDIR)/docs/BENCHMARKS.md \
		$(GO) test -tags e2e -count=1 -timeout 10m -run '^TestWebhookLoad$$' -v ./e2e/

clean:
	rm -rf bin
