#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned environment into it.
# Idempotent: the install is skipped when requirements.lock and pyproject.toml have not
# changed since the last successful install (their SHA-256 is kept in .venv/.labkit-stamp).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3.11}"
VENV=.venv
STAMP="$VENV/.labkit-stamp"

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "setup: $PY not found. The workbook needs Python 3.11: install it (pyenv, deadsnakes," >&2
    echo "       or your distribution), or point PYTHON=/path/to/python3.11 at one." >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $("$PY" --version)"
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: $VENV is not Python 3.11 ($("$VENV/bin/python" --version)); remove it and run again." >&2
    exit 1
fi

want="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "setup: environment is up to date with requirements.lock (skipping install)"
    # the hook's one line names labkit's entry point: rewrite it in case labkit changed it
    "$VENV/bin/python" -m labkit compat --install-hook >/dev/null
    exit 0
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
echo "setup: installing the pinned environment (first time: a few minutes, about 5 GB)"
# The build tools first: chainer and lasagne are source distributions built against them.
"${PIP[@]}" install -q $(grep -E '^(setuptools|wheel)==' requirements.lock)
"${PIP[@]}" install -q --no-build-isolation -r requirements.lock
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .
# Applies labkit.compat automatically whenever a legacy toolkit is imported in this venv.
"$VENV/bin/python" -m labkit compat --install-hook
rm -f "$VENV/.labkit-kernel"
echo "$want" > "$STAMP"
echo "setup: done"
