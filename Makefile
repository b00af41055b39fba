# listarchive: make demo | make test | make bench
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MBOX ?=
SIZE ?= default

.PHONY: demo test bench install lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/listarchive demo $(if $(MBOX),--mbox $(MBOX),)

lint: $(STAMP)
	$(BIN)/ruff check listarchive ingest tests bench
	$(BIN)/mypy listarchive ingest

test: $(STAMP) lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench --size $(SIZE)

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
