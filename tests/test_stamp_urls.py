"""tools/stamp_urls.py: one setting for the repository's address, and the Colab list.

Every notebook's badges and Colab install cell, and README's badge, must be what the tool
stamps from pyproject.toml; README's Colab column must say "yes" for exactly the chapters of
``[tool.labkit] colab``. A made-up notebook pointing at another repository must be caught.
"""
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import stamp_urls  # noqa: E402


def test_every_notebook_and_the_readme_are_stamped():
    assert stamp_urls.run(ROOT, check=True) == [], "run `make urls` (tools/stamp_urls.py)"


def test_no_notebook_or_readme_names_another_repository():
    cfg = stamp_urls.settings()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            assert stamp_urls.stray_urls(cell.source, cfg) == [], f"{path.name} cell {i}"
    assert stamp_urls.stray_urls((ROOT / "README.md").read_text(), cfg) == []


def test_colab_badges_and_readme_column_follow_the_one_list():
    cfg = stamp_urls.settings()
    readme = stamp_urls.readme_colab((ROOT / "README.md").read_text())
    assert len(readme) >= 20, "README's chapter table was not found"
    yes = {name for name, col in readme.items() if col.startswith("yes")}
    assert yes == set(cfg["colab"]), "README's Colab column and [tool.labkit] colab disagree"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source
        assert ("colab.research.google.com/github/" in first) == (path.stem in cfg["colab"]), path.name


def test_every_colab_chapter_installs_labkit_honouring_LABKIT_SOURCE():
    from IPython.core.inputtransformer2 import TransformerManager

    cfg = stamp_urls.settings()
    for name in cfg["colab"]:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        cells = [c.source for c in nb.cells if stamp_urls.is_install_cell(c)]
        assert len(cells) == 1, f"{name}: expected one Colab install cell, found {len(cells)}"
        assert 'os.environ.get(\n        "LABKIT_SOURCE"' in cells[0]
        python = TransformerManager().transform_cell(cells[0])
        compile(python, name, "exec")                  # the cell is valid IPython
        assert "run_line_magic('pip', 'install -q \"{labkit_source}\"" in python


def _made_up_root(tmp_path, nb_source_badges, install_line):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "notebooks").mkdir()
    cfg = stamp_urls.settings(tmp_path / "pyproject.toml")
    for name in cfg["colab"]:                          # the Colab list must name real notebooks
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", tmp_path / "notebooks")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Made up\n\n" + nb_source_badges + "\n\nText."),
                nbformat.v4.new_code_cell('import sys\n\nif "google.colab" in sys.modules:\n'
                                          f"    {install_line}\n")]
    nbformat.write(nb, tmp_path / "notebooks" / "99_made_up.ipynb")
    return tmp_path


def test_a_notebook_pointing_at_another_repository_fails_until_stamped(tmp_path):
    fork = "someone-else/workbook-fork"
    root = _made_up_root(
        tmp_path,
        f"[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{fork}/main"
        "?urlpath=lab/tree/notebooks/99_made_up.ipynb)",
        f'%pip install -q "labkit @ git+https://github.com/{fork}" "lmdb"')
    cfg = stamp_urls.settings(root / "pyproject.toml")
    text = (root / "notebooks" / "99_made_up.ipynb").read_text()
    assert stamp_urls.stray_urls(text, cfg) == [fork]
    assert stamp_urls.run(root, check=True) == ["notebooks/99_made_up.ipynb: badges, install cell"]

    stamp_urls.run(root)                              # what `make urls` does
    assert stamp_urls.run(root, check=True) == []
    nb = nbformat.read(root / "notebooks" / "99_made_up.ipynb", as_version=4)
    assert stamp_urls.stray_urls(nb.cells[0].source + nb.cells[1].source, cfg) == []
    assert "Open In Colab" not in nb.cells[0].source   # not in the Colab list: no Colab badge
    assert f'"labkit @ git+{cfg["url"]}")' in nb.cells[1].source
    assert '%pip install -q "{labkit_source}" "lmdb"' in nb.cells[1].source


def test_a_fork_changes_one_line(tmp_path):
    root = _made_up_root(tmp_path, "", '%pip install -q "labkit @ git+https://github.com/a/b"')
    pyproject = root / "pyproject.toml"
    old = stamp_urls.settings(pyproject)["url"]
    pyproject.write_text(pyproject.read_text().replace(old, "https://github.com/me/my-fork"))
    changed = stamp_urls.run(root)
    assert len(changed) == len(stamp_urls.settings(pyproject)["colab"]) + 2   # + made-up + README
    for path in (root / "notebooks").glob("*.ipynb"):
        text = path.read_text()
        assert "me/my-fork" in text and stamp_urls.stray_urls(text, stamp_urls.settings(pyproject)) == []


def test_a_repository_that_is_not_on_github_is_refused_clearly(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project.urls]\nRepository = "https://gitlab.com/me/wb"\n'
                         '[tool.labkit]\ncolab = []\n')
    with pytest.raises(stamp_urls.SettingError, match=r"\[project.urls\] Repository .*github.com/OWNER/NAME"):
        stamp_urls.settings(pyproject)
