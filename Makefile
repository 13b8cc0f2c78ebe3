# The two commands of the quick start are `make demo` and `make test`; both install
# what they need first (a virtual environment, the package, Debian's datasets).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES ?= dataset-fashion-mnist
TEST_APT_PACKAGES ?= dataset-fashion-mnist chromium chromium-driver

.PHONY: demo test docs install install-test install-docs system-data system-test-deps lint bench clean

DEMO_ARGS ?= fashion-mnist --preset quick --out runs

demo: install system-data  ## the main job: the quick study of full Fashion-MNIST, report in runs/
	$(BIN)/shallowvision data info fashion-mnist
	$(BIN)/shallowvision run $(DEMO_ARGS)

# Two processes, each test module in one of them (its fixtures computed once): the suite
# waits on commands, servers and browsers as much as it computes. The modules go out in
# the order tests/conftest.py collects them, longest first. PYTEST_ARGS= runs it in one.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder

test: install-test system-test-deps  ## the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The user guide, the API reference and the example gallery, in docs/_build/html; a
# warning (a broken docstring, a name missing from the reference, an example that fails)
# is an error. The gallery's examples run on scikit-learn's digits, nothing is downloaded.
docs: install-docs  ## the documentation
	rm -rf docs/_build docs/auto_examples docs/api/generated
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-docs: $(VENV)/.installed-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,docs]'
	touch $@ $(VENV)/.installed

# Debian packages: installed where apt-get is available, skipped (with a note) elsewhere.
system-data:
	@./scripts/apt-install.sh $(APT_PACKAGES)

system-test-deps:
	@./scripts/apt-install.sh $(TEST_APT_PACKAGES)

lint: install-test
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check src tests benchmarks docs/conf.py examples
	$(BIN)/ruff format --check src tests benchmarks docs/conf.py examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: install
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache docs/_build docs/auto_examples docs/api/generated docs/sg_execution_times.rst
