# Two commands do everything on a fresh machine:
#   make report   - bootstrap .venv, then run the monthly audit on the synthetic borough
#   make test     - bootstrap .venv, then lint and run the whole test suite
#   make lab      - add JupyterLab (requirements-lab.lock) and open the notebooks folder
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data/synthetic

.PHONY: bytecode report test test-quick lint browser notebooks bench bench-synth profile profile-import synth validate clean lock lab lock-lab

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned packages of requirements.lock into $(VENV) (1-3 minutes the first time)..."
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "$(VENV) is ready."

# An editable install leaves audit_lib without cached bytecode, and where
# PYTHONDONTWRITEBYTECODE is set every process (each `audit` command, each notebook
# kernel) compiles the library again: 20-40 ms a process. Compile it ahead, as a
# package install does; only changed modules are recompiled. Only a speed-up: where the
# bytecode cannot be written (audit_lib/ not the user's), say so in one line and go on.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q audit_lib >/dev/null 2>&1 || \
	  echo "note: audit_lib not compiled ahead (python -m compileall audit_lib says why); each process compiles it" >&2

# JupyterLab is kept out of requirements.lock so `make report` stays lean.
LAB_STAMP := $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP) requirements-lab.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lab.lock
	@touch $(LAB_STAMP)

ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

# Only the default synthetic folder may be generated; any other folder is the user's
# data and is read, never written.
report: bytecode
	@if [ ! -f "$(DATA)/children.csv" ]; then \
	  if [ "$$(realpath -m "$(DATA)")" = "$$(realpath -m data/synthetic)" ]; then \
	    $(BIN)/audit synth --out "$(DATA)" || exit 1; \
	  else \
	    echo "make report: $(DATA) has no children.csv, so it is not a canonical data folder." >&2; \
	    echo "  Import your returns into a new folder first: .venv/bin/audit import ssda903|cin_census|annex_a FILES --out DIR" >&2; \
	    exit 2; \
	  fi; \
	fi
	@out=$$($(BIN)/audit validate --brief "$(DATA)" 2>&1) || { \
	  echo "make report: the data in $(DATA) cannot be used:" >&2; \
	  echo "$$out" >&2; \
	  echo "  Details: .venv/bin/audit validate $(DATA)" >&2; \
	  exit 1; }
	@$(BIN)/audit run --data "$(DATA)"

lint: bytecode
	$(BIN)/ruff check conftest.py audit_lib tests benchmarks
	$(BIN)/ruff format --check conftest.py audit_lib tests benchmarks

# Browser tests drive Debian's chromium; install it if it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# `make test` runs every test, the slow ones too (the 50-seed interval coverage, a
# 250,000-child borough); CI runs exactly this. `make test-quick` leaves the slow ones
# out while developing.
test: lint browser
	$(BIN)/python -m pytest -n auto

test-quick: lint
	$(BIN)/python -m pytest -n auto -m "not slow and not browser"

notebooks: $(STAMP)
	$(BIN)/audit notebooks

# Ratios of interleaved runs (audit run vs the floor, imports vs their peers) -> benchmarks/results.json
bench: bytecode
	$(BIN)/python benchmarks/bench_run.py

bench-synth: bytecode
	$(BIN)/python benchmarks/bench_synthetic.py

profile: bytecode
	$(BIN)/python benchmarks/profile_run.py --data $(DATA)

# Where one `audit import` spends its time, stage by stage (CPU s):
#   make profile-import IMPORT="annex_a path/to/Annex_A.xlsx"
IMPORT ?= ssda903 ../shared/external/ssda903-fake
profile-import: bytecode
	$(BIN)/python benchmarks/profile_import.py $(IMPORT)

synth: $(STAMP)
	$(BIN)/audit synth --out $(DATA)

validate: $(STAMP)
	$(BIN)/audit validate $(DATA)

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache

lock: $(STAMP)
	(echo "# Exact versions installed by make (Python 3.11+). Regenerate: make lock"; \
	 $(BIN)/python -m pip freeze --all --exclude-editable | grep -viE "^(pip|audit.lib)==" | \
	 { if [ -f $(LAB_STAMP) ]; then grep -vxFf requirements-lab.lock; else cat; fi; }) > requirements.lock

# After changing the lab extra: pins of what JupyterLab adds to the base environment.
lock-lab: $(LAB_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "jupyterlab>=4,<5"
	(echo "# JupyterLab for researchers (make lab), on top of requirements.lock; exact pins. Regenerate: make lock-lab"; \
	 $(BIN)/python -m pip freeze --all --exclude-editable | grep -vxFf requirements.lock | \
	 grep -viE "^(pip|audit.lib)==") > requirements-lab.lock
