# Two entry points (see README.md): `make study` and `make test`.
# Both create their own virtual environment in .venv (idempotent: reinstalled
# only when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full

# Datasets: extracted/downloaded under ./data; the offline mirror is used when
# ../shared/datasets exists (override with AGREEMENT_MIRROR=/path).
export AGREEMENT_DATA_ROOT ?= $(CURDIR)/data
ifneq ($(wildcard ../shared/datasets),)
export AGREEMENT_MIRROR ?= $(abspath ../shared/datasets)
endif

.PHONY: study book test lint install browser clean doc-images settings

install: $(VENV)/.installed settings

# What this set-up chose for the data, written where the package finds it without
# environment variables (agreement_core/locations.py): so that a notebook run by hand
# (`papermill notebooks/fig4_pascal.ipynb out.ipynb -p arch resnet50`) uses the same data.
settings:
	@printf '{"data_root": "%s", "mirror": "%s"}\n' "$(AGREEMENT_DATA_ROOT)" \
	  "$(AGREEMENT_MIRROR)" > .agreement.json

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,book]'
	touch $@

# The whole study: data, training of what has no results yet, statistics, learning-dynamics
# tables, curriculum, every notebook through papermill, and the Jupyter Book (book/_build/html).
study: install
	$(BIN)/python -m agreement_core build --profile $(PROFILE)

# The book from the results in results/ as they are (no training).
book: install
	$(BIN)/python -m agreement_core build --profile $(PROFILE) --no-train

# Debian's Chromium and Firefox ESR for the browser tests (Playwright's own browser downloads
# do not work offline; tests/test_book_firefox.py drives firefox-esr over WebDriver BiDi);
# each installed only when missing and apt-get is usable.
BROWSERS := chromium firefox-esr
browser:
	@missing=$$(for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 || echo $$b; done); \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	      >/dev/null; \
	  else echo "not found:" $$missing "- install Debian's packages or set AGREEMENT_CHROMIUM" \
	    "/ AGREEMENT_FIREFOX"; fi; fi

lint: install
	$(BIN)/ruff check .

# The browser test drives the book of the same profile as `make study`.
test: lint browser
	AGREEMENT_BOOK_PROFILE=$(PROFILE) $(BIN)/python -m pytest

# Refresh the README's screenshots of the built book (docs/images/book_*.png).
doc-images: install browser
	AGREEMENT_UPDATE_DOC_IMAGES=1 $(BIN)/python -m pytest tests/test_book.py -k documentation_screenshots

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache book/_build book/notebooks .agreement.json
