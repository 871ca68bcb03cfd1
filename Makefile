# envbuild: `make demo` locks the bundled example; `make test` runs the test suite; `make ci` runs everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv demo test test-all lint provision ci bench fuzz clean

help:
	@echo "make demo   - set up .venv and lock the bundled example (examples/trainer), then export it"
	@echo "make test   - set up .venv and run the hermetic test suite (no network, no Docker)"
	@echo "make ci     - provision (Docker engine, base image, registry, slurm), lint, then every test"
	@echo "make lint   - ruff and mypy (strict for envbuild/)"
	@echo "make bench  - compare envbuild with uv/pip-compile (lock), pip freeze (check), a naive Dockerfile (build);"
	@echo "              two platforms against one (lock)"
	@echo "make fuzz   - 1,000 generated specs, locks and reports through every command (prints the throughput)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/envbuild lock -s examples/trainer
	$(BIN)/envbuild lock -s examples/trainer --check
	$(BIN)/envbuild export -l examples/trainer/envbuild.lock --format requirements -o examples/trainer/requirements.txt
	@echo "demo: examples/trainer/envbuild.lock and examples/trainer/requirements.txt are ready"

XDIST = -n auto --maxprocesses=4 --dist loadfile

test: venv
	$(BIN)/pytest $(XDIST) -m "not network and not docker and not gpu" $(PYTEST_ARGS)

test-all: venv
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

fuzz: venv
	ENVBUILD_FUZZ=1000 $(BIN)/pytest tests/test_fuzz.py -s -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

provision:
	bash .ci/provision

ci: provision lint test-all

bench: venv
	$(BIN)/python bench/run.py
	$(BIN)/python bench/check.py
	$(BIN)/python bench/init.py
	$(BIN)/python bench/platforms.py
	$(BIN)/python bench/conda.py
	$(BIN)/python bench/signatures.py
	$(BIN)/python bench/diff.py
	$(BIN)/python bench/build.py
	$(BIN)/python bench/sdists.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/results
