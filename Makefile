# Mailroom: the only entry point for development tasks.
# `make run` starts everything on the embedded default; `make test` runs the whole suite.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-fast test-frontend smoke lint fmt frontend schema check-schema \
	bench-ingest bench-api bench-browser bench-imap bench-pop3 chromium imap-tools screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser app (frontend/): Node 20+ and npm, exact versions from package-lock.json.
FRONTEND_DEPS := frontend/node_modules/.mailroom-installed

$(FRONTEND_DEPS): frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is required to build frontend/"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund
	touch $(FRONTEND_DEPS)

# Type-checks and builds frontend/dist/, which Django serves (index.html at /, assets at /static/).
# Rebuilt only when a source changed, so `make run` in a built checkout starts at once.
FRONTEND_SRC := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html \
	frontend/vite.config.ts frontend/tsconfig.json

frontend/dist/index.html: $(FRONTEND_DEPS) $(FRONTEND_SRC)
	cd frontend && npm run build

frontend: frontend/dist/index.html

test-frontend: $(FRONTEND_DEPS)
	cd frontend && npm test

# OpenAPI schema → openapi.yaml → frontend/src/api/schema.d.ts (both generated, both committed).
schema: install $(FRONTEND_DEPS)
	$(PY) manage.py spectacular --file openapi.yaml
	cd frontend && npm run schema

# Fails when the committed generated files are stale (an API change without `make schema`).
check-schema: schema
	git diff --exit-code openapi.yaml frontend/src/api/schema.d.ts

run: install frontend
	$(PY) manage.py runall

# The whole suite: Vitest for the browser app, then unit, store, protocol, delivery, API and
# end-to-end tests (including the embedded-default smoke that starts `manage.py runall` itself).
# Uses PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite and the filesystem broker.
test: install lint frontend chromium imap-tools
	cd frontend && npm test
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium for the browser tests (tests/browser/), installed with apt-get if missing.
chromium:
	@bash scripts/ensure-chromium.sh

# Debian's isync (mbsync), the real IMAP client of tests/e2e/test_mbsync.py, Dovecot, the
# remote server of tests/fetching and tests/browser/test_fetch_accounts.py, and rspamd, the spam
# filter of tests/inbound (started per session on loopback ports), installed if missing.
imap-tools:
	@bash scripts/ensure-imap-tools.sh --dovecot --rspamd

# Screenshots of the main screens (Korean and English, desktop and phone) → docs/screenshots/.
screenshots: install frontend chromium
	MAILROOM_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/browser/test_screenshots.py tests/browser/test_admin_console.py $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

# Starts `make run` on the embedded default in a scratch directory, sends mail over SMTP and
# reads it back through the API.
smoke: install
	$(PY) scripts/smoke_embedded.py

lint: install
	$(VENV)/bin/ruff check mailcore webmail tests bench scripts
	$(VENV)/bin/ruff format --check mailcore webmail tests bench scripts
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff check --fix mailcore webmail tests bench scripts
	$(VENV)/bin/ruff format mailcore webmail tests bench scripts

bench-ingest: install
	$(PY) bench/ingest.py $(BENCH_ARGS)

bench-api: install
	$(PY) bench/api_list.py $(BENCH_ARGS)

bench-imap: install
	@bash scripts/ensure-imap-tools.sh --dovecot
	$(PY) bench/imap.py $(BENCH_ARGS)

bench-pop3: install
	@bash scripts/ensure-imap-tools.sh --dovecot
	$(PY) bench/pop3.py $(BENCH_ARGS)

bench-browser: install frontend chromium
	$(PY) bench/browser_list.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache frontend/node_modules frontend/dist
