"""Write environment.yml and binder/requirements.txt from requirements.lock.

Both describe the same environment as the lock; tests/test_environment.py fails when either
drifts. `make lock` runs this after re-resolving. Packages that only build without build
isolation (NO_ISOLATION) are installed by a second step: binder/postBuild, and the last
line of the conda recipe's instructions.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Source distributions whose setup.py imports pkg_resources: they need the pinned setuptools
#: in the environment itself (pip --no-build-isolation), which a requirements list cannot say.
NO_ISOLATION = ("chainer",)
#: Installed by conda itself in environment.yml rather than by its pip section.
CONDA_OWNED = ("setuptools", "wheel")
#: The marker that ends a requirements.in line whose package installs without its declared
#: requirements (pip --no-deps); see no_deps().
NO_DEPS_MARK = "# --no-deps"


def normalize(name: str) -> str:
    """PyPI's normal form of a project name (PEP 503): tensorflow_cpu -> tensorflow-cpu."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def lock_pins(path=ROOT / "requirements.lock") -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalize(name)] = version
    return pins


def no_deps(path=ROOT / "requirements.in") -> tuple[str, ...]:
    """The packages requirements.in marks ``# --no-deps``: installed by a step of their own,
    without the requirements they declare (Nolearn's Theano 1.0.x would replace theano-pymc)."""
    names = []
    for line in path.read_text().splitlines():
        if line.rstrip().endswith(NO_DEPS_MARK) and not line.lstrip().startswith("#"):
            names.append(normalize(re.split(r"[=<>\[ ]", line.strip(), maxsplit=1)[0]))
    return tuple(names)


def render(pins: dict[str, str]) -> dict[Path, str]:
    skip = set(NO_ISOLATION) | set(CONDA_OWNED) | set(no_deps())
    pip_lines = [f"{n}=={v}" for n, v in sorted(pins.items()) if n not in skip]
    late = " ".join(f"{n}=={pins[n]}" for n in NO_ISOLATION)
    bare = " ".join(f"{n}=={pins[n]}" for n in no_deps())
    env = [
        "# The workbook's environment for conda/mamba users, generated from requirements.lock",
        "# by tools/sync_env.py (do not edit by hand). After creating it:",
        f"#   conda activate labkit && pip install --no-build-isolation {late} && pip install --no-deps {bare}",
        "#   pip install --no-deps -e . && python -m labkit compat --install-hook",
        "name: labkit",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        *[f"  - {n}={pins[n]}" for n in CONDA_OWNED],
        "  - pip:",
        *[f"      - {line}" for line in pip_lines],
    ]
    req = [
        "# Binder (repo2docker) installs these; binder/postBuild adds what needs the environment's",
        "# own setuptools, then labkit. Generated from requirements.lock by tools/sync_env.py.",
        *[f"{n}=={pins[n]}" for n in CONDA_OWNED],
        *pip_lines,
    ]
    return {ROOT / "environment.yml": "\n".join(env) + "\n",
            ROOT / "binder" / "requirements.txt": "\n".join(req) + "\n"}


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--no-deps"]:
        # the pins to install with pip --no-deps (tools/setup.sh, tools/lock.sh, binder/postBuild)
        print(" ".join(f"{n}=={lock_pins()[n]}" for n in no_deps()))
        raise SystemExit(0)
    for path, text in render(lock_pins()).items():
        path.write_text(text)
        print(f"sync_env: wrote {path.relative_to(ROOT)}")
