# Two commands for learners and CI: `make lab` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
# The teacher's extra (nbgrader), installed on top of the course for `make student`, `make grade` and `make test`.
TEACHER_STAMP := $(VENV)/.teacher-installed
SUBMISSIONS ?=
# Options of `tools/classroom.py grade`, e.g. GRADE_ARGS="--workers 4 --cell-timeout 120".
GRADE_ARGS ?=
STUDENT_DIR ?= build/student
GRADES_DIR ?= build/grades
KERNEL := image-synthesis-course
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST_ARGS ?=
# Which lessons `make notebooks` re-executes (default: all).
LESSONS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
# What `make test` runs a second time with oneDNN off and a third time under the simulated GPU policy.
NO_ONEDNN_TESTS ?= tests/test_convolution.py tests/test_device.py notebooks/02_convolution_and_pooling.ipynb
GPU_POLICY_TESTS ?= tests/test_device.py notebooks
TEST_ENV := COURSE_PROFILE=smoke COURSE_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3 MPLBACKEND=Agg PYTHONHASHSEED=0
# The committed outputs are made from the bundled data (as CI runs) and without TensorFlow's C++ log lines;
# `make notebooks NOTEBOOK_ENV=` executes online instead.
NOTEBOOK_ENV ?= COURSE_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3

.PHONY: lab test test-browser test-colab site test-site lint notebooks sync benchmark lesson-budget gpu-check student grade clean help

help:
	@echo "make lab        set up .venv if needed and open the course in JupyterLab"
	@echo "make test       set up .venv if needed and run every test (unit, notebooks, pairs, lint)"
	@echo "make notebooks  re-execute lessons in the full profile and rewrite outputs + .py twins"
	@echo "make sync       copy tools/setup_cell.py into every lesson, then jupytext --sync each pair"
	@echo "make benchmark  time-to-quality benchmark (benchmarks/README.md)"
	@echo "make test-browser  lessons 01 and 05 in JupyterLab in headless Chromium (needs Debian's chromium)"
	@echo "make test-colab every lesson and the unit tests with Colab's versions (requirements-colab.txt) in .venv-colab"
	@echo "make site       the course as a static HTML site in build/site, from the committed outputs (offline)"
	@echo "make test-site  make site, then check it in headless Chromium (needs Debian's chromium)"
	@echo "make gpu-check  on a GPU machine: lessons 04/05/07, the benchmark's GPU variants, the tutorial's 50 epochs (8 min)"
	@echo "make lesson-budget every lesson in the full profile on 1 CPU: wall time and peak RAM (benchmarks/README.md)"
	@echo "make student    (teachers) write the student edition, build/student/NN_topic.ipynb, with nbgrader"
	@echo "make grade SUBMISSIONS=dir  (teachers) autograde dir/<student>/NN_topic.ipynb into build/grades/"

# The bootstrap: (re)built only when the lock or the package definition changes.
$(STAMP): pyproject.toml requirements-lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (image synthesis course)" >/dev/null
	@touch $(STAMP)
	@echo "Environment ready in $(VENV) (kernel: $(KERNEL))."

# nbgrader on top of the course, pinned in requirements-teacher-lock.txt (never needed by `make lab`).
$(TEACHER_STAMP): $(STAMP) requirements-teacher-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements-lock.txt -r requirements-teacher-lock.txt
	@touch $(TEACHER_STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb $(LAB_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Three passes: everything as this machine runs it; the CPU kernels of AVX2-only CPUs (TensorFlow without oneDNN)
# for what depends on kernels; the GPU policy (mixed precision + XLA forced on) for every lesson, simulated on a CPU.
test: $(STAMP) $(TEACHER_STAMP) lint
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)
	@echo "== again without oneDNN (TF_ENABLE_ONEDNN_OPTS=0), as on AVX2-only CPUs"
	$(TEST_ENV) TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -q $(NO_ONEDNN_TESTS)
	@echo "== every lesson under the GPU policy, simulated on this CPU (COURSE_MIXED_PRECISION=on COURSE_XLA=on)"
	$(TEST_ENV) COURSE_MIXED_PRECISION=on COURSE_XLA=on $(PY) -m pytest -q $(GPU_POLICY_TESTS)

# The browser test's own dependency (Playwright for Python), pinned apart so that `make lab` never needs it.
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): $(STAMP) requirements-browser-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-browser-lock.txt
	@touch $(BROWSER_STAMP)

# Not part of `make test`: it needs Chromium (Debian's `chromium` package; .ci/run installs it as root).
# `-o addopts=-ra` drops the nbval options, so only tests_browser/ is collected; the test sets its own environment.
test-browser: $(BROWSER_STAMP)
	$(PY) -m pytest -o addopts=-ra -p no:cacheprovider tests_browser $(PYTEST_ARGS)

# Colab's versions (requirements-colab.txt) in a venv of their own; the course goes in with --no-deps, as Colab's
# set-up cell installs it. Python 3.13 (Colab's) when pyenv or the PATH has it, else $(PYTHON); it says which ran.
# Left out, explicitly: the teacher's extra (nbgrader: test_classroom), the browser's (test_browser_setup) and
# JupyterLab's (test_lab: Colab has no JupyterLab); lint is `make test`'s.
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
COLAB_STAMP := $(COLAB_VENV)/.colab-installed
COLAB_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null) $(PYTHON))
COLAB_IGNORE ?= --ignore=tests/test_classroom.py --ignore=tests/test_browser_setup.py --ignore=tests/test_lab.py
$(COLAB_STAMP): requirements-colab.txt pyproject.toml
	@test -x $(COLAB_PY) || $(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --quiet --disable-pip-version-check -r requirements-colab.txt
	$(COLAB_PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(COLAB_STAMP)

test-colab: $(COLAB_STAMP)
	@$(COLAB_PY) -c 'import sys, tensorflow as tf, keras, ipykernel, traitlets; print(f"== test-colab: Python {sys.version.split()[0]} ({sys.executable}), TensorFlow {tf.__version__}, Keras {keras.__version__}, ipykernel {ipykernel.__version__}, traitlets {traitlets.__version__}")' 2>/dev/null
	$(TEST_ENV) $(COLAB_PY) -m pytest -p no:cacheprovider $(COLAB_IGNORE) $(PYTEST_ARGS)

# The website's tools (MkDocs, mkdocs-jupyter, Material, MathJax's files), on top of the lock without moving any of its
# versions (-c requirements-lock.txt; checked: it only adds packages).
SITE_STAMP := $(VENV)/.site-installed
$(SITE_STAMP): $(STAMP) requirements-site-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements-lock.txt -r requirements-site-lock.txt
	@touch $(SITE_STAMP)

# The course as a static site in build/site: committed notebooks with their saved outputs (never executed); strict.
site: $(SITE_STAMP)
	$(PY) tools/build_site.py
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The built site in headless Chromium (needs Debian's chromium, and Playwright: requirements-browser-lock.txt).
test-site: site $(BROWSER_STAMP)
	$(PY) -m pytest -o addopts=-ra -p no:cacheprovider tests_site $(PYTEST_ARGS)

sync: $(STAMP)
	$(PY) tools/sync_lessons.py
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

notebooks: $(STAMP)
	@set -e; for py in $(LESSONS); do \
	  nb=$${py%.py}.ipynb; echo "== $$nb (full profile, from a fresh start)"; \
	  rm -rf notebooks/outputs/$$(basename $$py .py)/run-full; \
	  $(VENV)/bin/jupytext --to ipynb --update $$py --output $$nb >/dev/null; \
	  ( cd notebooks && COURSE_PROFILE=full $(NOTEBOOK_ENV) ../$(VENV)/bin/jupyter nbconvert --to notebook \
	      --execute --inplace --ExecutePreprocessor.timeout=1800 $$(basename $$nb) ); \
	  $(VENV)/bin/jupytext --sync $$nb >/dev/null; \
	done

student: $(TEACHER_STAMP)
	$(PY) tools/classroom.py student --out $(STUDENT_DIR)

grade: $(TEACHER_STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder (holding <student>/NN_topic.ipynb)"; exit 2; }
	$(PY) tools/classroom.py grade "$(SUBMISSIONS)" --out $(GRADES_DIR) $(GRADE_ARGS)

benchmark: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) benchmarks/time_to_quality.py $(BENCH_ARGS)

# The GPU path checked on a real GPU in at most 8 minutes; records in benchmarks/figures/<gpu-name>/.
# GPU_CHECK_ARGS="--dry-run --out DIR" does the plumbing on a CPU (make test runs it).
GPU_CHECK_ARGS ?=
gpu-check: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

# The Binder budget: every lesson in the full profile, kernel pinned to 1 CPU (tens of minutes; on a quiet machine).
lesson-budget: $(STAMP)
	$(PY) benchmarks/lesson_budget.py $(BUDGET_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache outputs notebooks/outputs benchmarks/results build
