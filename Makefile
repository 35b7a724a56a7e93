# The workbook's two commands:  `make lab`  and  `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
KERNEL := labkit
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: lab test check setup kernel lock system-deps caffe doctor bench full book workshop reset urls clean help

help:
	@echo "make lab          set up the environment (once) and start JupyterLab on notebooks/"
	@echo "make test         set up the environment (once) and run every test and notebook (quick mode)"
	@echo "make check        the fast tier: unit tests only (no toolkit subprocess, browser or notebook), < 2 min"
	@echo "make doctor       print the toolkit and device table"
	@echo "make bench        print labkit's own start-up and data-loading benchmarks, and the GEMM rate"
	@echo "make full         run every chapter in full mode, one after another (an hour or more): time, memory, accuracy"
	@echo "make book         every chapter with its outputs as a static site, build/book/html"
	@echo "make workshop     before a workshop: fetch the data, run every chapter once (warms the caches), print a 3-hour plan"
	@echo "make reset        put the notebooks back as committed (changed ones saved in runs/notebook-backups/ first)"
	@echo "make system-deps  (Debian/Ubuntu, root) OpenBLAS, offline Fashion-MNIST, Chromium"
	@echo "make caffe        (optional; Debian/Ubuntu) build real Caffe (a BVLC fork) into .venv (minutes once, then cached)"
	@echo "make lock         re-resolve requirements.in into requirements.lock"
	@echo "make urls         stamp the repository address of pyproject.toml into every badge and Colab install cell"

setup:
	@tools/setup.sh

# A named kernel, so JupyterLab started elsewhere (or VS Code) can find this environment.
kernel: setup
	@test -f $(VENV)/.labkit-kernel || { \
	  $(BIN)/python -m ipykernel install --user --name $(KERNEL) \
	    --display-name "Python 3.11 (labkit workbook)" >/dev/null && \
	  touch $(VENV)/.labkit-kernel && echo "kernel: registered '$(KERNEL)'"; }

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

# Real Caffe's tests first, in a process of their own: real Caffe crashes in a process where
# TensorFlow is loaded, whichever came first. Then every other test file (a notebook is one),
# spread over TEST_WORKERS processes, each file whole on one worker so a notebook's cells run
# in order in one kernel (a worker that crashes ends the run rather than being replaced); the
# slowest tests are listed at the end. That run leaves each chapter, with its outputs, in
# runs/executed/; last, the book is built from those copies and every page opened in Chromium.
TEST_WORKERS ?= 2
test: setup
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -m caffe_real tests
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0 --durations=25 -m "not caffe_real and not book" --nbval-lax tests notebooks
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -m book tests/test_book.py

# The fast tier (markers in pyproject.toml; CONTRIBUTING.md says what each means).
FAST := not slow and not browser and not caffe_real and not notebooks
check: setup
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -m "$(FAST)" tests

# The repository's address is written once, [project.urls] in pyproject.toml; this writes it into
# every notebook's Binder and Colab badges and Colab install cell, and README's badge (a fork
# changes that line and runs this). tools/stamp_urls.py --check only compares.
urls: setup
	$(BIN)/python tools/stamp_urls.py

doctor: setup
	@$(BIN)/python -m labkit doctor

bench: setup
	@$(BIN)/python -m labkit bench
	@$(BIN)/python -m labkit.playground.bench
	@$(BIN)/python -m labkit.compare.gemm

# Every chapter as a reader runs it (no LABKIT_QUICK), one after another; CHAPTERS="10 14" for some.
# Not part of `make test`, which stays quick.
full: setup
	$(BIN)/python -m labkit.compare.fullrun $(CHAPTERS)

# The book: every chapter with its outputs, as a static HTML site in build/book/html, built
# from the executed copies in runs/executed/ (make test leaves one of each, in quick mode).
# A chapter without a fresh copy runs first: in full mode when it finishes within BOOK_BUDGET
# seconds, else in quick mode; each page says which. BOOK_ARGS=--rerun runs every chapter again.
BOOK_BUDGET ?= 900
book: setup
	$(BIN)/python -m labkit.book --budget $(BOOK_BUDGET) $(BOOK_ARGS)

# Before a workshop, on every laptop (WORKSHOP.md): the data, then every chapter once in quick mode,
# which fills Theano's and torch.compile's caches; each chapter's time is recorded and the plan
# is built from them (the plan is printed even when a chapter failed, marked). WORKSHOP_ARGS=--caffe
# also builds real Caffe (minutes); CHAPTERS="10 12" for some.
workshop: kernel
	$(BIN)/python -m labkit workshop warm --kernel $(KERNEL) $(WORKSHOP_ARGS) $(CHAPTERS); status=$$?; \
	$(BIN)/python -m labkit workshop plan; exit $$status

# The notebooks as committed; every notebook that differs is copied to runs/notebook-backups/ first.
reset:
	$(BIN)/python -m labkit workshop reset

system-deps:
	@tools/system-deps.sh

# Real Caffe (CPU-only; a fork of BVLC Caffe) from the brocolli-caffe 9.0.2 sources, patched by tools/caffe/.
caffe: setup
	@tools/build_caffe.sh

lock:
	@tools/lock.sh

clean:
	rm -rf $(VENV) .pytest_cache
