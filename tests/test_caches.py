"""labkit.compare.caches: each entry's compile-cache environment, and one real cold/warm pair."""
from __future__ import annotations

import pytest

from labkit.compare import caches
from labkit.toolkits import COMPILE_CACHES


def test_cache_env_points_each_cache_the_entry_uses_at_the_folder(monkeypatch):
    monkeypatch.delenv("THEANO_FLAGS", raising=False)
    env, which = caches.cache_env("lasagne", "/tmp/x")
    assert which == ["theano"] and env == {"THEANO_FLAGS": "base_compiledir=/tmp/x/theano"}
    monkeypatch.setenv("THEANO_FLAGS", "floatX=float32")          # a reader's own flags are kept
    assert caches.cache_env("theano", "/tmp/x")[0]["THEANO_FLAGS"] == "floatX=float32,base_compiledir=/tmp/x/theano"
    env, which = caches.cache_env("keras-jax", "/tmp/x")
    assert which == ["jax"] and env["JAX_COMPILATION_CACHE_DIR"] == "/tmp/x/jax"
    assert env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"    # else LeNet's small compiles are skipped
    assert caches.cache_env("chainer", "/tmp/x") == ({}, [])
    with pytest.raises(ValueError, match="unknown toolkit 'nope'"):
        caches.cache_env("nope", "/tmp/x")


def test_every_cache_says_what_a_reader_gets():
    results = {"theano": {"caches": ["theano"]}, "lasagne": {"caches": ["theano"]}, "chainer": {"caches": []}}
    said = caches.what_readers_get(results)
    assert said == [f"theano: {COMPILE_CACHES['theano'].default}."]
    assert all("{dir}" in "".join(c.env.values()) and c.default for c in COMPILE_CACHES.values())


def test_table_from_results():
    got = {"first_logits_s": 5.84, "first_step_s": 8.51}
    t = caches.table({"pytorch": {"caches": ["torch"], "cold": got, "warm": {"name": "pytorch", "error": "x"}}})
    assert t.rows == [["pytorch", "torch", "5.8", "8.5", "failed", "failed"]]


@pytest.mark.slow
def test_pytorch_cold_and_warm_for_real(tmp_path):
    pytest.importorskip("torch")
    out = caches.measure(["pytorch"], threads=1, records=tmp_path, show=lambda m: None)["pytorch"]
    for state in ("cold", "warm"):
        r = out[state]
        assert "error" not in r, r
        assert 0 < r["import_s"] < r["first_logits_s"] < r["first_step_s"] and r["loss"] > 0
