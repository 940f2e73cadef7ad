# ECG Analyzer: `make run` serves the app, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
CC ?= cc
# The record-level model's compiled parts, plain C without Python headers: the trees' walk
# (ecg/models/tree_walk.py) and the network's kernel (ecg/models/net_forward.py; its AVX2/FMA code is
# chosen at run time, so the library loads on any x86-64 processor and says when it cannot run).
NATIVE := ecg/models/libtree_walk.so.1 ecg/models/libnet_forward.so.1

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test venv worker native

# make run installs what the application needs; make test adds the test and lint tools.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

venv: $(STAMP)

ecg/models/lib%.so.1: ecg/models/%.c
	$(CC) -O3 -fPIC -shared -Wall -Wextra -Werror -o $@ $<

native: $(NATIVE)

run: $(STAMP) $(NATIVE)
	PORT=$(PORT) PY=$(PY) bash scripts/run.sh

worker: $(STAMP) $(NATIVE)
	$(VENV)/bin/celery -A ecgsite worker --loglevel=INFO --concurrency=1

test: $(DEV_STAMP)
	bash scripts/test-prerequisites.sh
	$(MAKE) native
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy accounts api diagnostics ecgsite mlmodels patients ecg
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest $(PYTEST_ARGS)
