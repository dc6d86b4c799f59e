# CrowdCanvas: `make demo` starts the demo, `make test` runs the lint checks and the tests.
# Both do all set-up on a fresh machine (Python 3.11, Debian).

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and benchmarks start: PostgreSQL and Redis
# servers, Chromium for the browser tests.
SYSTEM_PACKAGES := postgresql redis-server chromium

.PHONY: demo test lint format bench system-deps venv venv-dev clean

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev: requirements-dev.txt $(BIN)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.runtime
venv-dev: $(BIN)/.dev

system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

demo: venv
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: system-deps venv-dev lint
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
