# The two commands of the README:  `make demo` (main job)  and  `make test` (whole test suite).
# `make check` is the quick lane for contributors (lint, format, types, workflows, quick tests: < 4 min on 2 cores);
# `.ci/run` runs `make lint` (ruff, mypy, actionlint, cffconvert), `make docs` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
QUICK := not slow and not browser and not live and not distributed

.PHONY: demo test check lint docs install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all,dev,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ovavebench demo --out demo-out

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	bash tools/actionlint.sh
	bash tools/cffconvert.sh

check: lint
	$(PY) -m pytest -q -m "$(QUICK)"

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) demo-out site
