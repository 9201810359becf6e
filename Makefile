# The README's commands. `make dev` runs the stack; `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(HOME)/.local/bin:$(PATH)

UV ?= uv
# Installed packages compiled to .pyc once, at sync: where PYTHONDONTWRITEBYTECODE is set (as on
# the CI machine) every process would otherwise compile its imports anew (~2.3 s per service
# start: the test suite starts dozens).
export UV_COMPILE_BYTECODE := 1
# After an explicit sync, run without re-syncing (a plain `uv run` syncs the root project only).
RUN := $(UV) run --no-sync
KAFKA_JAR := $(or $(LTS_HOME),$(HOME)/.cache/lts-flow)/kafka-4.1.1/libs/kafka_2.13-4.1.1.jar
# Helm lints and renders the Kubernetes chart (infra/helm, tests/test_helm.py); built from the Go
# module proxy, pinned, when not installed (no cluster is needed).
HELM_VERSION := v4.3.2
HELM := $(or $(LTS_HOME),$(HOME)/.cache/lts-flow)/bin/helm
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
TYPED := libs/events/src libs/devtools/src $(wildcard services/*/src) bench chaos harness

.PHONY: dev test bench chaos lint fmt typecheck infra-up infra-down schemas tools sync sync-frozen

REPLICAS ?= 1
dev: tools sync  ## run every service in the foreground (Ctrl-C stops); REPLICAS=N processes each
	$(RUN) lts dev --replicas $(REPLICAS)

test: tools sync-frozen  ## everything CI checks, against real Kafka and PostgreSQL
	settings="$$($(RUN) lts infra up)"; eval "$$settings"; \
	$(RUN) lts schemas check; \
	$(RUN) ruff check .; \
	$(RUN) ruff format --check .; \
	$(RUN) mypy $(TYPED); \
	$(RUN) lint-imports; \
	$(RUN) pytest

bench: tools sync-frozen  ## one JSON line per measurement
	settings="$$($(RUN) lts infra up)"; eval "$$settings"; \
	$(RUN) python -m bench

# The chaos suite on its own Kafka and PostgreSQL (never the shared ones): N distinct alerts, each
# delivered twice, at RATE deliveries/s, per scenario (SCENARIO=kill-postgres for one of them).
N ?= 1000
RATE ?= 200
SCENARIO ?=
chaos: tools sync-frozen  ## SIGKILL and restart every process under load; exact counts after
	$(RUN) python -m chaos --n $(N) --rate $(RATE) $(if $(SCENARIO),--scenario $(SCENARIO))

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy $(TYPED)
	$(RUN) lint-imports
	$(RUN) lts schemas check

fmt: sync
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: sync
	$(RUN) mypy $(TYPED)

schemas: sync  ## re-export libs/events/schemas after changing an event
	$(RUN) lts schemas export

infra-up: sync
	$(RUN) lts infra up

infra-down:
	$(RUN) lts infra down

# The hash chain's verifier outside Python (tests/hash_chain: Node.js and its one package).
NPM_CI := npm ci --prefix tests/hash_chain --no-audit --no-fund --silent

sync:
	$(UV) sync --all-packages
	$(NPM_CI)

sync-frozen:
	if [ -f uv.lock ]; then $(UV) sync --all-packages --frozen; else $(UV) sync --all-packages; fi
	$(NPM_CI)

# A fresh machine: uv, Java 17 (Kafka runs on the JVM), until the Kafka jars are cached Maven,
# Node.js with npm (the hash chain's verifier outside Python), and Debian's Chromium (Playwright
# drives it to check /docs offline: tests/e2e/test_docs_offline.py; never `playwright install`).
tools:
	command -v $(UV) >/dev/null || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	missing=""; \
	command -v java >/dev/null || missing="openjdk-17-jre-headless"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if ! command -v mvn >/dev/null && [ ! -f "$(KAFKA_JAR)" ]; then missing="$$missing maven"; fi; \
	if ! command -v helm >/dev/null && [ ! -x "$(HELM)" ] && ! command -v go >/dev/null; then \
		missing="$$missing golang-go"; fi; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	if ! command -v helm >/dev/null && [ ! -x "$(HELM)" ]; then \
		GOBIN="$(dir $(HELM))" go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION); fi
