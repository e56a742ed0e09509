# Quick start: `make demo` and `make test` each set themselves up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf var/demo
	mkdir -p var/demo
	cd var/demo && ../../$(BIN)/python -m intake.dev.demo var/mail/inbox
	cd var/demo && ../../$(BIN)/intake poll
	cd var/demo && ../../$(BIN)/python -m intake.dev.show

test: $(STAMP)
	$(BIN)/ruff check intake parsers store tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check intake parsers store tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

bench: $(STAMP)
	$(BIN)/python tests/bench.py $(BENCH_ARGS)
