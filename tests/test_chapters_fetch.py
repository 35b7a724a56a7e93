"""labkit.chapters_fetch: an installed labkit fetches the chapter notebook it needs, once.

A local HTTP server (tests/conftest.py's ``http_server``) stands in for GitHub, serving a real
chapter notebook; ``labkit.paths.repo_root`` returning None stands for "installed without a clone".
"""
import json
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from labkit import chapters, chapters_fetch

NB = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTER = "10_pytorch.ipynb"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """labkit as installed on its own: no clone, an empty cache of its own."""
    monkeypatch.setattr(chapters.paths, "repo_root", lambda: None)
    monkeypatch.delenv("LABKIT_NOTEBOOKS", raising=False)
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _serve(http_server, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NB / CHAPTER, site / CHAPTER)
    base, requested = http_server(site)
    monkeypatch.setenv("LABKIT_NOTEBOOKS_URL", base + "notebooks")    # no trailing slash: one is added
    return site, base, requested


def _serve_folder(http_server, tmp_path, monkeypatch, folder="notebooks"):
    """Serve the chapter at ``BASE/folder/``, LABKIT_NOTEBOOKS_URL pointing there; (its file, requests)."""
    site = tmp_path / "site" / folder
    site.mkdir(parents=True)
    shutil.copy(NB / CHAPTER, site / CHAPTER)
    base, requested = http_server(tmp_path / "site")
    monkeypatch.setenv("LABKIT_NOTEBOOKS_URL", base + folder)
    return site / CHAPTER, requested


def _cached_files(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_fetched_once_then_reused_offline(installed, http_server, tmp_path, monkeypatch):
    _, requested = _serve_folder(http_server, tmp_path, monkeypatch)
    path = chapters.notebook_for("pytorch")
    assert path.name == CHAPTER and path.is_relative_to(installed)
    assert path.read_bytes() == (NB / CHAPTER).read_bytes()
    assert requested == [f"/notebooks/{CHAPTER}"]
    assert "build_lenet" in chapters.tagged_source(path)          # a usable chapter, its lenet cells
    # again, and with the server gone: the cached copy, no request
    assert chapters.notebook_path(CHAPTER) == path
    shutil.rmtree(tmp_path / "site")
    assert chapters.notebook_for("torch") == path
    assert requested == [f"/notebooks/{CHAPTER}"]
    assert _cached_files(installed) == [path.relative_to(installed).as_posix()]


def test_a_missing_notebook_says_404_and_how_to_fix(installed, http_server, tmp_path, monkeypatch):
    _, base, requested = _serve(http_server, tmp_path, monkeypatch)   # serves /10_pytorch.ipynb only
    with pytest.raises(chapters.ChaptersNotFound) as err:
        chapters.notebook_for("pytorch")
    message = str(err.value)
    assert f"{base}notebooks/{CHAPTER}" in message and "HTTP 404" in message
    assert "LABKIT_NOTEBOOKS" in message
    assert _cached_files(installed) == []


def test_a_truncated_notebook_is_refused_and_not_kept(installed, http_server, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    whole = (NB / CHAPTER).read_bytes()
    (site / CHAPTER).write_bytes(whole[:len(whole) // 2])
    (site / "11_keras.ipynb").write_text(json.dumps({"not": "a notebook"}))
    base, _ = http_server(site)
    monkeypatch.setenv("LABKIT_NOTEBOOKS_URL", base)
    with pytest.raises(chapters.ChaptersNotFound, match=r"not valid JSON.*cut short.*LABKIT_NOTEBOOKS"):
        chapters.notebook_path(CHAPTER)
    with pytest.raises(chapters.ChaptersNotFound, match="not a notebook"):
        chapters.notebook_path("11_keras.ipynb")
    assert _cached_files(installed) == []


def test_no_server_says_what_failed(installed, dead_url, monkeypatch):
    monkeypatch.setenv("LABKIT_NOTEBOOKS_URL", dead_url)
    with pytest.raises(chapters.ChaptersNotFound, match=rf"{dead_url}{CHAPTER} failed.*no network"):
        chapters.notebook_path(CHAPTER)
    assert _cached_files(installed) == []


def test_a_bad_file_name_is_named(installed, monkeypatch, dead_url):
    monkeypatch.setenv("LABKIT_NOTEBOOKS_URL", dead_url)
    with pytest.raises(chapters.ChaptersNotFound, match="not a chapter notebook's file name"):
        chapters.notebook_path("../secrets.ipynb")


def test_a_clone_or_a_folder_never_downloads(http_server, tmp_path, monkeypatch):
    _, _, requested = _serve(http_server, tmp_path, monkeypatch)
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_NOTEBOOKS", raising=False)
    assert chapters.notebook_for("pytorch") == NB / CHAPTER               # the clone's
    monkeypatch.setattr(chapters.paths, "repo_root", lambda: None)
    with pytest.raises(chapters.ChaptersNotFound, match="no chapter"):    # a folder given: only there
        chapters.notebook_path(CHAPTER, tmp_path)
    monkeypatch.setenv("LABKIT_NOTEBOOKS", str(NB))
    assert chapters.notebook_for("pytorch") == NB / CHAPTER
    with pytest.raises(chapters.ChaptersNotFound, match="a whole folder is not"):
        monkeypatch.delenv("LABKIT_NOTEBOOKS")
        chapters.notebooks_dir()
    assert requested == [] and not (tmp_path / "cache").exists()


def test_the_default_source_is_the_repository_on_github(monkeypatch):
    base = "https://raw.githubusercontent.com/someone/dl-workbook/"
    assert chapters_fetch.github_base("https://github.com/someone/dl-workbook") == base + "main/notebooks/"
    assert chapters_fetch.github_base("https://github.com/someone/dl-workbook.git", "ab12") == base + "ab12/notebooks/"
    with pytest.raises(chapters_fetch.FetchFailed, match="names no GitHub repository.*LABKIT_NOTEBOOKS"):
        chapters_fetch.github_base("https://gitlab.com/someone/dl-workbook")
    monkeypatch.delenv("LABKIT_NOTEBOOKS_URL", raising=False)
    repo, _ = chapters_fetch.installed_from()
    if repo is None:
        pytest.skip("labkit's installed metadata has no Project-URL: an install older than "
                    "[project.urls] in pyproject.toml (pip install -e . refreshes it)")
    owner_name = repo.removeprefix("https://github.com/").removesuffix(".git").strip("/")
    assert chapters_fetch.base_url().startswith(f"https://raw.githubusercontent.com/{owner_name}/")


def test_the_commit_pip_installed_from_is_read_from_the_metadata(tmp_path):
    """What pip writes for ``pip install "labkit @ git+https://github.com/..."``: the notebooks
    then come from that very commit; an install from a wheel or a folder names none."""
    info = tmp_path / "labkit-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: labkit\nVersion: 0.1.0\n"
                                   "Project-URL: Repository, https://github.com/someone/dl-workbook\n")
    git = {"url": "https://github.com/someone/dl-workbook.git",
           "vcs_info": {"vcs": "git", "commit_id": "0123abcd" * 5}}
    (info / "direct_url.json").write_text(json.dumps(git))
    dist = metadata.PathDistribution(info)
    assert chapters_fetch.installed_from(dist) == ("https://github.com/someone/dl-workbook", "0123abcd" * 5)
    (info / "direct_url.json").write_text(json.dumps({"url": "file:///tmp/labkit-0.1.0-py3-none-any.whl",
                                                      "archive_info": {}}))
    assert chapters_fetch.installed_from(dist) == ("https://github.com/someone/dl-workbook", None)
    (info / "direct_url.json").write_text(json.dumps({**git, "url": "https://github.com/other/fork"}))
    assert chapters_fetch.installed_from(dist)[1] is None       # another repository's commit: not used


def _age(path, days):
    """Date the cached copy ``days`` back, as if fetched then."""
    import os
    import time

    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_offline_a_missing_copy_is_not_fetched_and_the_error_says_what_to_do(installed, http_server,
                                                                            tmp_path, monkeypatch):
    _, requested = _serve_folder(http_server, tmp_path, monkeypatch)
    monkeypatch.setenv("LABKIT_OFFLINE", "1")
    with pytest.raises(chapters.ChaptersNotFound) as err:
        chapters.notebook_path(CHAPTER)
    message = str(err.value)
    assert "LABKIT_OFFLINE is set" in message and "Set LABKIT_NOTEBOOKS" in message and "unset LABKIT_OFFLINE" in message
    assert requested == [] and _cached_files(installed) == []
    monkeypatch.delenv("LABKIT_OFFLINE")
    path = chapters.notebook_path(CHAPTER)                    # online: fetched
    monkeypatch.setenv("LABKIT_OFFLINE", "yes")
    _age(path, chapters_fetch.MAX_AGE_DAYS + 1)              # old, but offline: used as it is
    assert chapters.notebook_path(CHAPTER) == path
    assert requested == [f"/notebooks/{CHAPTER}"]


def test_a_copy_from_a_branch_is_refreshed_once_old_and_kept_when_that_fails(installed, http_server,
                                                                           tmp_path, monkeypatch):
    served, requested = _serve_folder(http_server, tmp_path, monkeypatch)
    path = chapters.notebook_path(CHAPTER)
    _age(path, chapters_fetch.MAX_AGE_DAYS - 1)              # young enough: no request
    assert chapters.notebook_path(CHAPTER) == path and len(requested) == 1
    nb = json.loads(served.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "changed on the branch"})
    served.write_text(json.dumps(nb))
    _age(path, chapters_fetch.MAX_AGE_DAYS + 1)              # old: fetched again, the new text kept
    assert chapters.notebook_path(CHAPTER) == path and len(requested) == 2
    assert path.read_bytes() == served.read_bytes()
    kept = path.read_bytes()
    served.unlink()                                          # the refresh fails (404): the old copy, a warning
    _age(path, chapters_fetch.MAX_AGE_DAYS + 1)
    with pytest.warns(UserWarning, match=rf"could not refresh {CHAPTER} \(.*HTTP 404.*\); using the copy cached 8 days ago") as caught:
        assert chapters.notebook_path(CHAPTER) == path
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert path.read_bytes() == kept and len(requested) == 3
    assert chapters.notebook_path(CHAPTER) == path and len(requested) == 3    # not retried in this process


def test_a_copy_from_a_fixed_commit_is_never_refreshed(installed, http_server, tmp_path, monkeypatch):
    commit = "0123abcd" * 5
    served, requested = _serve_folder(http_server, tmp_path, monkeypatch, f"someone/dl-workbook/{commit}/notebooks")
    path = chapters.notebook_path(CHAPTER)
    served.unlink()
    _age(path, 10 * chapters_fetch.MAX_AGE_DAYS)
    assert chapters.notebook_path(CHAPTER) == path and len(requested) == 1
    repo = "https://github.com/someone/dl-workbook"
    assert chapters_fetch.pinned(chapters_fetch.github_base(repo, commit))
    assert not chapters_fetch.pinned(chapters_fetch.github_base(repo))
