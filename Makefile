# wirewatch: `make run` starts the embedded stack, `make test` runs every test.
# Needs only python3 and make: uv (pinned) is installed into .tools/, the project into .venv/.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
STAMP := .venv/.synced-$(shell cat uv.lock pyproject.toml services/*/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help run test test-unit test-faults lint format bench schemas clean system-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-packages
	rm -f .venv/.synced-* && touch $@

run: $(STAMP) ## start the embedded stack with the sample stories, in the foreground (Ctrl-C stops it)
	WIREWATCH_LOG_FORMAT=$${WIREWATCH_LOG_FORMAT:-text} $(UV) run --frozen wirewatch up --load samples

# Debian tools the tests drive as independent clients: a headless browser and kcat.
SYSTEM_TOOLS := chromium chromedriver kcat
system-deps: ## install chromium, chromium-driver and kcat from Debian when missing (needs root or sudo)
	@missing=$$(for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for: $$missing"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver kcat >/dev/null; \
	fi

test: $(STAMP) system-deps ## run the test suite (unit, integration, slow; `long` runs are in test-faults)
	$(UV) run --frozen pytest -m "not long" --durations=15

test-faults: $(STAMP) ## the long tests, the full fault drill (eight faults under a steady stream) and the long real-wire soak
	$(UV) run --frozen pytest -m long
	$(UV) run --frozen python tests/faults/run_faults.py
	$(UV) run --frozen python tests/realwire/run_soak.py

test-unit: $(STAMP) ## run the fast unit tests only
	$(UV) run --frozen pytest -m unit

lint: $(STAMP) ## ruff and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy $(wildcard services/*/src) bench

format: $(STAMP) ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: $(STAMP) ## run every benchmark under bench/ (each ends with a JSON line)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(UV) run --frozen python $$b || exit 1; done

schemas: $(STAMP) ## regenerate deploy/schemas/ from the story contract
	$(UV) run --frozen python -m wirewatch_common.schemas deploy/schemas

clean: ## remove the environments and caches (keeps var/)
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
