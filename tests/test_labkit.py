"""The package's shape, as CONTRIBUTING.md promises it: a light ``import labkit``, small modules,
no import circles, no private name imported across modules."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from labkit import toolkits

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "labkit"
MAX_LINES = 375          # "about 350": a module past this wants splitting


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


GENERATED = "labkit.caffe.caffe_pb2"      # follows protoc's rules, not ours


def _imports(path: Path, name: str, modules: dict, top_level_only: bool):
    """(module imported, names imported from it) for each labkit import in ``path``."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("labkit"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full, []) if full in modules else (base, [alias.name])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("labkit"):
                    yield alias.name, []


def test_no_import_circle():
    modules = _modules()
    graph = {m: {t for t, _ in _imports(p, m, modules, top_level_only=True) if t in modules and t != m}
             for m, p in modules.items()}
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_name_is_imported_across_modules():
    modules = _modules()
    offenders = []
    for m, path in modules.items():
        if m == GENERATED:
            continue
        for target, names in _imports(path, m, modules, top_level_only=False):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != m:
                offenders.append(f"{path.relative_to(ROOT)} imports {private} from {target}")
    assert not offenders, offenders


def test_modules_stay_small():
    big = {str(p.relative_to(ROOT)): n for m, p in _modules().items()
           if m != GENERATED and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by concern): {big}"


def test_importing_labkit_modules_imports_no_toolkit():
    heavy = [*toolkits.modules(), "matplotlib", "ipywidgets", "IPython"]
    code = ("import sys, labkit, labkit.device, labkit.timing, labkit.records, labkit.toolkits, labkit.machine, "
            "labkit.plots, labkit.compare, labkit.data, labkit.chapters; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
