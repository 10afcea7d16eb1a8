# The course's commands:  make run  (smoke profile, offline data),  make test,  make lab  (JupyterLab),
# and  make book  (the course as a website, book/_build/html/index.html).
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

.PHONY: setup run test test-browser lab data notebooks bench clean-runs book test-book

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
	GANCOURSE_BROWSER_NOTEBOOK=$(or $(NB),00_setup) $(PYTHON) -m pytest -m browser tests/test_browser.py

# The course as a static website, read offline: book/_build/html/index.html. Built from the committed executed
# laptop notebooks (results/laptop), never executing them; any Sphinx warning, broken link or solution line fails it.
BOOK_STAMP := $(STAMP)-book
$(BOOK_STAMP): $(STAMP)
	$(PYTHON) -m pip install --quiet -e '.[book]'
	@touch $(BOOK_STAMP)

book: $(BOOK_STAMP)
	$(PYTHON) -m gancourse.course.book build

# The site as a reader reads it: served on 127.0.0.1, every page in Debian's chromium (figures, equations,
# claims tables, navigation, search, no solution, nothing from the network).
test-book: book
	$(PYTHON) -m pytest -m "browser or not slow" tests/test_site_browser.py tests/test_book.py

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

# Speed, as ratios against a baseline measured in the same run; JSON records into benchmarks/results/.
# On a GPU: make bench DEVICE=cuda. Run it on an otherwise idle machine (2 cores: nothing else running).
DEVICE ?= cpu
BENCH := benchmarks/results
bench: setup
	$(PYTHON) benchmarks/bench_trainer.py --device $(DEVICE) --fast --json $(BENCH)/trainer-$(DEVICE).json
	$(PYTHON) benchmarks/bench_features.py --device $(DEVICE) $(if $(filter cuda%,$(DEVICE)),--n 10000,) --json $(BENCH)/features-$(DEVICE).json
	$(PYTHON) benchmarks/bench_swd.py --device $(DEVICE) --n $(if $(filter cuda%,$(DEVICE)),10000,1000) --json $(BENCH)/swd-$(DEVICE).json
	$(PYTHON) benchmarks/bench_swd.py --device $(DEVICE) --n $(if $(filter cuda%,$(DEVICE)),2000,400) --table 7 --rounds 5 --json $(BENCH)/swd-table-$(DEVICE).json
	$(PYTHON) benchmarks/bench_adam.py --device $(DEVICE) --json $(BENCH)/adam-$(DEVICE).json
	$(if $(filter cpu,$(DEVICE)),$(PYTHON) benchmarks/bench_adam.py --device cpu --contended --json $(BENCH)/adam-cpu-contended.json,)
	$(if $(filter cpu,$(DEVICE)),$(PYTHON) benchmarks/bench_threads.py --json $(BENCH)/threads-cpu.json,)

clean-runs:
	rm -rf runs
