# The two commands the README promises: `make run` and `make test`.  Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench bench-quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/hl7bridge run --config config/channels.yaml

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m hl7bridge.bench.run

bench-quick: install
	$(BIN)/python -m hl7bridge.bench.run --quick

bench-search: install
	$(BIN)/python -m hl7bridge.bench.search_1m

clean:
	rm -rf $(VENV) var .pytest_cache
