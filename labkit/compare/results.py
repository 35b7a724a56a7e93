"""From run records to what a reader sees: the results, the review's criteria, the agreement
matrix, achieved GFLOP/s against the CPU's peak, and a chart. Every figure comes from the
records (``load_run``), never typed in.
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit import lenet, tables
from labkit.compare.protocol import HARNESS
from labkit.machine import peak_gflops
from labkit.toolkits import ENTRIES

_B = lenet.INFER_BATCHES                    # inference batches, smallest first: (1, 256)
_TRAIN_B = lenet.FULL.batch_size            # the Recipe's training batch (64)
_INFER = [f"infer_images_per_s@{b}" for b in _B]


@dataclass
class Run:
    """One comparison run, rebuilt from its records."""

    id: str
    protocol: str
    records: list
    values: dict          # toolkit -> metric (or metric@batch) -> value
    extra: dict           # toolkit -> metric -> the whole record
    pairs: dict           # (a, b) -> {"logits": .., "step": ..}
    failed: dict
    missing: list

    @property
    def toolkits(self) -> list[str]:
        return [n for n in ENTRIES if n in self.values] + [n for n in self.values if n not in ENTRIES]


def load_run(path=None, run: str | None = None) -> Run:
    """The records of comparison run ``run`` (default: the latest) as a ``Run``."""
    from labkit.records import read_records, records_path

    recs = read_records(path, harness=HARNESS)
    if not recs:
        raise LookupError(f"no comparison records in {records_path(path)}; run "
                          "`python -m labkit compare --quick` (or compare.run()) first")
    run = run or recs[-1]["run"]
    recs = [r for r in recs if r.get("run") == run]
    if not recs:
        raise LookupError(f"no records of comparison run {run!r} in {records_path(path)}")
    values, extra, pairs, failed, missing = {}, {}, {}, {}, []
    for r in recs:
        metric, tk = r["metric"], r["toolkit"]
        if metric.startswith("agreement_"):
            kind = metric.split("_")[1]
            pairs.setdefault((tk, r["other"]), {})[kind] = r["value"]
        elif metric == "failed":
            failed[tk] = r.get("error", "")
        elif metric == "not_installed":
            missing.append(tk)
        else:
            key = f"{metric}@{r['batch_size']}" if metric == "infer_images_per_s" else metric
            values.setdefault(tk, {})[key] = r["value"]
            extra.setdefault(tk, {})[key] = r
    return Run(run, recs[0]["protocol"], recs, values, extra, pairs, failed, missing)


_fmt = tables.num


def _table(columns, rows) -> tables.Table:
    return tables.Table(list(columns), [[str(c) for c in row] for row in rows])


def _versions_text(tk: str, versions: dict, names: bool = True) -> str:
    """The versions that matter for ``tk`` (its own, and a Keras backend's), in that order."""
    shown = ENTRIES[tk].shown if tk in ENTRIES else (tk,)
    return (", " if names else " / ").join((f"{m} " if names else "") + str(versions.get(m, "?")) for m in shown)


def device_of(r: Run, tk: str) -> str:
    """Where row ``tk`` trained, as its records say: 'cpu' or 'gpu: NAME' (older records: 'cpu')."""
    return str(r.extra[tk]["train_images_per_s"].get("device") or "cpu")


def results_table(r: Run):
    """Every measured figure, one row per toolkit. When any row ran on a GPU, four columns
    more: the device, training and batch-256 inference images/s of the GPU rows, and their
    peak GPU memory (``gpu_peak_memory_mib``; "not recorded" where a run kept none)."""
    gpu = any(device_of(r, tk).startswith("gpu") for tk in r.toolkits)
    cols = ["toolkit", "version", "train img/s", *(f"infer img/s b{b}" for b in _B), "first result s",
            "peak MiB", "test acc", "LeNet lines", "installed MB", "GPU here"]
    if gpu:
        cols += ["device", "GPU train img/s", f"GPU infer img/s b{_B[-1]}", "GPU peak MiB"]
    rows = []
    for tk in r.toolkits:
        v, e = r.values[tk], r.extra[tk]
        vers = e["train_images_per_s"]["versions"]
        rows.append([tk, _versions_text(tk, vers, names=False), _fmt(v["train_images_per_s"]),
                     *(_fmt(v[k]) for k in _INFER), _fmt(v["time_to_first_result_s"]),
                     _fmt(v["peak_memory_mib"]), f"{v['test_accuracy']:.3f}", int(v["lines_of_code"]),
                     _fmt(v["installed_mb"]), "yes" if v["gpu_support"] else "no"])
        if gpu and device_of(r, tk).startswith("gpu"):
            peak = v.get("gpu_peak_memory_mib")
            rows[-1] += [device_of(r, tk), _fmt(v["train_images_per_s"]), _fmt(v[_INFER[-1]]),
                         "not recorded" if peak is None else _fmt(peak)]
        elif gpu:
            rows[-1] += [device_of(r, tk), "-", "-", "-"]
    for tk, err in r.failed.items():
        rows.append([tk, "FAILED", err.splitlines()[0][:60]] + [""] * (len(cols) - 3))
    for tk in r.missing:
        rows.append([tk, "not installed"] + [""] * (len(cols) - 2))
    return _table(cols, rows)


#: The review's criteria, and what today's run can put in each (None: not measurable here).
CRITERIA = {
    "language": "share of installed bytes: Python source / native code",
    "documentation": None,
    "development environment": "time to first result; lines of its LeNet",
    "execution speed": "inference img/s, batch " + " / ".join(map(str, _B)),
    "training speed": f"training img/s, batch {_TRAIN_B}",
    "GPU support": "labkit.device in the child",
    "maturity": "version installed (release history is not measured)",
    "model library": "package a reader reaches for, installed here?",
}


def criteria_table(r: Run):
    """The review's criteria as columns, one row per toolkit, measured cells filled from the run.

    The review's Table 1 figures (GitHub stars, forks, contributors in 2017) are not
    reproduced: see the chapter for why."""
    cols = ["toolkit", *CRITERIA]
    rows = []
    for tk in r.toolkits:
        v, e = r.values[tk], r.extra[tk]
        size = e["installed_mb"]
        vers = e["train_images_per_s"]["versions"]
        rows.append([
            tk,
            (f"{size['language']} {size['script_mb']:.1f} MB / native {size['native_mb']:.0f} MB (its runtime)"
             if "language" in size
             else f"Python {size['python_mb']:.0f} MB / native {size['native_mb']:.0f} MB"),
            "not measured",
            f"{_fmt(v['time_to_first_result_s'])} s; {int(v['lines_of_code'])} lines",
            " / ".join(_fmt(v[k]) for k in _INFER),
            _fmt(v["train_images_per_s"]),
            ("yes: " + ", ".join(e["gpu_support"]["gpu_devices"])) if v["gpu_support"]
            else f"no GPU seen ({e['gpu_support'].get('device_notes') or 'CPU'})",
            _versions_text(tk, vers),
            e["gpu_support"].get("model_library", ""),
        ])
    return _table(cols, rows)


def agreement_table(r: Run, kind: str = "logits"):
    """The pairwise matrix: largest |difference| of probe logits (``kind='logits'``) or of
    parameters after one SGD step (``'step'``), every toolkit against every other."""
    names = ["numpy-reference"] + [t for t in r.toolkits]
    rows = []
    for a in names:
        row = [a]
        for b in names:
            if a == b:
                row.append("0")
            else:
                d = r.pairs.get((a, b)) or r.pairs.get((b, a))
                row.append("-" if d is None else f"{d[kind]:.1e}")
        rows.append(row)
    return _table(["", *names], rows)


def agreement_worst(r: Run) -> dict:
    """The largest pairwise difference of each kind in the run."""
    return {kind: max((d[kind] for d in r.pairs.values()), default=float("nan")) for kind in ("logits", "step")}


def physics_table(r: Run, peak: dict | None = None):
    """FLOPs per image and each toolkit's achieved GFLOP/s as a share of the estimated peak."""
    peak = peak or peak_gflops()
    f = lenet.flops_per_image()
    cols = ["toolkit", "train GFLOP/s", "share of peak", f"infer b{_B[-1]} GFLOP/s", "share of peak"]
    rows = []
    for tk in r.toolkits:
        v = r.values[tk]
        tr = v["train_images_per_s"] * f["train_step"] / 1e9
        inf = v[_INFER[-1]] * f["forward"] / 1e9
        share = (lambda g: f"{100 * g / peak['gflops']:.1f}%") if peak["gflops"] else (lambda g: "-")
        rows.append([tk, f"{tr:.2f}", share(tr), f"{inf:.2f}", share(inf)])
    return _table(cols, rows)


def plot(r: Run):
    """Training and inference images/s per toolkit, as a matplotlib Figure (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = r.toolkits
    fig = Figure(figsize=(10, 3.2))
    FigureCanvasAgg(fig)
    keys = ["train_images_per_s", *_INFER]
    titles = [f"training, batch {_TRAIN_B}", *(f"inference, batch {b}" for b in _B)]
    axes = fig.subplots(1, len(keys))
    for ax, key, title in zip(axes, keys, titles):
        vals = [r.values[n][key] for n in names]
        ax.barh(names, vals, color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("images/s")
        ax.grid(axis="x", alpha=0.3)
        if ax is not axes[0]:
            ax.set_yticklabels([])
    fig.suptitle(f"LeNet, {r.protocol} protocol, run {r.id}", fontsize=10)
    fig.tight_layout()
    return fig


