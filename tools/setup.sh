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

# The ConvNetJS chapter's Node packages: `npm ci` in js/ installs exactly what
# js/package-lock.json pins, into js/node_modules (no global install). Skipped, with a
# message, where Node or npm is absent; rerun only when the lock file changes (its SHA-256
# is kept in js/node_modules/.labkit-stamp, so deleting node_modules reruns it).
npm_ci() {
    local lock=js/package-lock.json stamp=js/node_modules/.labkit-stamp want
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "setup: Node.js or npm not found, so the ConvNetJS chapter's packages are not installed;" \
             "run \`make system-deps\` (or install nodejs and npm), then \`make setup\` again"
        return 0
    fi
    want="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "setup: js/node_modules is up to date with js/package-lock.json (skipping npm ci)"
        return 0
    fi
    echo "setup: npm ci in js/ (ConvNetJS, as js/package-lock.json pins it)"
    (cd js && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
}

# LABKIT_SKIP_JVM=1 leaves out the Java group, H2O and ND4J (about 550 MB; chapter 21 then says they are missing).
want="$( (cat requirements.lock pyproject.toml; echo "skip-jvm=${LABKIT_SKIP_JVM:-}") | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "setup: environment is up to date with requirements.lock (skipping install)"
    # the hook's one line names labkit's entry point: rewrite it in case labkit changed it
    "$VENV/bin/python" -m labkit compat --install-hook >/dev/null
    npm_ci
    exit 0
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
echo "setup: installing the pinned environment (first time: a few minutes, about 5 GB)"
# The build tools first: chainer and lasagne are source distributions built against them.
"${PIP[@]}" install -q $(grep -E '^(setuptools|wheel)==' requirements.lock)
# Packages requirements.in marks "# --no-deps" (Nolearn) install after the rest, without their
# declared requirements; the Java group (H2O, ND4J) is left out when LABKIT_SKIP_JVM is set.
bare="$("$VENV/bin/python" tools/sync_env.py --no-deps)"
skip="$(for pin in $bare; do printf '%s|' "${pin%%==*}"; done)"
[ -z "${LABKIT_SKIP_JVM:-}" ] || skip="${skip}h2o|nd4j|"
grep -v -i -E "^(${skip%|})==" requirements.lock > "$VENV/.labkit-requirements.txt"
"${PIP[@]}" install -q --no-build-isolation -r "$VENV/.labkit-requirements.txt"
[ -z "$bare" ] || "${PIP[@]}" install -q --no-deps $bare
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .
# Applies labkit.compat automatically whenever a legacy toolkit is imported in this venv.
"$VENV/bin/python" -m labkit compat --install-hook
rm -f "$VENV/.labkit-kernel"
echo "$want" > "$STAMP"
npm_ci
echo "setup: done"
