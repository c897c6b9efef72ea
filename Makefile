# Two entry points, set-up included: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@echo "compiling trustsim's kernels into numba's cache (once; about a minute)"
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
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) runs .pytest_cache
