# Two entry points, set-up included: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test busy lint bench clean browser docs docs-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@echo "compiling trustsim's kernels into numba's cache (once; one to two minutes)"
	$(BIN)/trustsim compile
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/trustsim run china_scs --agents 100000 --days 365 --seed 1

# The browser tests drive Debian's Chromium (a Playwright browser download fails offline).
browser:
	@command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/python -m pytest

# The whole suite beside four busy loops a core: a test that fails here depends on time or scheduling.
busy: $(STAMP) browser
	$(BIN)/python benchmarks/busy.py

# The documentation site, written to site/: tutorials executed, reference pages generated from the
# code; any warning (a broken link, a public name without a docstring, a failing notebook) fails it.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf site jupyter_execute
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs site

# Every page of site/ in Chromium: nothing requested off the machine, no script error, every figure drawn.
docs-check: browser
	$(BIN)/python docs/_ext/check_site.py site

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) runs .pytest_cache site docs/reference
