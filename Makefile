# govlib: `make` prints this help. The README's two commands are `make reports` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MONTH ?= 2026-10
DATA ?= data/demo
SCALE ?= small
SEED ?= 7
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# the example policy simulation of command 1 (docs/simulation.md), linked from the month's index
SIM_MARKET ?= DE
SIM_PROPOSAL ?= params/proposals/de_stricter_milestones.yaml
# Jupyter refuses to start as root ("Running as root is not recommended"), which is the usual user in containers.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.installed-spark: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	touch $@

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: $(VENV)/.installed ## create .venv and install govlib with its dev tools

.PHONY: i18n
i18n: install ## compile translation catalogs (.po -> .mo; reports read the .po and do not need them)
	@# Babel's write_mo without the python-format checker of pybabel compile, which takes prose such
	@# as "95% confidence" for a %c placeholder; placeholders are checked by 'govlib i18n check'.
	@if ls locales/*/LC_MESSAGES/govlib.po >/dev/null 2>&1; then $(BIN)/python -m govlib.report.i18n compile; fi

.PHONY: i18n-extract
i18n-extract: install ## extract translatable strings from govlib/ and notebooks/ into locales/govlib.pot
	$(BIN)/pybabel -q extract -F babel.cfg -c TRANSLATORS: -s --sort-output --width 100 --add-location=file \
		--project govlib --copyright-holder "govlib" --msgid-bugs-address "" \
		--ignore-dirs ".* _* data reports tests benchmarks docs locales params build dist" \
		-o locales/govlib.pot .

.PHONY: i18n-update
i18n-update: install ## merge locales/govlib.pot into every language's govlib.po (then translate, make i18n)
	$(BIN)/pybabel -q update -i locales/govlib.pot -d locales -D govlib --width 100 --ignore-obsolete
	$(BIN)/python -m govlib.report.i18n fill-source

.PHONY: i18n-check
i18n-check: i18n ## fail on missing, fuzzy, empty or mismatched translations, or a stale template
	$(BIN)/govlib i18n check

# .govlib-demo: the generator's demo marker (govlib.privacy.is_demo_mode); demo data of a govlib
# older than the marker (.complete but no marker) is generated again, the same seed giving the same data
$(DATA)/.govlib-demo: | $(VENV)/.installed
	$(BIN)/govlib demo-data --out $(DATA) --scale $(SCALE) --seed $(SEED) --end-month $(MONTH) \
		$(if $(wildcard $(DATA)/.complete),--force)

.PHONY: data
data: install $(DATA)/.govlib-demo ## generate the small demo dataset if missing

.PHONY: reports
reports: install i18n data ## command 1: install, make demo data, an example policy simulation, the month's reports
	$(BIN)/govlib validate --data $(DATA)
	@# before 'govlib run', so that the month's index lists reports/<month>/simulations/*/ (the run leaves it in place)
	$(BIN)/govlib simulate --market $(SIM_MARKET) --month $(MONTH) --data $(DATA) --proposal $(SIM_PROPOSAL)
	$(BIN)/govlib run --month $(MONTH) --data $(DATA) --jobs $(JOBS)
	@echo "Index of the month's reports: reports/$(MONTH)/index.html"

.PHONY: test
test: $(VENV)/.installed-spark i18n data ## command 2: lint, format check and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

.PHONY: lab
lab: install i18n data ## JupyterLab with the project's kernel on the demo data
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (govlib)" >/dev/null
	GOVLIB_DATA=$(abspath $(DATA)) $(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ROOT)

.PHONY: bench
bench: install ## benchmarks with ratios against baselines measured in the same run
	$(BIN)/python benchmarks/run.py

.PHONY: clean
clean: ## remove generated data, reports and caches (keeps .venv)
	rm -rf data/demo reports/2* .cache .pytest_cache
