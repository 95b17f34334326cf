# Raylane: `make up` runs the whole system on this machine; `make test` runs the whole test suite.
# Both create .venv and install what they need first; installs are skipped while requirements are unchanged.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export RAYLANE_WEB_HOST := $(WEB_HOST)
export RAYLANE_WEB_PORT := $(WEB_PORT)

.PHONY: up test test-full install install-dev services migrate lint format bench clean help chromium frontend-test \
	api-types

help:
	@echo "make up     start everything (Postgres/Redis checked, database migrated, Ray head, web, worker, beat)"
	@echo "make test   run the whole test suite"
	@echo "make test-full  the slow harnesses CI runs sized down, at full size (1 GiB upload; minutes)"
	@echo "make lint   ruff check + format check + import boundaries (lint-imports) + types (mypy)"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the raylane SDK and its `raylane` command, from this checkout
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-torch.txt requirements-keras.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt -r requirements-torch.txt -r requirements-keras.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

services: install
	$(BIN)/python scripts/check_services.py

migrate: services
	$(BIN)/python manage.py migrate --no-input

up: var/secrets.env migrate frontend/dist/index.html
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@mkdir -p var
	@echo "----------------------------------------------------------------------"
	@$(BIN)/python manage.py demo_admin
	@echo "console:  http://$(WEB_HOST):$(WEB_PORT)/   (Django admin: /admin/)"
	@echo "API docs: http://$(WEB_HOST):$(WEB_PORT)/api/docs/   Prometheus: /metrics (site admins)"
	@echo "models:   http://127.0.0.1:$${RAYLANE_SERVE_PORT:-8080}/v1/models/<name>:predict and /v2/models/<name>/infer"
	@echo "demo:     .venv/bin/python scripts/upload_iris.py   (trains, uploads and deploys two iris models)"
	@echo "----------------------------------------------------------------------"
	$(BIN)/honcho start -f Procfile

test: install-dev frontend/dist/index.html frontend-test chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python scripts/check_services.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The harnesses `make test` runs sized down to keep CI short, at full size: the authenticated upload streamed to
# disk sends 1 GiB instead of 300 MiB (RAYLANE_TEST_UPLOAD_BYTES). The JUnit XML records the web process's RSS
# growth (property rss_growth_kb); --durations shows how long it took.
FULL_UPLOAD_BYTES ?= 1073741824
test-full: install-dev
	$(BIN)/python scripts/check_services.py
	RAYLANE_TEST_UPLOAD_BYTES=$(FULL_UPLOAD_BYTES) $(BIN)/python -m pytest -p no:cacheprovider --durations=0 \
		--junitxml=var/test-full.xml tests/integration/test_request_limits.py $(PYTEST_ARGS)

# Random secrets, written on first run only (mode 0600) and never overwritten; the settings read var/secrets.env
# (the environment still wins). var/compose.env is the same for docker/compose.yaml, plus the database password.
SECRET = $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))'
var/secrets.env:
	@mkdir -p var
	@umask 077 && printf 'SECRET_KEY=%s\nRAYLANE_ARTIFACT_SIGNING_KEY=%s\n' "$$($(SECRET))" "$$($(SECRET))" > $@.partial
	@chmod 600 $@.partial && mv $@.partial $@
	@echo "wrote random SECRET_KEY and RAYLANE_ARTIFACT_SIGNING_KEY to $@ (mode 0600)"

var/compose.env:
	@mkdir -p var
	@umask 077 && password="$$($(SECRET))" && printf '%s\n' "SECRET_KEY=$$($(SECRET))" \
		"RAYLANE_ARTIFACT_SIGNING_KEY=$$($(SECRET))" "POSTGRES_PASSWORD=$$password" \
		"DATABASE_URL=postgres://raylane:$$password@postgres:5432/raylane" > $@.partial
	@chmod 600 $@.partial && mv $@.partial $@
	@echo "wrote random secrets for docker/compose.yaml to $@ (mode 0600)"

# The web console (frontend/: React + TypeScript, built by Vite). Dependencies come from the committed lock; the build
# reruns when any file under frontend/src changes (find, since $(wildcard) does not descend into folders).
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null)

frontend/node_modules/.package-lock.json: frontend/package-lock.json frontend/package.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json frontend/index.html frontend/vite.config.ts \
		frontend/tsconfig.json $(FRONTEND_SOURCES)
	cd frontend && npm run build

# The console's unit tests (Vitest): chart data merging, allowed commands, formatting, the overview's rows.
frontend-test: frontend/node_modules/.package-lock.json
	cd frontend && npm test

# The console's API types, generated from the OpenAPI schema into a committed file; a test fails when it is stale.
api-types: install frontend/node_modules/.package-lock.json
	@mkdir -p var
	$(BIN)/python manage.py spectacular --file var/openapi.yaml
	cd frontend && npm run api-types

# The end-to-end tests drive Debian's Chromium through Playwright (never a downloaded browser build).
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m bench.serving

clean:
	rm -rf $(VENV) var/static var/test-artifacts .pytest_cache .mypy_cache
