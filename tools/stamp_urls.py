"""Stamp the repository's address into every notebook and the README, from pyproject.toml.

The address is written once, as ``[project.urls] Repository`` in ``pyproject.toml``, with
the branch the badges open (``[tool.labkit] branch``) and the chapters that run on Colab
(``[tool.labkit] colab``, what ``tools/colab_check.py`` last found). From those this tool
writes:

* each chapter's badges, the lines right under its title in the first cell: a Binder badge
  for every chapter, and a Colab badge for the chapters in the Colab list only;
* each chapter's Colab install cell (the code cell that runs ``%pip install`` when
  ``"google.colab" in sys.modules``): labkit comes from the repository, or from the
  ``LABKIT_SOURCE`` environment variable when it is set (a pip requirement: a local folder,
  a wheel, ``labkit @ git+https://...`` of a fork);
* the Binder badge under README.md's title.

A fork changes the one ``Repository`` line and runs ``make urls``. Run with ``--check`` to
change nothing and list what differs (exit status 1 when something does);
``tests/test_stamp_urls.py`` runs that check.
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BINDER_IMG = "https://mybinder.org/badge_logo.svg"
COLAB_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LINE = re.compile(r"^\[!\[(Binder|Open In Colab)\]\(")
# the addresses that name this repository; any other GitHub address (a project a chapter
# cites) is left alone
REPO_URL = re.compile(r"(?:mybinder\.org/v2/gh|colab\.research\.google\.com/github|"
                      r"git\+https://github\.com)/([\w.-]+/[\w.-]+)")
INSTALL_GUARD = 'if "google.colab" in sys.modules:'
ASSIGN = re.compile(r'^(?P<indent>[ \t]*)labkit_source = os\.environ\.get\(\s*"LABKIT_SOURCE",\s*"[^"]*"\)\n',
                    re.M)
OLD_PIP = re.compile(r'^(?P<indent>[ \t]*)(?P<cmd>%pip install[^\n]*?)"labkit @ git\+https://github\.com/[^"]*"',
                     re.M)
SOURCE_COMMENT = "# labkit from the workbook's repository, or from LABKIT_SOURCE (a folder, a wheel, a fork)"


class SettingError(ValueError):
    """pyproject.toml does not say what this tool needs."""


def settings(pyproject: Path = ROOT / "pyproject.toml") -> dict:
    """The repository (``owner/name``), its URL, the branch and the Colab chapters, checked."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    url = data.get("project", {}).get("urls", {}).get("Repository")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url or "")
    if not match:
        raise SettingError(
            f"{pyproject}: [project.urls] Repository is {url!r}; it must be a GitHub address, "
            'https://github.com/OWNER/NAME (Binder and Colab open notebooks from GitHub): '
            'set it, e.g. Repository = "https://github.com/you/dl-toolkits-workbook"')
    tool = data.get("tool", {}).get("labkit", {})
    colab = tool.get("colab")
    if not isinstance(colab, list) or not all(isinstance(c, str) for c in colab):
        raise SettingError(f"{pyproject}: [tool.labkit] colab must be a list of notebook names "
                           f'without .ipynb, e.g. colab = ["00_setup", "10_pytorch"]; it is {colab!r}')
    repo = f"{match[1]}/{match[2]}"
    return {"repo": repo, "url": f"https://github.com/{repo}", "branch": tool.get("branch", "main"),
            "colab": list(colab)}


def badges(name: str, cfg: dict) -> list[str]:
    """The badge lines for notebook ``name`` (without .ipynb)."""
    repo, branch = cfg["repo"], cfg["branch"]
    lines = [f"[![Binder]({BINDER_IMG})](https://mybinder.org/v2/gh/{repo}/{branch}"
             f"?urlpath=lab/tree/notebooks/{name}.ipynb)"]
    if name in cfg["colab"]:
        lines.append(f"[![Open In Colab]({COLAB_IMG})](https://colab.research.google.com/github/"
                     f"{repo}/blob/{branch}/notebooks/{name}.ipynb)")
    return lines


def stamp_title_cell(source: str, name: str, cfg: dict) -> str:
    """The first cell with its badge lines (right under the title) replaced by the stamped ones."""
    lines = source.split("\n")
    if not lines or not lines[0].startswith("# "):
        raise SettingError(f"{name}: the first cell must start with the chapter's '# ' title line; "
                           f"it starts {lines[0][:60]!r}")
    rest = [line for line in lines[1:] if not BADGE_LINE.match(line)]
    while rest and not rest[0].strip():      # the blank lines between the title and the badges
        rest.pop(0)
    return "\n".join([lines[0], "", *badges(name, cfg), "", *rest])


def stamp_install_cell(source: str, cfg: dict) -> str:
    """The Colab install cell, installing labkit from the repository or from LABKIT_SOURCE."""
    default = f"labkit @ git+{cfg['url']}"
    if ASSIGN.search(source):
        return ASSIGN.sub(lambda m: _assign(m["indent"], default), source)
    match = OLD_PIP.search(source)
    if not match:
        return source
    indent = match["indent"]
    pip = f'{indent}{match["cmd"]}"{{labkit_source}}"'
    source = source[:match.start()] + f"{indent}{SOURCE_COMMENT}\n" + _assign(indent, default) + pip \
        + source[match.end():]
    if not re.search(r"^import os$", source, re.M):
        source = re.sub(r"^import sys$", "import os\nimport sys", source, count=1, flags=re.M)
    return source


def _assign(indent: str, default: str) -> str:
    return f'{indent}labkit_source = os.environ.get(\n{indent}    "LABKIT_SOURCE", "{default}")\n'


def is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and INSTALL_GUARD in cell.source and "%pip install" in cell.source


def stamp_notebook(nb, name: str, cfg: dict) -> list[str]:
    """Stamp ``nb`` in place; the list of what changed (empty when it was already stamped)."""
    changed = []
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise SettingError(f"{name}: the first cell must be the markdown title cell with the badges")
    new = stamp_title_cell(nb.cells[0].source, name, cfg)
    if new != nb.cells[0].source:
        nb.cells[0].source = new
        changed.append("badges")
    for cell in nb.cells:
        if is_install_cell(cell):
            new = stamp_install_cell(cell.source, cfg)
            if new != cell.source:
                cell.source = new
                changed.append("install cell")
    return changed


def stray_urls(text: str, cfg: dict) -> list[str]:
    """Addresses of a Binder badge, Colab badge or pip install that name another repository."""
    return sorted({m[1] for m in REPO_URL.finditer(text) if m[1] != cfg["repo"]})


def readme_badge(cfg: dict) -> str:
    return (f"[![Binder]({BINDER_IMG})](https://mybinder.org/v2/gh/{cfg['repo']}/{cfg['branch']}"
            f"?urlpath=lab/tree/notebooks)")


def stamp_readme(text: str, cfg: dict) -> str:
    """README.md with its Binder badge line (the first one) stamped."""
    return re.sub(r"^\[!\[Binder\]\(.*$", lambda m: readme_badge(cfg), text, count=1, flags=re.M)


def readme_colab(text: str) -> dict[str, str]:
    """README's chapter table (the one whose last column is "Colab"): notebook -> that column."""
    table = re.search(r"^\|[^\n]*\| Colab \|\n((?:\|[^\n]*\n)+)", text, re.M)
    rows = re.findall(r"^\| `(\d\d_\w+)` \|.*\| ([^|]*) \|\s*$", table[1] if table else "", re.M)
    return {name: col.strip() for name, col in rows}


def run(root: Path = ROOT, check: bool = False) -> list[str]:
    """Stamp (or, with ``check``, only compare) every notebook and the README; what differs."""
    import nbformat

    cfg = settings(root / "pyproject.toml")
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    missing = sorted(set(cfg["colab"]) - {p.stem for p in notebooks})
    if missing:
        raise SettingError(f"[tool.labkit] colab names notebooks that do not exist: {missing}")
    report = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        changed = stamp_notebook(nb, path.stem, cfg)
        if changed:
            report.append(f"{path.relative_to(root)}: {', '.join(changed)}")
            if not check:
                nbformat.write(nb, path)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if stamp_readme(text, cfg) != text:
        report.append("README.md: Binder badge")
        if not check:
            readme.write_text(stamp_readme(text, cfg), encoding="utf-8")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; list what differs")
    args = parser.parse_args(argv)
    report = run(check=args.check)
    cfg = settings()
    for line in report:
        print(("differs: " if args.check else "stamped: ") + line)
    if not report:
        print(f"every notebook and README.md already point at {cfg['url']} (branch {cfg['branch']})")
    return 1 if (args.check and report) else 0


if __name__ == "__main__":
    sys.exit(main())
