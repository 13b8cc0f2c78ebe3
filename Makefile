# The two commands of the quick start are `make demo` and `make test`; both install
# what they need first (a virtual environment, the package, Debian's datasets).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES ?= dataset-fashion-mnist
TEST_APT_PACKAGES ?= dataset-fashion-mnist chromium chromium-driver

.PHONY: demo test install install-test system-data system-test-deps lint bench clean

DEMO_ARGS ?= fashion-mnist --preset quick --out runs

demo: install system-data  ## the main job: the quick study of full Fashion-MNIST, report in runs/
	$(BIN)/shallowvision data info fashion-mnist
	$(BIN)/shallowvision run $(DEMO_ARGS)

test: install-test system-test-deps  ## the test suite
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $@ $(VENV)/.installed

# Debian packages: installed where apt-get is available, skipped (with a note) elsewhere.
system-data:
	@./scripts/apt-install.sh $(APT_PACKAGES)

system-test-deps:
	@./scripts/apt-install.sh $(TEST_APT_PACKAGES)

lint: install-test
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: install
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
