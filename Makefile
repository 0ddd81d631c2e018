# Two commands do everything on a fresh machine:
#   make report   - bootstrap .venv, then run the monthly audit on the synthetic borough
#   make test     - bootstrap .venv, then lint and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data/synthetic

.PHONY: report test test-slow lint browser notebooks bench bench-synth profile synth validate clean lock

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

report: $(STAMP)
	@test -f $(DATA)/children.csv || $(BIN)/audit synth --out $(DATA)
	$(BIN)/audit validate $(DATA) > /dev/null
	$(BIN)/audit run --data $(DATA)

lint: $(STAMP)
	$(BIN)/ruff check audit_lib tests benchmarks
	$(BIN)/ruff format --check audit_lib tests benchmarks

# Browser tests drive Debian's chromium; install it if it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# `make test` leaves out the tests marked slow (the 50-seed interval coverage, a
# 250,000-child borough); CI runs them too, with `make test-slow`.
test: lint browser
	$(BIN)/python -m pytest -n auto -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n auto -m slow

notebooks: $(STAMP)
	$(BIN)/audit notebooks

# Ratios of interleaved runs (audit run vs the floor, imports vs their peers) -> benchmarks/results.json
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_run.py

bench-synth: $(STAMP)
	$(BIN)/python benchmarks/bench_synthetic.py

profile: $(STAMP)
	$(BIN)/python benchmarks/profile_run.py --data $(DATA)

synth: $(STAMP)
	$(BIN)/audit synth --out $(DATA)

validate: $(STAMP)
	$(BIN)/audit validate $(DATA)

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache

lock: $(STAMP)
	(echo "# Exact versions installed by make (Python 3.11+). Regenerate: make lock"; \
	 $(BIN)/python -m pip freeze --all --exclude-editable | grep -viE "^(pip|audit.lib)==") > requirements.lock
