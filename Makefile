# seedbench — two set-up commands on a fresh Debian 12 machine, both needing root:
#   make run    install what is missing, build, replay the flagship scenario on every available driver
#   make test   install what is missing, run every test (real kernel, real snapshotters)
# sudo is used only where the user is not root and sudo exists.

SHELL   := /bin/bash
GO      ?= $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
SUDO    := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)
BIN     := bin/seedbench
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# The measuring code's identity: the tree of the sources that decide what a run measures, "-dirty"
# with uncommitted changes there. compare refuses to judge runs of two different ones.
MEASURED := internal/replay internal/measure internal/backing internal/registry internal/pull internal/sizing drivers
MEASURE_CODE ?= $(shell git ls-tree -r HEAD -- $(MEASURED) 2>/dev/null | sha256sum | cut -c1-12)$(shell git status --porcelain -- $(MEASURED) 2>/dev/null | grep -q . && echo -dirty)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.measureCode=$(MEASURE_CODE)
SCENARIO ?= scenarios/debian-emacs-apache.yaml
RUNFLAGS ?=

.PHONY: all setup build run quick test vet check schema report publish cleanup clean need-root

all: build

need-root:
	@if [ "$$(id -u)" != 0 ] && [ -z "$(SUDO)" ]; then \
		echo "seedbench needs root (it mounts filesystems and attaches loop devices): run make as root" >&2; exit 1; fi

setup: need-root
	$(SUDO) bash scripts/setup-host.sh

build:
	@echo "go build -o $(BIN) ./cmd/seedbench ($(VERSION))"
	@CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/seedbench

# Exit 4 means some requested drivers could not run here (each is listed with its reason): the
# others ran, so `make run` still succeeds.
run: setup build
	$(SUDO) $(BIN) run $(RUNFLAGS) $(SCENARIO) || [ $$? -eq 4 ]

quick: RUNFLAGS += --quick
quick: run

test: setup
	$(SUDO) env "PATH=$(dir $(GO)):$$PATH" CGO_ENABLED=1 $(GO) test -count=1 -timeout 60m ./...
	@bash scripts/check-clean.sh

vet:
	$(GO) vet ./...

# Static checks: go vet, and the nightly workflow with actionlint (fetched by the go command).
ACTIONLINT ?= github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
check: vet
	$(GO) run $(ACTIONLINT) .github/workflows/nightly.yml

schema:
	$(GO) test ./internal/scenario -run Schema -update

# RESULTS.md and its plots (results/plots/) from the result files listed in results/published.
report: build
	$(BIN) report -o RESULTS.md $$(grep -v '^#' results/published)

# Replay the published scenarios (scripts/publish.sh), record them and regenerate RESULTS.md.
publish: setup build
	$(SUDO) bash scripts/publish.sh $(BIN)

cleanup: need-root build
	$(SUDO) $(BIN) cleanup

clean:
	rm -rf bin
