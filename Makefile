# Mailroom: the only entry point for development tasks.
# `make run` starts everything on the embedded default; `make test` runs the whole suite.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-fast smoke lint fmt bench-ingest bench-api clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py runall

# The whole suite: unit, store, protocol, delivery, API and end-to-end tests (including the
# embedded-default smoke that starts `manage.py runall` itself). Uses PostgreSQL/Redis when
# DATABASE_URL/REDIS_URL are set, else SQLite and the filesystem broker.
test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

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

fmt: install
	$(VENV)/bin/ruff check --fix mailcore webmail tests bench scripts
	$(VENV)/bin/ruff format mailcore webmail tests bench scripts

bench-ingest: install
	$(PY) bench/ingest.py $(BENCH_ARGS)

bench-api: install
	$(PY) bench/api_list.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
