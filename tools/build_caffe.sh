#!/usr/bin/env bash
# Build real Caffe (pycaffe, CPU-only, OpenBLAS, LMDB) and install it into .venv.
#
# Source: the PyPI source distribution brocolli-caffe 9.0.2 (a fork of BVLC Caffe with the SSD layers),
# patched by tools/caffe/patch_sdist.py so it builds with Debian/Ubuntu system packages.
# Optional: the workbook runs without it; with it, the Caffe chapter runs real Caffe beside
# labkit.caffe.
#
# Idempotent and cached:
#   - nothing to do when `import caffe` already works in .venv;
#   - the built wheel is kept in $LABKIT_WHEELS (default ~/.cache/labkit/wheels) under a key of
#     this script, the patch and the Python version, and installed from there next time.
# Knobs: CAFFE_JOBS (parallel compile jobs, default 2), LABKIT_WHEELS (wheel cache folder).
set -euo pipefail
cd "$(dirname "$0")/.."

SDIST=brocolli-caffe==9.0.2
VENV=.venv
PY="$VENV/bin/python"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/labkit"
WHEELS="${LABKIT_WHEELS:-$CACHE_ROOT/wheels}"
LOG="$CACHE_ROOT/build_caffe.log"
export CAFFE_JOBS="${CAFFE_JOBS:-2}"
# Part of the wheel cache key: bump it when the build steps below change.
RECIPE="labkit-caffe-recipe-1"
# Debian/Ubuntu packages the build and pycaffe need.
SYS_PKGS=(libboost-python-dev libboost-thread-dev libboost-system-dev libboost-filesystem-dev
          libboost-regex-dev libgoogle-glog-dev libgflags-dev libprotobuf-dev protobuf-compiler
          libhdf5-dev libopenblas-dev libgtest-dev liblmdb-dev cmake g++ make pkg-config)
# What `import caffe` needs in the venv beyond the lock (caffe.io imports skimage.io).
# Installed with requirements.lock as constraints, so numpy and protobuf stay as pinned.
PY_PKGS=(scikit-image==0.25.2 imageio==2.38.1 tifffile==2026.3.3 lazy-loader==0.6)

say() { echo "build_caffe: $*"; }
die() { echo "build_caffe: $*" >&2; exit 1; }
PIP=("$PY" -m pip --disable-pip-version-check)

[ -x "$PY" ] || die "no $VENV here: run 'make setup' first (the build installs into that environment)."

# --- Python packages pycaffe imports --------------------------------------------------------
if ! "$PY" -c 'import skimage.io, scipy.ndimage, six' 2>/dev/null; then
    say "installing ${PY_PKGS[*]} (constrained by requirements.lock)"
    "${PIP[@]}" install -q -c requirements.lock "${PY_PKGS[@]}"
fi

caffe_imports() { "$PY" -c 'import caffe, caffe._caffe' >/dev/null 2>&1; }
if caffe_imports; then
    say "real Caffe already imports in $VENV ($("$PY" -c 'import caffe; print(caffe.__file__)')); nothing to do."
    exit 0
fi

# --- The machine: Debian or Ubuntu, with the system packages --------------------------------
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "real Caffe is built here only on Debian or Ubuntu (apt). On this system, install the
    equivalents of: ${SYS_PKGS[*]}
    and adapt this script, or skip it: the workbook runs without real Caffe."
fi
missing=()
for p in "${SYS_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo); else
            die "missing system packages: ${missing[*]}
    They need root. Run:  sudo apt-get install ${missing[*]}
    then run this again."
        fi
    fi
    say "installing system packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# --- Build settings read from this interpreter ----------------------------------------------
read -r PYVER PYTAG <<<"$("$PY" -c 'import sys; v=sys.version_info; print(f"{v[0]}.{v[1]}", f"{v[0]}{v[1]}")')"
export CAFFE_PYTHON_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
export CAFFE_NUMPY_INCLUDE="$("$PY" -c 'import numpy; print(numpy.get_include())')"
export CAFFE_BOOST_PYTHON="boost_python$PYTAG"
[ -f "$CAFFE_PYTHON_INCLUDE/Python.h" ] || die "no Python.h under $CAFFE_PYTHON_INCLUDE: this Python $PYVER has no development headers."
MULTIARCH="$(gcc -print-multiarch 2>/dev/null || true)"
if [ ! -e /usr/lib/"$MULTIARCH"/lib"$CAFFE_BOOST_PYTHON".so ] && [ ! -e /usr/lib/lib"$CAFFE_BOOST_PYTHON".so ]; then
    die "no lib$CAFFE_BOOST_PYTHON.so: the workbook's environment is Python $PYVER, and this system's
    Boost.Python is built for: $(cd /usr/lib/"$MULTIARCH" 2>/dev/null && ls libboost_python3*.so 2>/dev/null | tr '\n' ' ')"
fi

# The cache key: the recipe below, the patch, the Python version and the system's protoc/Boost.
KEY="$( { echo "$RECIPE"; cat tools/caffe/patch_sdist.py; echo "$PYVER $(protoc --version)";
          dpkg-query -W -f='${Version}\n' libboost-python-dev libprotobuf-dev; } | sha256sum | cut -c1-16)"
CACHED="$WHEELS/caffe-$KEY"
wheel="$(ls "$CACHED"/brocolli_caffe-*.whl 2>/dev/null | head -1 || true)"

# --- Build the wheel (only when no cached wheel fits) ---------------------------------------
if [ -z "$wheel" ]; then
    mkdir -p "$CACHE_ROOT"
    BUILD="$(mktemp -d "${TMPDIR:-/tmp}/labkit-caffe.XXXXXX")"
    trap 'rm -rf "$BUILD"' EXIT
    start=$SECONDS
    say "building $SDIST, CPU-only, $CAFFE_JOBS jobs (a few minutes; log: $LOG)"
    : >"$LOG"
    fail() {
        echo "----- last lines of $LOG -----" >&2; tail -n 25 "$LOG" >&2
        die "$1 The full log is $LOG."
    }
    "${PIP[@]}" download --no-deps --no-binary :all: "$SDIST" -d "$BUILD" >>"$LOG" 2>&1 \
        || fail "could not download the source distribution $SDIST from the package index."
    tar -xzf "$BUILD"/brocolli-caffe-*.tar.gz -C "$BUILD"
    SRC="$(echo "$BUILD"/brocolli-caffe-*/)"
    "$PY" tools/caffe/patch_sdist.py "$SRC" >>"$LOG" 2>&1 || fail "the patch did not apply."
    # Obstacle 7: the Python messages come from the system's protoc, the same compiler that
    # generates the C++ side, so pycaffe's caffe_pb2 matches the library it drives.
    protoc --proto_path="$SRC/src" --python_out="$SRC/python" "$SRC/src/caffe/proto/caffe.proto" >>"$LOG" 2>&1 \
        || fail "protoc could not compile caffe.proto."
    "${PIP[@]}" wheel -v --no-deps --no-build-isolation -w "$BUILD/dist" "$SRC" >>"$LOG" 2>&1 \
        || fail "the build failed."
    built="$(ls "$BUILD"/dist/brocolli_caffe-*.whl 2>/dev/null | head -1 || true)"
    [ -n "$built" ] || fail "the build made no wheel."
    # A wheel without the extension or with the old protoc 3.6 messages is not worth caching.
    "$PY" - "$built" <<'EOF' >>"$LOG" 2>&1 || fail "the wheel is incomplete."
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "caffe/_caffe.so" in names, "no caffe/_caffe.so in the wheel"
pb2 = zipfile.ZipFile(sys.argv[1]).read("caffe/proto/caffe_pb2.py").decode()
assert "_builder" in pb2, "caffe_pb2.py is not the one regenerated by the system's protoc"
print("wheel checked:", len(names), "files")
EOF
    mkdir -p "$CACHED"
    cp "$built" "$CACHED/"
    wheel="$CACHED/$(basename "$built")"
    say "built $(basename "$wheel") in $((SECONDS - start)) s; cached in $CACHED"
else
    say "using the cached wheel $wheel"
fi

# --- Install and check ----------------------------------------------------------------------
"${PIP[@]}" install -q --no-deps --force-reinstall "$wheel"
if ! err="$("$PY" -c 'import caffe, caffe._caffe' 2>&1)"; then
    echo "$err" | tail -n 5 >&2
    die "the wheel installed but 'import caffe' fails (above). Remove $CACHED and run this again to rebuild."
fi
say "real Caffe installed: $("$PY" -c 'import caffe; print("pycaffe", caffe.__version__, "from", caffe.__file__)')"
