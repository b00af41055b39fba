# listarchive: make demo | make test | make bench
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MBOX ?=
SIZE ?= default

.PHONY: demo test bench install lint clean

# The tests run in JOBS processes (pytest-xdist; JOBS=0: in this one), shared out as
# tests/scheduling.py says.
JOBS ?= auto
XDIST := -n $(JOBS) --dist loadgroup --no-loadscope-reorder

# One stamp per set of extras: `make demo` installs only what the archive needs to run.
$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.$(if $(filter base,$*),,[$*])'
	touch $@

install: $(VENV)/.installed-dev

demo: $(VENV)/.installed-base
	$(BIN)/listarchive demo $(if $(MBOX),--mbox $(MBOX),)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check listarchive ingest tests bench
	$(BIN)/mypy listarchive ingest bench

# The whole suite on SQLite, then every test that touches the database again on PostgreSQL when
# LISTARCHIVE_TEST_DATABASE_URL names a server (.ci/pg-start starts one; CI always does). Tests
# marked pure open no database (the SQLite half fails them if they do): the second half leaves
# them out, and the browser's and the Whoosh engine's too (tests/conftest.py says why).
test: $(VENV)/.installed-dev lint
	$(BIN)/pytest $(XDIST)
	@if [ -n "$$LISTARCHIVE_TEST_DATABASE_URL" ]; then \
	  echo "make test: the database tests again, on PostgreSQL"; \
	  LISTARCHIVE_TEST_BACKEND=postgresql $(BIN)/pytest $(XDIST) -m "not slow"; \
	else \
	  echo "make test: PostgreSQL half skipped: LISTARCHIVE_TEST_DATABASE_URL is not set" \
	       "(start a throw-away server with: export LISTARCHIVE_TEST_DATABASE_URL=\$$(.ci/pg-start))"; \
	fi

bench: $(VENV)/.installed-bench $(VENV)/.installed-dev
	$(BIN)/python -m bench --size $(SIZE)

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
