# cnncourse: every command creates .venv on first use and installs what it needs.
#   make course    execute every notebook and the lab (full mode), HTML pages in build/course/
#   make test      ruff + unit tests + notebooks under nbval, fast mode (what CI runs)
#   make test-online  the online branch of the notebooks and the lab against the emulated network
#   make jupyter   open JupyterLab on the course
#   make bench     run the benchmark scripts in bench/
#   make student   write the student versions of the notebooks to build/student/

PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# TensorFlow package for this machine: the CUDA build where nvidia-smi sees a GPU, else the CPU build.
TF_PACKAGE ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
                && echo 'tensorflow[and-cuda]>=2.16,<2.22' || echo 'tensorflow-cpu>=2.16,<2.22')
# Quiet TensorFlow's C++ logging in every kernel the commands start (nbval compares stderr).
export TF_CPP_MIN_LOG_LEVEL ?= 3
# TF 2.21's oneDNN start-up notice ignores TF_CPP_MIN_LOG_LEVEL; off, it is silent.
export TF_ENABLE_ONEDNN_OPTS ?= 0
export MPLBACKEND ?= Agg
PYTEST_WORKERS ?= 2

.PHONY: course test test-online jupyter bench student venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnncourse needs Python 3.10 or newer, this is " + sys.version.split()[0]'
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "$(TF_PACKAGE)" -r requirements.txt
	$(VPY) -m pip install --quiet --no-deps -e .
	$(VPY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

course: $(STAMP)
	$(VPY) -m cnncourse course

test: $(STAMP)
	$(VPY) -m ruff check .
	CNNCOURSE_FAST=1 $(VPY) -m pytest -n $(PYTEST_WORKERS) --dist loadscope \
		--nbval-lax --nbval-current-env -p no:cacheprovider --durations=15 tests notebooks labs

# --- emulated online (issue 12): notebooks' online branch against tests/emulated (keras downloads,
# ImageNet weight files, a loopback Kaggle service); stand-ins are built once into
# CNNCOURSE_EMULATED_CACHE (default: a folder in the system temp dir).
test-online: $(STAMP)
	@rm -f build/test-online.jsonl
	CNNCOURSE_TEST_ONLINE=1 $(VPY) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider \
		--durations=12 tests/test_online.py
	@echo "online-branch cells per notebook:" && cut -c1-160 build/test-online.jsonl
# --- end emulated online

jupyter: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=.

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(VPY) $$script || exit 1; done

student: $(STAMP)
	$(VPY) -m cnncourse assign --out build/student

clean:
	rm -rf build .pytest_cache .ruff_cache
