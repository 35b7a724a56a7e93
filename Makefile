# The workbook's two commands:  `make lab`  and  `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
KERNEL := labkit
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: lab test check setup kernel lock system-deps caffe doctor bench clean help

help:
	@echo "make lab          set up the environment (once) and start JupyterLab on notebooks/"
	@echo "make test         set up the environment (once) and run every test and notebook (quick mode)"
	@echo "make check        the fast tier: unit tests only (no toolkit subprocess, browser or notebook), < 2 min"
	@echo "make doctor       print the toolkit and device table"
	@echo "make bench        print labkit's own start-up and data-loading benchmarks"
	@echo "make system-deps  (Debian/Ubuntu, root) OpenBLAS, offline Fashion-MNIST, Chromium"
	@echo "make caffe        (optional; Debian/Ubuntu) build real Caffe (a BVLC fork) into .venv (minutes once, then cached)"
	@echo "make lock         re-resolve requirements.in into requirements.lock"

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
# slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: setup
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -m caffe_real tests
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0 --durations=25 -m "not caffe_real" --nbval-lax tests notebooks

# The fast tier (markers in pyproject.toml; CONTRIBUTING.md says what each means).
FAST := not slow and not browser and not caffe_real and not notebooks
check: setup
	LABKIT_QUICK=1 $(BIN)/python -m pytest -q -m "$(FAST)" tests

doctor: setup
	@$(BIN)/python -m labkit doctor

bench: setup
	@$(BIN)/python -m labkit bench
	@$(BIN)/python -m labkit.playground.bench

system-deps:
	@tools/system-deps.sh

# Real Caffe (CPU-only; a fork of BVLC Caffe) from the brocolli-caffe 9.0.2 sources, patched by tools/caffe/.
caffe: setup
	@tools/build_caffe.sh

lock:
	@tools/lock.sh

clean:
	rm -rf $(VENV) .pytest_cache
