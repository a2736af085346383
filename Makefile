# mycelium-go: a Mycelium overlay node and protocol gateway.
# `make help` lists the targets.

GO        ?= go
BIN       ?= bin
PLUGINS   := $(notdir $(wildcard plugins/*))
PLUGINS   := $(filter-out sdk,$(PLUGINS))
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
RUN_DIR   ?= $(CURDIR)/.run
FUZZTIME  ?= 20s
TESTFLAGS ?=

.PHONY: help build plugins run test unit e2e fuzz lint bench proto clean

help: ## show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: plugins ## build the node (bin/mycelium) and every plugin (bin/plugins/)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/mycelium ./cmd/mycelium

plugins: ## build the plugins into bin/plugins/
	@mkdir -p $(BIN)/plugins
	@for p in $(PLUGINS); do \
		if ls plugins/$$p/*.go >/dev/null 2>&1; then \
			echo "$(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p"; \
			$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/plugins/$$p ./plugins/$$p || exit 1; \
		fi; \
	done

run: build ## run a node with the gateway and plugins on the userspace stack (no root)
	@mkdir -p $(RUN_DIR)
	$(BIN)/mycelium --config-file configs/run.toml --key-file $(RUN_DIR)/priv_key.bin --data-dir $(RUN_DIR)

test: ## all tests with -race: unit, in-memory multi-node, real clients, netns e2e
	$(GO) tool gotestsum --format testname --format-hide-empty-pkg -- -race -timeout 45m $(TESTFLAGS) ./...

unit: ## fast tests only (-short), with -race
	$(GO) test -race -short $(TESTFLAGS) ./...

e2e: ## the real-network suite only (TUN, netns, third-party clients; needs root)
	$(GO) test -count=1 -v -timeout 30m $(TESTFLAGS) ./e2e/...

fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

lint: ## gofmt, go vet, and the import-rule test
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -run TestImportRules ./cmd/mycelium

bench: ## Go benchmarks of the hot paths, with -benchmem
	$(GO) test -run '^$$' -bench . -benchmem ./core/...

proto: ## regenerate the plugin gRPC code (needs Debian's protobuf-compiler)
	$(GO) generate ./plugins/sdk/proto

clean: ## remove build output
	rm -rf $(BIN) $(RUN_DIR)
