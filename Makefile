# CrowdCanvas: `make demo` starts the demo, `make test` runs the lint checks and the tests.
# Both do all set-up on a fresh machine (Python 3.11, Debian).

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and benchmarks start: PostgreSQL and Redis
# servers, Chromium for the browser tests. npm (for their axe-core) is
# installed from Debian only when no npm command is there: a Node.js from
# elsewhere brings its own, and conflicts with Debian's npm package.
SYSTEM_PACKAGES := postgresql redis-server chromium
# axe-core (pinned in tests/browser/axe/package-lock.json), injected into
# pages by the browser tests' accessibility check.
AXE := var/axe/node_modules/axe-core/axe.min.js

.PHONY: demo test lint format bench system-deps venv venv-dev browser-deps hosted-client clean

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev: requirements-dev.txt $(BIN)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	mkdir -p var/axe
	cp tests/browser/axe/package.json tests/browser/axe/package-lock.json var/axe/
	cd var/axe && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

browser-deps: $(AXE)

venv: $(BIN)/.runtime
venv-dev: $(BIN)/.dev

# The hosted service's client, in a virtualenv of its own (its pins clash
# with ours); tests/test_hosted_client.py runs the seed scripts with it.
var/hosted-client-venv/.installed: requirements-hosted-client.txt $(BIN)/.dev
	$(BIN)/python -m tests.hosted_client

hosted-client: var/hosted-client-venv/.installed

system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

demo: venv
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: system-deps venv-dev browser-deps hosted-client lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint and format checks (settings in pyproject.toml); `make format` applies them.
lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: system-deps venv-dev
	$(BIN)/python -m bench

clean:
	rm -rf var test-artifacts .pytest_cache
