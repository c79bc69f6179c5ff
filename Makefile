# Tumen — the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SEARCH_PORT ?= 9200
# The Elasticsearch 7.10 node of the second engine run (SEARCH_ENGINE=elasticsearch scripts/search-engine.sh).
ES_PORT ?= 9201

.PHONY: help install migrate demo run serve worker lint test test-embedded test-services test-services-opensearch test-services-elasticsearch services-start services-stop messages clean

help:
	@echo "make run     - install, migrate, load the national catalog (11,250 services; DEMO=small: ~300), serve http://127.0.0.1:8000 (embedded: SQLite) with the demo identity provider (citizen sign-in) on 127.0.0.1:9300"
	@echo "make serve   - the same under gunicorn with WhiteNoise static files"
	@echo "make test    - install, start OpenSearch, Elasticsearch 7 and PostgreSQL, run both test suites"
	@echo "make worker  - run a django-tasks worker (background jobs) against the configured database"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-elasticsearch7.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	@# The Elasticsearch 7 client, without its stale urllib3<2 cap (see the file).
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -r requirements-elasticsearch7.txt
	@touch $@

migrate: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py compilemessages -v0 --ignore=.venv

DEMO_AGENCY_PORT ?= 8765
# `make run` loads the whole national catalog shipped in service_pages/data/catalog/ (11,250
# services of 63 agencies, English pages included); `make run DEMO=small` the quick demo of about
# 300 services (service_pages/demo/). Timed by bench/first_run.py (docs/benchmarks.md).
DEMO ?= national
DEMO_CATALOG := $(if $(filter small,$(DEMO)),,--national)
# The site's port (runserver) under `make run`.
PORT ?= 8000

demo: migrate
	@# The demo agencies deliver to the demo agency endpoint that run-embedded.sh starts.
	$(PY) manage.py load_demo_catalog $(DEMO_CATALOG) --endpoint-base http://127.0.0.1:$(DEMO_AGENCY_PORT)
	@# The services' search index is built by the import itself. What it queued besides (Wagtail's
	@# index and reference index of the agency and home pages, for the admin: about 700 tasks for
	@# the national catalog, 45 s on a loaded machine) is left to the worker that run-embedded.sh
	@# starts beside the site, so the site answers sooner (bench/first_run.py). `make demo` alone
	@# (no worker after it) still applies it here.
	@$(if $(filter demo,$(MAKECMDGOALS)),$(PY) manage.py db_worker --queue-name '*' --batch --no-startup-delay --no-reload -v0,true)
	@# Statistics snapshot now, and its hourly refresh queued for the worker that runs beside the site.
	$(PY) manage.py refresh_statistics --schedule -v0 > /dev/null
	$(PY) manage.py ensure_admin

run: demo
	TUMEN_PORT=$(PORT) TUMEN_DEMO_AGENCY_PORT=$(DEMO_AGENCY_PORT) scripts/run-embedded.sh runserver

serve: demo
	$(PY) manage.py collectstatic --noinput -v0
	TUMEN_DEMO_AGENCY_PORT=$(DEMO_AGENCY_PORT) scripts/run-embedded.sh gunicorn

worker: install
	$(PY) manage.py db_worker --queue-name '*'

services-start:
	scripts/search-engine.sh start
	SEARCH_ENGINE=elasticsearch SEARCH_ENGINE_PORT=$(ES_PORT) scripts/search-engine.sh start
	scripts/postgres.sh start

services-stop:
	-scripts/search-engine.sh stop
	-SEARCH_ENGINE=elasticsearch SEARCH_ENGINE_PORT=$(ES_PORT) scripts/search-engine.sh stop
	-scripts/postgres.sh stop

lint: install
	$(BIN)/ruff check .
	@# The apps' one-way layers (.importlinter; docs/ARCHITECTURE.md).
	$(BIN)/lint-imports --no-cache

# Suite (a): the embedded default, no services.
test-embedded: install lint
	$(PY) manage.py compilemessages -v0 --ignore=.venv
	env -u DATABASE_URL -u SEARCH_URL $(BIN)/pytest -m "not engine and not postgres"

# Suite (b): PostgreSQL + the real search engines, nothing skipped. The two runs go one after
# the other (they share PostgreSQL and the test database name); both run even if the first
# fails, and the suite fails if either does.
test-services:
	@status=0; \
	$(MAKE) --no-print-directory test-services-opensearch || status=$$?; \
	$(MAKE) --no-print-directory test-services-elasticsearch || status=$$?; \
	exit $$status

# (b1) OpenSearch 2.19, the default engine: every test.
test-services-opensearch: install services-start
	DATABASE_URL="$$(scripts/postgres.sh url)" SEARCH_URL="http://127.0.0.1:$(SEARCH_PORT)" SEARCH_BACKEND=opensearch2 $(BIN)/pytest

# (b2) Elasticsearch 7.10 (SEARCH_BACKEND=elasticsearch7): the tests that talk to the engine,
# i.e. the `engine`-marked ones plus the files whose searches go to it (`engine_path`, see
# tests/conftest.py): indexing, the Mongolian analysis, search, facets, autocomplete, failover.
# The rest of the suite does not touch the engine, so running it again would only cost time
# (the whole suite also passes on Elasticsearch: `make test-services-elasticsearch ES_TESTS=`).
ES_TESTS ?= -m "engine or engine_path"
test-services-elasticsearch: install services-start
	DATABASE_URL="$$(scripts/postgres.sh url)" SEARCH_URL="http://127.0.0.1:$(ES_PORT)" SEARCH_BACKEND=elasticsearch7 $(BIN)/pytest $(ES_TESTS)

test:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory test-embedded && $(MAKE) --no-print-directory test-services; \
	status=$$?; echo "make test: $$(( $$(date +%s) - start ))s, exit $$status"; exit $$status

messages:
	$(PY) manage.py makemessages -l mn --ignore=.venv --ignore=var --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/static var/db.sqlite3*
