# The course's commands:  make run  (smoke profile, offline data),  make test,  and  make lab  (JupyterLab).
# Inside an active environment (conda or venv) they use it; otherwise they create .venv.
SHELL := /bin/bash
ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
PYTHON ?= python
STAMP := .gancourse-installed
else
PYTHON := .venv/bin/python
STAMP := .venv/.gancourse-installed
endif
PROFILE ?= smoke
OUT ?= runs
DATA ?= data
PORT ?= 8888

.PHONY: setup run test test-browser lab data notebooks clean-runs

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ "$(PYTHON)" = ".venv/bin/python" ] && [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	$(PYTHON) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gancourse)" >/dev/null
	@touch $(STAMP)

# Runs every notebook headless (papermill) and writes runs/<profile>/*.ipynb and the scorecard.
run: setup
	$(PYTHON) -m gancourse run --profile $(PROFILE) --out $(OUT) --data-root $(DATA)

test: setup
	$(PYTHON) -m pytest

# The learner's path in a real browser (Debian's chromium): JupyterLab as `make lab` starts it, Run All.
test-browser: setup
	$(PYTHON) -m pytest -m browser tests/test_browser.py

# JupyterLab on the course, with its kernel; also as root (containers). Stop it with Ctrl-C.
lab: setup
	$(PYTHON) -m gancourse lab --port $(PORT)

# Fetch the real data sets (needs the network), e.g. make data SETS="mnist cifar10".
SETS ?= mnist cifar10
data: setup
	$(PYTHON) data_scripts/fetch.py $(SETS) --data-root $(DATA)

# Regenerate the learner notebooks notebooks/*.ipynb from their sources notebooks/source/*.py.
notebooks: setup
	$(PYTHON) -m gancourse sync

clean-runs:
	rm -rf runs
