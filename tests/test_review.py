"""labkit.review: Table 1 as data, the systems, criteria, errata and claims, and the lint that keeps
every chapter's "the review's Figure N" faithful to the paper."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit import toolkits
from labkit.review import claims, criteria, errata, idioms, lint, systems, table1
from labkit.review.figures import FIGURES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# --- Table 1 --------------------------------------------------------------------------------------

def test_table1_round_trips_through_csv_json_and_its_printed_form():
    assert table1.from_csv(table1.to_csv()) == table1.ROWS
    assert table1.from_json(table1.to_json()) == table1.ROWS
    assert table1.to_text() == table1.TEXT
    assert table1.parse(table1.to_text()) == table1.ROWS


def test_table1_keeps_the_papers_spellings_and_numbers():
    assert len(table1.ROWS) == 12
    tf = table1.row("TensorFLow")
    assert (tf.framework, tf.key, tf.stars, tf.forks, tf.contributors) == ("TensorFLow", "tensorflow", 4505, 667, 573)
    assert table1.row("keras").stars == table1.row("keras").forks == 10875
    assert table1.row("h2o").language == "java" and table1.row("deeplearning4j").language == "Java"


def test_table1_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="header"):
        table1.parse("Name\tStars\n")
    with pytest.raises(ValueError, match="line 2: expected 5"):
        table1.parse(table1.TEXT.splitlines()[0] + "\ncaffe\t15,057\n")
    with pytest.raises(ValueError, match="whole number"):
        table1.parse(table1.TEXT.replace("15,057", "15.1k"))
    with pytest.raises(ValueError, match="lacks column"):
        table1.from_csv("framework,stars\ncaffe,1\n")
    with pytest.raises(KeyError, match="no row 'cntk'"):
        table1.row("cntk")


def test_anomalies_are_found_by_computation():
    found = table1.anomalies(defined_criteria=criteria.CRITERIA,
                             named_in_text=[(s.key, s.name) for s in systems.SYSTEMS])
    flagged = {(a.key, a.column) for a in found}
    assert ("keras", "Forks") in flagged and ("tensorflow", "Stars") in flagged
    assert ("tensorflow", "Framework") in flagged and ("*", "Github Commits") in flagged
    absent = next(a for a in found if a.column == "Framework" and a.key == "*").what
    for name in ("Theano", "Lasagne", "PyTorch", "CNTK"):
        assert name in absent
    assert "Caffe" not in absent
    # a corrected table loses the copy-error flag: the check reads the data, not a list
    fixed = tuple(r if r.key != "keras" else table1.Row(r.framework, r.key, r.stars, 3000, r.contributors, r.language)
                  for r in table1.ROWS)
    assert ("keras", "Forks") not in {(a.key, a.column) for a in table1.anomalies(fixed)}
    assert table1.cited_anomalies()[0].key == "tensorflow"


# --- systems, criteria, errata, claims ----------------------------------------------------------

def test_every_table1_row_and_every_system_is_accounted_for():
    keys = {s.table1 for s in systems.SYSTEMS if s.table1}
    assert keys == {r.key for r in table1.ROWS}
    for s in systems.SYSTEMS:
        assert s.status in systems.STATUSES, s.key
        assert s.sources and all(url.startswith("http") for url, _ in s.sources), s.key


def test_where_a_system_runs_comes_from_the_registry():
    for s in systems.SYSTEMS:
        chapter = systems.runs_here(s)
        if chapter:      # (that the file exists is tests/test_toolkits.py's check)
            assert chapter == toolkits.TOOLKITS[toolkits.resolve(s.registry)].chapter
    assert systems.runs_here(systems.get("chainer")) == toolkits.TOOLKITS["chainer"].chapter
    assert systems.runs_here(systems.get("cntk")) is None


def test_systems_that_cannot_run_point_to_a_runnable_chapter_and_show_their_idiom():
    for s in systems.SYSTEMS:
        if s.why_not:
            assert systems.runs_here(s) is None, s.key
            teach = systems.teaching_chapter(s)
            assert teach and (ROOT / "notebooks" / teach).is_file(), s.key
            assert idioms.get(s.key).text.strip(), s.key
    for i in idioms.IDIOMS:      # a system that cannot run, or one whose note says what of it is not run
        s = systems.get(i.system)
        assert s.why_not or "not run" in s.note, i.system
        assert "not run" in i.text, i.system


def test_criteria_matrix_says_what_is_not_measurable_and_types_no_measurement():
    m = criteria.matrix()
    assert m.columns[1:] == list(criteria.columns())
    assert len(m.rows) == len(systems.SYSTEMS)
    row = dict(zip(m.columns, m.rows[[r[0] for r in m.rows].index("CNTK")]))
    assert row["Training Speed"] == criteria.NOT_HERE
    assert row["exports to ONNX"] == criteria.NOT_HERE
    assert dict(zip(m.columns, m.rows[0]))["exports to ONNX"] == "run chapter 31 to measure"
    caffe = dict(zip(m.columns, m.rows[0]))
    assert caffe["Training Speed"] == criteria.RUN_40 and caffe["Stars"] == "15,057 (Table 1, 2017)"
    with pytest.raises(ValueError, match="unknown column"):
        criteria.matrix(only=["Beauty"])


def test_measured_cells_come_from_comparison_records(tmp_path):
    """A comparison run's records fill the measured cells (the run here is written by hand to
    test the reading; chapter 40 writes real ones)."""
    from labkit import compare, lenet, records

    common = dict(path=tmp_path, harness=compare.HARNESS, run="r1", protocol="quick", quick=True)
    values = {"train_images_per_s": 1234.0, "time_to_first_result_s": 2.5, "lines_of_code": 42}
    for metric, value in values.items():
        records.record("chainer", metric, value, "x", **common)
    for b in lenet.INFER_BATCHES:
        records.record("chainer", "infer_images_per_s", 100.0 * b, "img/s", batch_size=b, **common)
    records.record("chainer", "gpu_support", False, "", **common)
    run = compare.load_run(tmp_path)
    chainer = systems.get("chainer")
    assert criteria.cell(chainer, "Training Speed", run) == "1,234 img/s"
    assert criteria.cell(chainer, "Development Environment", run) == "2.5 s, 42 lines"
    assert criteria.cell(chainer, "GPU Support", run) == "no GPU seen"
    assert criteria.cell(systems.get("mxnet"), "Training Speed", run) == criteria.RUN_40
    assert "r1" in criteria.run_note(run)


def test_onnx_columns_come_from_chapter_31s_facts():
    """The facts are written by hand here to test the reading; chapter 31 measures real ones."""
    facts = {"pytorch": {"exports to": ["ONNX"], "imports from": ["ONNX"], "notes": []},
             "keras-torch": {"exports to": ["ONNX"], "imports from": [], "notes": []},
             "keras-jax": {"exports to": [], "imports from": [], "notes": ["needs jax2onnx"]},
             "measured": "2026-12-02"}
    assert criteria.cell(systems.get("pytorch"), "exports to ONNX", facts=facts) == "ONNX (chapter 31, 2026-12-02)"
    keras = criteria.cell(systems.get("keras"), "exports to ONNX", facts=facts)
    assert keras.startswith("keras-tensorflow: not tried; keras-torch: ONNX; keras-jax: no"), keras
    assert criteria.cell(systems.get("chainer"), "imports from ONNX", facts=facts).startswith("not tried")
    assert criteria.cell(systems.get("cntk"), "imports from ONNX", facts=facts) == criteria.NOT_HERE


def test_errata_checks_that_read_code():
    assert errata.figure2_returns() is False
    assert errata.figure2_returns(FIGURES[2] + "    return model\n") is True
    assert {e.id for e in errata.ERRATA} >= {"dl4j-author", "dl4j-lua", "torch-c", "figure3-runs",
                                             "table1-keras-forks", "chainer-define-by-run"}
    for e in errata.ERRATA:
        assert e.quote and e.truth and e.sources, e.id


@pytest.mark.slow
def test_figure3_fails_as_printed_and_runs_once_mended():
    trials = errata.figure3_trials()
    assert trials[0][1].startswith("NameError")
    assert "shape" in trials[1][1] and "require grad" in trials[2][1]
    assert trials[-1][1].startswith("runs")


def test_benchmark_verdicts_and_memory_are_computed():
    v = {d["network"]: d["fastest"] for d in claims.benchmark_verdicts()}
    assert v["GoogleNet"] == "TensorFlow" and v["AlexNet"].startswith("tie")
    assert claims.benchmark_summary()["Torch's own kernels faster than Caffe's own"] == "on 0 of 3 networks"
    m = claims.lenet_memory(64)
    assert m["weights_mb"] == pytest.approx(431080 * 4 / 1e6) and m["share_of_6_gb"] < 0.01
    with pytest.raises(ValueError):
        claims.lenet_memory(0)


# --- the lint: "the review's Figure N" must be the paper's code ----------------------------------

def test_the_checker_catches_a_mislabelled_or_altered_figure():
    assert lint.check_cell("# the review's Figure 2, in Keras 3\nmodel = keras.Sequential()\n")
    assert lint.check_cell("x = 1  # Figure 3 of the paper\n")
    assert lint.check_cell("def lenet():\n    pass\n", tags=["review-figure-2"])
    altered = FIGURES[3].replace("torch.ones(1, 20)", "torch.ones(20, 1)")
    assert lint.check_cell(altered, tags=["review-figure-3"])
    with pytest.raises(ValueError, match="Figures"):
        lint.check_cell("x = 1", tags=["review-figure-7"])


def test_the_checker_passes_the_figure_as_printed():
    for n, code in FIGURES.items():
        assert lint.check_cell("import torch  # added\n" + code, tags=[f"review-figure-{n}"]) == []
    assert lint.check_cell("model = build()  # adapted from the 2017 paper's Keras example\n") == []
    assert lint.check_cell("run(tags=(\"lenet\", \"review-figure-2\"))  # which cells to run\n") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_chapter_misquotes_a_figure(path):
    problems = lint.check_notebook(path)
    assert not problems, "\n".join(problems)


def test_no_labkit_module_lists_toolkit_names_here_either():
    """The registry rule, applied to this package (tests/test_toolkits.py checks all of labkit)."""
    import ast

    names = {tk.module for tk in toolkits.TOOLKITS.values()} | set(toolkits.ENTRIES)
    for path in (ROOT / "labkit" / "review").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                hits = {n.value for n in items if isinstance(n, ast.Constant) and n.value in names}
                assert len(hits) < 2, (path.name, node.lineno, hits)
