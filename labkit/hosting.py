"""Where a chapter runs, and how much memory it may use there: Binder, found at run time.

mybinder.org gives each session about 2 GB of memory; a chapter whose full mode needs more
is killed part-way (the kernel "dies" with no message). So a chapter asks ``plan(...)``
before its heavy work, and on a host whose limit is below its measured need it takes a
lighter default, saying so in one plain line.

How Binder is recognised: BinderHub's spawner (``BinderSpawnerMixin.get_env`` in the
binderhub repository) sets ``BINDER_REPO_URL``, ``BINDER_REF_URL``, ``BINDER_LAUNCH_HOST``,
``BINDER_PERSISTENT_REQUEST`` and ``BINDER_REQUEST`` in every session it starts; any one of
them is enough. ``JUPYTERHUB_*`` variables alone are not: every JupyterHub sets them.

How the limit is read, smallest first found wins:

* the cgroup the kernel runs in: ``/sys/fs/cgroup/memory.max`` (cgroup v2; ``max`` means
  none) or ``/sys/fs/cgroup/memory/memory.limit_in_bytes`` (cgroup v1, where "none" is a
  number near 2**63);
* ``MEM_LIMIT`` (bytes), which JupyterHub's ``Spawner.get_env`` sets when it has a limit;
* on Binder with neither, mybinder.org's documented 2 GB (``BINDER_ASSUMED_LIMIT``).

``LABKIT_BINDER`` (``labkit.settings``) overrides the detection, to try the Binder profile
anywhere: on (``1``) means "behave as on Binder", with the limit read as above or 2 GB;
``0`` or ``off`` means "not Binder" even where Binder's variables are set. The limit's
sources can be injected (``environ``, ``cgroup_root``) so tests need no Binder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit import settings

BINDER_VARIABLES = ("BINDER_REQUEST", "BINDER_PERSISTENT_REQUEST", "BINDER_REPO_URL",
                    "BINDER_REF_URL", "BINDER_LAUNCH_HOST")
BINDER_ASSUMED_LIMIT = 2 * 1000**3        # mybinder.org: "up to 2 GB", when nothing says more
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_FILES = ("memory.max", "memory/memory.limit_in_bytes")   # v2, then v1
NO_LIMIT_ABOVE = 2**60                    # cgroup v1 writes "no limit" as a page-rounded 2**63 - 1
BESIDE_MIB = 150      # what shares the limit with the kernel: the Jupyter server (JupyterLab 4
                      # serving one notebook: 91 MiB, measured 2026-12-02 on the machine of the
                      # "measured on" notes, AMD EPYC, 2 cores, Debian 12) and a margin
MiB = 2**20


@dataclass(frozen=True)
class Host:
    """What ``detect`` found: on Binder or not (and what said so), and the memory limit."""

    binder: bool
    why: str                      # e.g. "BINDER_REQUEST is set", "LABKIT_BINDER=1", "no Binder variable"
    limit: int | None             # bytes; None when no limit was found
    limit_source: str             # the file or variable it came from, or why it is assumed

    def describe(self) -> str:
        where = "Binder" if self.binder else "not Binder"
        if self.limit is None:
            return f"{where} ({self.why}); no memory limit found"
        return f"{where} ({self.why}); memory limit {self.limit / MiB:,.0f} MiB ({self.limit_source})"


def _parse_limit(text: str, source: str) -> int | None:
    value = text.strip()
    if value == "max":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{source} holds {value!r}, not a number of bytes or 'max'; "
                         "unset it (or fix the file) to let labkit read the memory limit") from None
    if limit <= 0:
        raise ValueError(f"{source} says the memory limit is {limit} bytes; it must be positive")
    return None if limit >= NO_LIMIT_ABOVE else limit


def memory_limit(environ=None, cgroup_root: Path | str = CGROUP_ROOT) -> tuple[int | None, str]:
    """The smallest memory limit found (bytes, or None) and where it came from."""
    environ = os.environ if environ is None else environ
    found = []
    for name in CGROUP_FILES:
        path = Path(cgroup_root) / name
        try:
            text = path.read_text()
        except OSError:                   # absent (no cgroup, or the other version), unreadable
            continue
        limit = _parse_limit(text, str(path))
        if limit is not None:
            found.append((limit, str(path)))
    if (environ.get("MEM_LIMIT") or "").strip():
        limit = _parse_limit(environ["MEM_LIMIT"], "MEM_LIMIT")
        if limit is not None:
            found.append((limit, "MEM_LIMIT"))
    return min(found) if found else (None, "none found")


def detect(environ=None, cgroup_root: Path | str = CGROUP_ROOT) -> Host:
    """Is this Binder, and what is the memory limit? (``LABKIT_BINDER`` overrides.)"""
    environ = os.environ if environ is None else environ
    forced = (environ.get("LABKIT_BINDER") or "").strip()
    if forced and not settings.truthy(forced) and forced.lower() not in ("0", "false", "no", "off"):
        raise ValueError(f"LABKIT_BINDER={forced!r}: use 1 to run as on Binder, 0 to run as anywhere "
                         "else, or unset it to let labkit find out")
    seen = [name for name in BINDER_VARIABLES if (environ.get(name) or "").strip()]
    if forced:
        binder, why = settings.truthy(forced), f"LABKIT_BINDER={forced}"
    else:
        binder, why = bool(seen), (f"{seen[0]} is set" if seen else "no Binder variable is set")
    limit, source = memory_limit(environ, cgroup_root)
    if binder and limit is None:
        limit, source = BINDER_ASSUMED_LIMIT, "none found; mybinder.org's 2 GB assumed"
    return Host(binder, why, limit, source)


@dataclass(frozen=True)
class Plan:
    """A chapter's choice: its full default, or the lighter one, and the line that says why."""

    lighter: bool
    line: str

    def skipped(self, what: str) -> str:
        """The line a cell prints where the lighter default leaves ``what`` out."""
        return (f"Skipped (lighter default, see Setup): {what}. To run it anyway, run "
                "`%env LABKIT_BINDER=0` in a cell, then the Setup cell that chose the default and this "
                "one again; the kernel may be killed.")


def plan(full_peak_mib: float, lighter: str, host: Host | None = None, *, quick: bool | None = None) -> Plan:
    """Full mode or the lighter default, for a chapter whose full mode was measured to peak
    at ``full_peak_mib`` MiB (kernel and every process it starts); ``lighter`` says in a few
    words what the lighter default changes. The lighter default is taken on Binder (or with
    ``LABKIT_BINDER=1``) when the limit is below the peak plus ``BESIDE_MIB``; elsewhere a low
    limit is only reported. Quick mode is light already."""
    if not full_peak_mib or full_peak_mib <= 0:
        raise ValueError(f"full_peak_mib must be the chapter's measured peak in MiB, not {full_peak_mib!r}")
    if not lighter.strip():
        raise ValueError("say what the lighter default changes (lighter='...')")
    host = detect() if host is None else host
    quick = settings.quick() if quick is None else quick
    fits = host.limit is None or host.limit / MiB >= full_peak_mib + BESIDE_MIB
    if quick:
        return Plan(False, f"Quick mode: the short path, well within any limit ({host.describe()}).")
    if host.limit is None:
        return Plan(False, f"Full mode: it peaks near {full_peak_mib:,.0f} MiB ({host.describe()}).")
    if fits:
        return Plan(False, f"Full mode: it peaks near {full_peak_mib:,.0f} MiB, within this machine's limit "
                           f"({host.describe()}).")
    if not host.binder:
        return Plan(False, f"Full mode, but it peaks near {full_peak_mib:,.0f} MiB, over this machine's limit "
                           f"({host.describe()}): the kernel may be killed. LABKIT_BINDER=1 takes the lighter default.")
    return Plan(True, f"Lighter default: full mode peaks near {full_peak_mib:,.0f} MiB, over this machine's "
                      f"limit ({host.describe()}); so {lighter}. To run everything anyway (the kernel may "
                      "be killed), run `%env LABKIT_BINDER=0` in a cell and run this one again.")
