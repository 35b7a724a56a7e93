"""labkit.settings: its table of variables is well-formed reST and lists every variable it reads."""
import ast
import inspect
import re

from labkit import settings


def _table_rows():
    """The docstring parsed by docutils: (problems it reported, the rows of its one table)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    tree = publish_doctree(settings.__doc__, settings_overrides={"report_level": 5, "halt_level": 5})
    problems = [m.astext() for m in tree.findall(nodes.system_message)]
    tables = list(tree.findall(nodes.table))
    rows = [[entry.astext() for entry in row.findall(nodes.entry)] for t in tables for row in t.findall(nodes.row)]
    return problems, tables, rows


def test_the_variables_table_is_well_formed():
    problems, tables, rows = _table_rows()
    assert not problems, problems
    assert len(tables) == 1 and rows[0] == ["variable", "meaning"]
    assert all(len(row) == 2 and re.fullmatch(r"LABKIT_[A-Z_]+", row[0]) for row in rows[1:]), rows


def test_every_variable_the_module_reads_is_in_the_table():
    tree = ast.parse(inspect.getsource(settings))
    read = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and re.fullmatch(r"LABKIT_[A-Z_]+", node.value)}
    _, _, rows = _table_rows()
    listed = {row[0] for row in rows[1:]}
    assert read and read <= listed, sorted(read - listed)
    assert len(listed) == len(rows) - 1, "a variable is listed twice"
