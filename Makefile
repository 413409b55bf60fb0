# Two entry points (see README.md): `make study` and `make test`.
# Both create their own virtual environment in .venv (idempotent: reinstalled
# only when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Datasets: extracted/downloaded under ./data; the offline mirror is used when
# ../shared/datasets exists (override with AGREEMENT_MIRROR=/path).
export AGREEMENT_DATA_ROOT ?= $(CURDIR)/data
ifneq ($(wildcard ../shared/datasets),)
export AGREEMENT_MIRROR ?= $(abspath ../shared/datasets)
endif

.PHONY: study test lint install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The default study: train, image statistics of the same examples, learning-dynamics report.
study: install
	$(BIN)/python -m agreement_core train --profile default --out runs/default
	$(BIN)/python -m agreement_core stats cifar10 --subset 500 --out-dir runs/statistics
	$(BIN)/python -m agreement_core report runs/default --statistics-dir runs/statistics \
		--figure runs/default/agreement.png

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
