# cnncourse: every command creates .venv on first use and installs what it needs.
#   make course    execute every notebook and the lab (full mode), HTML pages in build/course/
#   make test      ruff + unit tests + notebooks under nbval, fast mode (what CI runs)
#   make test-site fast course build checked in headless Chromium: figures, pages, links (CI runs it after make test)
#   make test-online  the online branch of the notebooks and the lab against the emulated network
#   make jupyter   open JupyterLab on the course (STUDENT=1: on the student edition, built into build/student-edition/)
#   make bench     run the benchmark scripts in bench/
#   make student   write the student versions of the notebooks to build/student/
#   make test-nbgrader  nbgrader (own venv) takes every notebook; its autograde agrees with grade

PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# TensorFlow package for this machine: the CUDA build where nvidia-smi sees a GPU, else the CPU build.
TF_PACKAGE ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
                && echo 'tensorflow[and-cuda]>=2.18,<2.22' || echo 'tensorflow-cpu>=2.18,<2.22')
# Quiet TensorFlow's C++ logging in every kernel the commands start (nbval compares stderr).
export TF_CPP_MIN_LOG_LEVEL ?= 3
PYTEST_WORKERS ?= 2
# Where make jupyter STUDENT=1 builds the student edition (python -m cnncourse student-edition).
STUDENT_EDITION ?= build/student-edition

.PHONY: course test test-site test-student test-online test-nbgrader jupyter bench student venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnncourse needs Python 3.10 or newer, this is " + sys.version.split()[0]'
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "$(TF_PACKAGE)" -r requirements.txt
	$(VPY) -m pip install --quiet --no-deps -e .
	$(VPY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(VPY) -c 'from cnncourse import course; course.install_kernel_config()'
	@touch $(STAMP)

course: $(STAMP)
	$(VPY) -m cnncourse course

test: $(STAMP)
	$(VPY) -m ruff check .
	CNNCOURSE_FAST=1 $(VPY) -m pytest -n $(PYTEST_WORKERS) --dist loadscope \
		--nbval-lax --nbval-current-env -p no:cacheprovider --durations=15 --ignore=tests/site tests notebooks labs

# What students see: the course executed once in fast mode, its figures and pages checked in Chromium.
COURSE_SITE ?= build/course-fast
test-site: $(STAMP)
	$(VPY) -m cnncourse course --fast --out $(COURSE_SITE)
	CNNCOURSE_SITE=$(COURSE_SITE) $(VPY) -m pytest -p no:cacheprovider --durations=5 tests/site

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
ifeq ($(STUDENT),1)
	@test -d $(STUDENT_EDITION) || $(VPY) -m cnncourse student-edition --out $(STUDENT_EDITION)
	@echo "make jupyter: the STUDENT EDITION in $(STUDENT_EDITION)/, no solutions (built once and kept with your work; delete the folder to rebuild it from this checkout)"
	$(VENV)/bin/jupyter lab --notebook-dir=$(STUDENT_EDITION)
else
	@echo "make jupyter: this checkout's notebooks; on main the INSTRUCTOR SOURCE with solutions and hidden tests (make jupyter STUDENT=1: the student edition)"
	$(VENV)/bin/jupyter lab --notebook-dir=.
endif

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(VPY) $$script || exit 1; done

# The student edition's notebooks run, as students get them, up to their first exercise (CI runs it after test).
test-student: $(STAMP)
	CNNCOURSE_FAST=1 CNNCOURSE_STUDENT_RUN=1 $(VPY) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider \
		--durations=15 tests/test_student_edition.py

student: $(STAMP)
	$(VPY) -m cnncourse assign --out build/student

# nbgrader (issue 14) in a venv of its own: it pins the Jupyter stack, and students never need it.
# The kernels it starts run the course's Python (tests/test_nbgrader.py says how).
NBGRADER_VERSION ?= 0.9.6
.venv-nbgrader/.installed:
	@test -x .venv-nbgrader/bin/python || $(PYTHON) -m venv .venv-nbgrader
	.venv-nbgrader/bin/python -m pip install --quiet --upgrade pip
	.venv-nbgrader/bin/python -m pip install --quiet "nbgrader==$(NBGRADER_VERSION)"
	@touch $@

test-nbgrader: $(STAMP) .venv-nbgrader/.installed
	CNNCOURSE_FAST=1 CNNCOURSE_NBGRADER_VENV=$(CURDIR)/.venv-nbgrader $(VPY) -m pytest \
		-p no:cacheprovider --durations=5 tests/test_nbgrader.py

clean:
	rm -rf build .pytest_cache .ruff_cache

# ---- version sets (issue 13) ----------------------------------------------------------------
#   make test-floor   the tested floor (constraints/floor.txt: TF 2.18, Keras 3.8, numpy 1.26, ...)
#   make test-colab   a Colab-like set (constraints/colab.txt: TF 2.19, Keras 3.10, numpy 2.0.2, ...)
# Each set gets its own venv (.venv-floor, .venv-colab). By default they run the unit tests and the
# notebooks whose code depends on the Keras version (explain, seeding); CI's matrix runs them all
# with VERSION_SET_TESTS="tests notebooks labs".
VERSION_SET_TESTS ?= tests notebooks/07_what_cnns_learn.ipynb notebooks/08_cnn_for_text.ipynb

.PHONY: test-floor test-colab
.PRECIOUS: .venv-%/.installed

.venv-%/.installed: requirements.txt pyproject.toml constraints/%.txt
	@test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -c constraints/$*.txt tensorflow-cpu -r requirements.txt
	.venv-$*/bin/python -m pip install --quiet --no-deps -e .
	.venv-$*/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

test-floor test-colab: test-%: .venv-%/.installed
	.venv-$*/bin/python -m pip list 2>/dev/null | grep -iE '^(tensorflow[-_]cpu|keras|numpy|matplotlib) '
	CNNCOURSE_FAST=1 .venv-$*/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope \
		--nbval-lax --nbval-current-env -p no:cacheprovider --durations=10 --ignore=tests/site $(VERSION_SET_TESTS)
# ---- end of version sets --------------------------------------------------------------------
