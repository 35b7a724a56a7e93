"""A chapter notebook fetched from the workbook's repository, for a labkit installed without a clone.

Some chapters read another chapter's ``lenet`` cells (``labkit.chapters``). In a clone they are
in its ``notebooks/`` folder; an installed labkit (Colab, ``pip install``) has no such folder,
so it downloads the one notebook it needs into the cache (``labkit.paths.cache_dir()``, under
``notebooks/``), and reuses it from then on, offline too.

When it is fetched again. A copy from a fixed commit (a 40-hex commit in the URL: what an
install from git gives) never changes, so it is never fetched again. A copy from a branch
(``main``, or a ``$LABKIT_NOTEBOOKS_URL`` that names no commit) is fetched again once it is
older than ``MAX_AGE_DAYS``, so a reader's cache follows the branch; when that fails (no
network), the old copy is used with a one-line warning, and this process does not try again.
``$LABKIT_OFFLINE`` (``labkit.settings``) stops every download: a cached copy is used however
old, and a chapter not in the cache is an error that says what to do.

Where from: ``$LABKIT_NOTEBOOKS_URL`` when set (a base URL; ``NAME.ipynb`` is added to it),
else the raw GitHub address of the ``notebooks/`` folder of the repository in labkit's own
package metadata (``[project.urls] Repository`` in pyproject.toml becomes its ``Project-URL``),
at the commit pip installed labkit from when it came from that repository by git (pip records
it in ``direct_url.json``), else on its ``main`` branch (the metadata has no branch).

A download is checked before it is kept: it must be JSON with a list of cells. It is written
to a temporary file and renamed into place, so the cache never holds half a notebook.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from labkit import paths, settings

TIMEOUT = 30
DEFAULT_BRANCH = "main"
#: A copy fetched from a branch is fetched again once it is older than this many days.
MAX_AGE_DAYS = 7
HOW_TO_FIX = ("Set LABKIT_NOTEBOOKS to the notebooks/ folder of a clone of the workbook "
              "(git clone the repository), or LABKIT_NOTEBOOKS_URL to a base URL that serves them.")


class FetchFailed(LookupError):
    """The notebook could not be downloaded; the message says what failed, where, and how to fix it."""


#: Cached copies whose refresh failed in this process: used as they are until Python restarts.
_KEPT: set[Path] = set()


def installed_from(dist=None) -> tuple[str | None, str | None]:
    """(the Repository URL of labkit's metadata, the commit pip installed it from by git, if any);
    ``dist``: an ``importlib.metadata`` distribution, labkit's own by default."""
    from importlib import metadata

    try:
        dist = dist or metadata.distribution("labkit")
    except metadata.PackageNotFoundError:
        return None, None
    repo = next((u.split(",", 1)[1].strip() for u in dist.metadata.get_all("Project-URL") or []
                 if u.split(",", 1)[0].strip().lower() == "repository"), None)
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    same = repo and direct.get("url", "").removesuffix(".git").rstrip("/") == repo.removesuffix(".git").rstrip("/")
    return repo, direct.get("vcs_info", {}).get("commit_id") if same else None


def base_url() -> str:
    """The URL of the folder the chapter notebooks are fetched from, ending in '/'."""
    override = settings.notebooks_url()
    if override:
        return override.rstrip("/") + "/"
    return github_base(*installed_from())


def github_base(repo: str | None, commit: str | None = None) -> str:
    """The raw GitHub URL of ``repo``'s notebooks/ at ``commit`` (else its main branch)."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repo or "")
    if not match:
        raise FetchFailed(f"labkit's package metadata names no GitHub repository (Repository: {repo!r}), "
                          f"so there is nowhere to fetch the chapter notebooks from. {HOW_TO_FIX}")
    owner, name = match.groups()
    return f"https://raw.githubusercontent.com/{owner}/{name}/{commit or DEFAULT_BRANCH}/notebooks/"


def pinned(base: str) -> bool:
    """Whether ``base`` names a fixed commit (a 40-hex path segment), whose files never change.
    A tag cannot be told from a branch by its name, so it counts as a branch."""
    return re.search(r"/[0-9a-f]{40}/", base) is not None


def cache_folder(base: str) -> Path:
    """Where notebooks from ``base`` are kept: one folder per source, so a fork's never mix."""
    return paths.cache_dir() / "notebooks" / hashlib.sha256(base.encode()).hexdigest()[:12]


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        raise FetchFailed(f"downloading {url} failed: HTTP {err.code} {err.reason}"
                          + (" (no such notebook there)" if err.code == 404 else "") + f". {HOW_TO_FIX}") from None
    except (urllib.error.URLError, OSError) as err:      # no network, a refused connection, a timeout
        reason = getattr(err, "reason", err)
        raise FetchFailed(f"downloading {url} failed: {reason} (no network?). {HOW_TO_FIX}") from None
    try:
        nb = json.loads(body)
    except ValueError as err:
        raise FetchFailed(f"{url} is not a notebook: not valid JSON ({err}; {len(body):,} bytes came, "
                          f"perhaps cut short). {HOW_TO_FIX}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise FetchFailed(f"{url} is JSON but not a notebook (no list of cells). {HOW_TO_FIX}")
    return body


def fetch(filename: str) -> Path:
    """The path of chapter ``filename`` ('10_pytorch.ipynb') in the cache, downloaded if not there
    yet, or again if it came from a branch more than ``MAX_AGE_DAYS`` ago (see the module's text)."""
    if not re.fullmatch(r"[\w.-]+\.ipynb", filename):
        raise FetchFailed(f"{filename!r} is not a chapter notebook's file name (like '10_pytorch.ipynb')")
    base = base_url()
    path = cache_folder(base) / filename
    if path.is_file():
        age_days = (time.time() - path.stat().st_mtime) / 86400
        if pinned(base) or age_days <= MAX_AGE_DAYS or settings.offline() or path in _KEPT:
            return path
        try:
            body = _download(base + filename)
        except FetchFailed as err:
            _KEPT.add(path)
            warnings.warn(f"could not refresh {filename} ({err}); using the copy cached {age_days:.0f} days "
                          f"ago, {path}".replace("\n", " "), stacklevel=2)
            return path
    elif settings.offline():
        raise FetchFailed(f"{filename} is not in the cache ({path.parent}) and LABKIT_OFFLINE is set, so it is "
                          f"not downloaded from {base}. Set LABKIT_NOTEBOOKS to a folder that holds the "
                          "chapter notebooks (the notebooks/ folder of a clone of the workbook), or unset "
                          "LABKIT_OFFLINE to download it.")
    else:
        body = _download(base + filename)
    from labkit.data.files import atomic_write     # temporary file, then rename

    atomic_write(path, lambda f: f.write(body))
    return path
