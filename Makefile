# envbuild: `make demo` locks the bundled example; `make test` runs the test suite; `make ci` runs everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv demo test test-all lint provision ci bench fuzz clean

help:
	@echo "make demo   - install envbuild into .venv-demo, lock a copy of examples/trainer in build/demo, show diff/why/export"
	@echo "make test   - set up .venv and run the hermetic test suite (no network, no Docker)"
	@echo "make ci     - provision (Docker engine, base image, registry, slurm), lint, then every test"
	@echo "make lint   - ruff and mypy (strict for envbuild/)"
	@echo "make bench  - compare envbuild with uv/pip-compile (lock), pip freeze (check), a naive Dockerfile (build);"
	@echo "              two platforms against one (lock); one, two and three platforms against uv --universal"
	@echo "make fuzz   - 1,000 generated specs, locks and reports through every command (prints the throughput)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo installs envbuild alone (no test tools) into its own venv and works on a copy of the example in build/demo,
# so the checkout stays as it was (git status clean): the tracked lock is the team's, the copy is re-locked against
# today's index and mirror, and diff says what moved since.
DEMO_VENV ?= .venv-demo
DEMO      := build/demo
DEMO_BIN  := $(DEMO_VENV)/bin

$(DEMO_VENV)/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/python -m pip install --quiet --upgrade pip
	$(DEMO_BIN)/python -m pip install --quiet .
	touch $@

demo: $(DEMO_VENV)/.installed-stamp
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	cp examples/trainer/envbuild.toml examples/trainer/envbuild.lock $(DEMO)/
	$(DEMO_BIN)/envbuild lock -s $(DEMO)
	$(DEMO_BIN)/envbuild lock -s $(DEMO) --check
	$(DEMO_BIN)/envbuild diff examples/trainer/envbuild.lock $(DEMO)/envbuild.lock || test $$? -eq 1
	$(DEMO_BIN)/envbuild why -l $(DEMO)/envbuild.lock triton
	$(DEMO_BIN)/envbuild export -l $(DEMO)/envbuild.lock --format requirements -o $(DEMO)/requirements.txt
	$(DEMO_BIN)/envbuild export -l $(DEMO)/envbuild.lock --format cyclonedx -o $(DEMO)/sbom.cdx.json
	@echo "demo: $(DEMO)/ holds the re-locked envbuild.lock, its requirements.txt and an SBOM; the checkout is as it"
	@echo "      was (git status).  Next: cd $(DEMO) && $(CURDIR)/$(DEMO_BIN)/envbuild sync && ...envbuild check"

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
	$(BIN)/python bench/lockspeed.py
	$(BIN)/python bench/conda.py
	$(BIN)/python bench/signatures.py
	$(BIN)/python bench/diff.py
	$(BIN)/python bench/build.py
	$(BIN)/python bench/sdists.py
	$(BIN)/python bench/multiarch.py

clean:
	rm -rf $(VENV) $(DEMO_VENV) build/demo .pytest_cache .mypy_cache .ruff_cache bench/results
