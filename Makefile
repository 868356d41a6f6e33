# Two commands for a fresh machine with Python 3.11 and pip: `make demo` and `make test`.
PYTHON ?= python3
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_VENV := .venv-bench
BENCH_INSTALLED := $(BENCH_VENV)/.installed

.PHONY: test lint typecheck pytest matrix codegen check-codegen demo docs docs-serve dist bench peer-suites mutation clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# CI's one command: lint, types, the suite on Python 3.11, then the suite on 3.12 and 3.13.
test: lint typecheck pytest matrix

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy
	$(BIN)/pyright

# The peers' venv lets tests/test_peers.py run tcia_utils, nbiatoolkit and tciaclient against
# the bundled server.
pytest: $(INSTALLED) $(BENCH_INSTALLED)
	$(BIN)/python -m pytest

# The suite on the other supported Pythons, each in a venv of its own (noxfile.py); the
# installed wheel is tested on all three by tests/test_release.py.
matrix: $(INSTALLED) $(BENCH_INSTALLED)
	$(BIN)/nox --sessions tests-3.12 tests-3.13 -- --ignore=tests/test_release.py

codegen: $(INSTALLED)
	$(BIN)/python -m codegen

check-codegen: $(INSTALLED)
	$(BIN)/python -m codegen --check

# The main job end to end on the bundled server: codegen against it, typed queries as tables,
# two series downloaded with a progress bar, and a drift check. Any failing step fails the target.
demo: $(INSTALLED)
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	base="http://127.0.0.1:$$port/services/TCIA/TCIA/query"
	export TCIA_API=bindaas
	$(BIN)/tcia serve --port "$$port" > /dev/null &
	server=$$!
	trap 'kill $$server 2> /dev/null || true' EXIT
	for _ in $$(seq 50); do
	    $(BIN)/python -c 'import httpx, sys; httpx.get(sys.argv[1]).raise_for_status()' "$$base/getCollectionValues" 2> /dev/null && break
	    sleep 0.2
	done
	echo "== Bundled TCIA server at $$base"
	echo "== Codegen against the server (--base-url, then --check)"
	$(BIN)/python -m codegen --base-url "$$base"
	$(BIN)/python -m codegen --base-url "$$base" --check
	echo "== Typed queries"
	$(BIN)/tcia query getCollectionValues --base-url "$$base"
	$(BIN)/tcia query getSeries --collection "RIDER Lung PET-CT" --base-url "$$base" \
	    --columns SeriesInstanceUID,Modality,SeriesDate,SeriesDescription,ImageCount
	echo "== Download two series"
	uids=$$($(BIN)/tcia query getSeries --collection "RIDER Lung PET-CT" --format json --base-url "$$base" \
	    | $(BIN)/python -c 'import json, sys; print(" ".join(r["SeriesInstanceUID"] for r in json.load(sys.stdin)[:2]))')
	$(BIN)/tcia download $$uids --out demo-data --base-url "$$base"
	echo "== Drift check"
	$(BIN)/tcia drift --base-url "$$base"

# The peers get a venv of their own: nbiatoolkit pins pydicom < 3, while the bundled server
# (run from .venv) writes DICOM with pydicom 3. BENCH_ARGS=--quick for a first look.
$(BENCH_INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[cli,arrow,bench,idc]'
	touch $@

bench: $(INSTALLED) $(BENCH_INSTALLED)
	$(BENCH_VENV)/bin/python benchmarks/bench.py $(BENCH_ARGS)

# The peers' own test suites against the bundled server, each with its own summary (make test
# runs the same suites and checks that only the recorded data gaps fail). TCIA's Java SDK runs
# when TCIA_SDK_JAVA_DIR names a checkout of its tcia-rest-client-java.
peer-suites: $(INSTALLED) $(BENCH_INSTALLED)
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	$(BIN)/tcia serve --port "$$port" > /dev/null &
	server=$$!
	trap 'kill $$server 2> /dev/null || true' EXIT
	for _ in $$(seq 50); do
	    $(BIN)/python -c 'import httpx, sys; httpx.get(sys.argv[1]).raise_for_status()' "http://127.0.0.1:$$port/services/TCIA/TCIA/query/getCollectionValues" 2> /dev/null && break
	    sleep 0.2
	done
	work=$$(mktemp -d)
	for peer in tcia_utils nbiatoolkit; do
	    echo "== $$peer's own suite"
	    $(BENCH_VENV)/bin/python tests/peer_suites/run.py $$peer "http://127.0.0.1:$$port" "$$work" || true
	done
	echo "== TCIA-API-SDK (Java)"
	$(BENCH_VENV)/bin/python tests/peer_suites/run.py java "http://127.0.0.1:$$port" "$$work" "$${TCIA_SDK_JAVA_DIR:-/nonexistent}" | tail -5 || true

# The documentation site: strict, so a broken link or reference fails the build.
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

# The sdist and the wheel built from it, both checked as PyPI would check them.
dist: $(INSTALLED)
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# Mutation testing of the core modules against the fast MockTransport unit tests (not part of
# make test; about 10 minutes on 2 cores). Configured in pyproject's [tool.mutmut]; scores and
# the surviving mutants judged harmless are in benchmarks/mutation.md. `mutmut show NAME`
# shows one mutant, `mutmut results` lists the survivors.
mutation: $(INSTALLED)
	rm -rf mutants
	time $(BIN)/mutmut run --max-children $${MUTATION_JOBS:-2} > /dev/null
	$(BIN)/python benchmarks/mutation_score.py

clean:
	rm -rf mutants $(VENV) $(BENCH_VENV) .mypy_cache .pytest_cache .ruff_cache .nox dist build site
