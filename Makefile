# Two commands for a newcomer: `make demo` (the bot at work, on embedded defaults) and `make test`.
# Each sets itself up: a virtualenv in .venv with the project and its dev tools installed.

PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml bot/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/chatops demo

test: $(STAMP)
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/ack_latency.py
	$(VENV)/bin/python bench/probe.py
	$(VENV)/bin/python bench/probe_cpu.py
	$(VENV)/bin/python bench/cli_startup.py
	$(VENV)/bin/python bench/charts.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
