# Two commands do all the set-up on a fresh machine (see README):
#   make run   — venv, torch (CPU build on disk), the project, then the demo crisis + dashboard (own database)
#   make test  — the same set-up plus Debian packages for browser tests, then lint and the whole test suite
# Both are idempotent and return quickly when everything is already installed.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SPEED  ?= 120
# The install stamp changes whenever pyproject.toml changes, so edits to dependencies reinstall.
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml 2>/dev/null | cut -c1-12)
# pip on these machines warns about every missing local mirror folder; keep real errors, drop that noise.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install system-deps run demo test test-fast lint bench clean help

help:
	@echo "make run   - set up and play the demo crisis with the dashboard on http://127.0.0.1:8000"
	@echo "make test  - set up and run lint + the whole test suite"
	@echo "make lint | make bench | make clean"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first and alone, exactly 2.13.0: the CPU wheel on local disk (any other spec pulls a CUDA build).
	@$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
		|| $(BIN)/pip install -q torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q -e '.[dev]' 2>&1 | $(QUIET_PIP)
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@scripts/system-deps.sh

# The demo creates, migrates and prints its own database (var/demo.db): `yuqing run` refuses a demo database, so
# the demo never touches the deployment's (var/yuqing.db or YUQING_DATABASE_URL).
run: install
	$(BIN)/yuqing demo --speed $(SPEED)

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not e2e"

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf var/demo.db* .pytest_cache .ruff_cache
