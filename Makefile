# Two commands do everything on a fresh machine:
#   make run    start the service on the embedded default (SQLite in ./instance)
#   make test   run the whole test suite (installs what it needs first)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test test-future lint bench demo clean i18n vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/aware serve --host $(HOST) --port $(PORT)

MYPY_STRICT := aware/alarms/rules.py aware/alarms/escalation.py aware/risk/geometry.py aware/alarms/services.py aware/devices/services.py aware/auth/services.py

test: $(VENV)/.dev
	./scripts/services-up
	./scripts/browser-up
	$(BIN)/ruff check aware tests bench
	$(BIN)/mypy $(MYPY_STRICT)
	$(BIN)/python -m pytest

# The same tests with every test process's clock a year ahead (tests/clockshift): none may expire.
test-future: $(VENV)/.dev
	./scripts/services-up
	./scripts/browser-up
	AWARE_TEST_CLOCK_OFFSET_DAYS=365 $(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check aware tests bench
	$(BIN)/mypy $(MYPY_STRICT)

bench: $(VENV)/.dev
	$(BIN)/python bench/alarm_latency.py

demo: $(VENV)/.runtime
	$(BIN)/aware demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# Rebuild the Dutch catalog after changing texts in templates or code.
i18n: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k lazy_gettext -o aware/translations/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/python scripts/nl_catalog.py

# Refresh the vendored front-end libraries from the npm registry (frontend/package-lock.json).
vendor:
	./scripts/vendor-js
