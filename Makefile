# amphikernel: set-up, main job and tests.  `make demo` and `make test` are the README's commands.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The Pyodide tooling needs Python >= 3.12; pyenv's 3.12.1 is the project's interpreter.
BASE_PYTHON ?= $(shell (command -v pyenv >/dev/null && p="$$(pyenv prefix 3.12.1 2>/dev/null)" && echo "$$p/bin/python") || command -v python3.12 || echo python3.12-not-found)

# The web frontend bundle (TypeScript + esbuild), shipped inside the Python package.
WEB_SOURCES := $(shell find web/src web/scripts -type f) web/index.html web/package.json web/tsconfig.json pyodide_host/node/snapshot-restore.mjs
WEB_BUNDLE := subprocess_host/static/app/index.html

.PHONY: setup compile demo test lint bench clean kernel-venvs sci-venv chromium haproxy pyodide-dist dist

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	@test -x "$(BASE_PYTHON)" || { echo "error: Python 3.12 not found (install pyenv 3.12.1 or set BASE_PYTHON)"; exit 1; }
	test -x $(PY) || "$(BASE_PYTHON)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --config-settings editable_mode=compat -e .
	touch $@

# Bytecode for our own packages, as a wheel install would write it (PYTHONDONTWRITEBYTECODE
# may be set, and kernels start in fresh processes): refreshed whenever a source changes.
compile: setup
	@$(PY) -m compileall -q lifecycle subprocess_host pyodide_host benchmarks

setup: $(VENV)/.installed $(WEB_BUNDLE) chromium haproxy

CORPUS_NOTEBOOK ?= ../shared/corpus/notebooks/pytudes_cheryl.ipynb

demo: setup compile
	@if [ -f "$(CORPUS_NOTEBOOK)" ]; then $(VENV)/bin/amphi execute "$(CORPUS_NOTEBOOK)" --cwd "$$(mktemp -d)"; \
	  else echo "(no corpus notebook at $(CORPUS_NOTEBOOK); skipping the headless run)"; fi
	$(VENV)/bin/amphi execute examples/intro.py
	@echo "Starting amphi edit on examples/intro.py: open the URL below; Ctrl-C stops the server and its kernel."
	$(VENV)/bin/amphi edit examples/intro.py

test: setup compile kernel-venvs sci-venv pyodide-dist
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	cd web && npm run typecheck
	$(PY) -m pytest

# ruff, then the layering contracts of pyproject.toml ([tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: setup compile
	$(PY) -m benchmarks all

clean:
	rm -rf $(VENV) build dist *.egg-info web/node_modules subprocess_host/static/app pyodide_host/prebuilt


web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEB_BUNDLE): web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build

# Debian's chromium for the end-to-end tests (never `playwright install`).
chromium:
	bash web/scripts/install-chromium.sh

# Debian's haproxy for the scale tests (tests/scale/) and deploy/haproxy.cfg.
haproxy:
	bash deploy/install-haproxy.sh

# Pyodide dist directories (runtime from npm + our wheel + msgspec/micropip wasm wheels + lock).
# --prebuilt: our Pyodide wheel also goes to pyodide_host/prebuilt/ (package data of the wheel).
pyodide-dist: setup
	$(PY) -m pyodide_host.build --all --prebuilt

# The wheel and the sdist (dist/): package data first (web bundle, prebuilt Pyodide wheel).
dist: setup pyodide-dist
	$(PY) -m build --outdir dist .

# Kernel interpreters for the cross-version tests: a virtualenv per CPython 3.10-3.13 with the
# kernel's own dependencies (the kernel finds amphikernel through PYTHONPATH).
KERNEL_VERSIONS := 3.10.13 3.11.7 3.12.1 3.13.0
KERNEL_VENVS := $(foreach v,$(KERNEL_VERSIONS),.venv-kernels/$(v)/.installed)

.venv-kernels/%/.installed: requirements-kernel.txt
	@p="$$(pyenv prefix $* 2>/dev/null)/bin/python"; \
	  if [ ! -x "$$p" ]; then echo "note: Python $* not available; its kernel tests will be skipped"; exit 0; fi; \
	  test -x .venv-kernels/$*/bin/python || "$$p" -m venv .venv-kernels/$*; \
	  .venv-kernels/$*/bin/python -m pip install -q --disable-pip-version-check -r requirements-kernel.txt && touch $@

kernel-venvs: $(KERNEL_VENVS)

# The scientific-stack kernel for the corpus-sci conformance tests (tests/conformance,
# ../shared/corpus-sci): numpy, pandas, matplotlib, scipy, scikit-learn... pinned in
# requirements-sci.txt, on CPython 3.12.1; rebuilt when the pins change.
SCI_VENV := .venv-kernels/sci-3.12

$(SCI_VENV)/.installed: requirements-sci.txt
	@p="$$(pyenv prefix 3.12.1 2>/dev/null)/bin/python"; \
	  if [ ! -x "$$p" ]; then echo "note: Python 3.12.1 not available; the corpus-sci tests will be skipped"; exit 0; fi; \
	  test -x $(SCI_VENV)/bin/python || "$$p" -m venv $(SCI_VENV); \
	  $(SCI_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-sci.txt && touch $@

sci-venv: $(SCI_VENV)/.installed
