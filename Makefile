# amphikernel: set-up, main job and tests.  `make demo` and `make test` are the README's commands.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The Pyodide tooling needs Python >= 3.12; pyenv's 3.12.1 is the project's interpreter.
BASE_PYTHON ?= $(shell (command -v pyenv >/dev/null && p="$$(pyenv prefix 3.12.1 2>/dev/null)" && echo "$$p/bin/python") || command -v python3.12 || echo python3.12-not-found)

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	@test -x "$(BASE_PYTHON)" || { echo "error: Python 3.12 not found (install pyenv 3.12.1 or set BASE_PYTHON)"; exit 1; }
	test -x $(PY) || "$(BASE_PYTHON)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/amphi execute examples/intro.py

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m benchmarks all

clean:
	rm -rf $(VENV) build *.egg-info
