"""labkit.jvm: finding and checking Java, H2O's server started and stopped with clear errors,
no JVM left behind. (ND4J, DeepLearning4j's array library, is tests/test_nd4j.py's.)

The bad environments (no Java, an old Java) are made with a PATH holding a tiny script that
stands in for `java`: that simulates the machine, not the toolkit. The tests that start a real
JVM are marked slow (each takes 10-30 s on 2 shared cores).
"""
from __future__ import annotations

import shutil
import socket
import stat
from pathlib import Path

import pytest

from labkit import jvm, localserver

JAVA = shutil.which("java")
needs_java = pytest.mark.skipif(JAVA is None, reason="no java on PATH (make system-deps installs it)")


def fake_java(folder: Path, version_text: str) -> Path:
    """A `java` script on a fresh PATH that prints ``version_text`` as `java -version` does (stderr)."""
    script = folder / "java"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{version_text}' >&2\n")     # shell builtins only
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """PATH with nothing but an empty folder, and no JAVA_HOME."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return empty


def test_version_strings():
    assert jvm.parse_java_version('openjdk version "17.0.15" 2025-04-15') == 17
    assert jvm.parse_java_version('java version "1.8.0_412"') == 8
    assert jvm.parse_java_version('openjdk version "21" 2023-09-19') == 21
    with pytest.raises(jvm.UnsupportedJava, match="cannot read a Java version"):
        jvm.parse_java_version("command not found")


def test_no_java_says_what_to_install(bare_path):
    with pytest.raises(jvm.JavaNotFound, match="make system-deps.*openjdk-17-jre-headless"):
        jvm.find_java()
    with pytest.raises(jvm.JavaNotFound, match="no Java found"):
        jvm.H2OServer().start()


def test_java_home_without_java_is_named(bare_path, tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(jvm.JavaNotFound, match=r"JAVA_HOME is .*jdk.*no java executable"):
        jvm.find_java()


@pytest.mark.parametrize("text, major", [('java version "1.7.0_80"', 7), ('openjdk version "21.0.5" 2024-10-15', 21)])
def test_unsupported_java_is_refused_before_anything_starts(bare_path, text, major):
    fake_java(bare_path, text)
    with pytest.raises(jvm.UnsupportedJava, match=rf"is Java {major} .*runs on Java 8 to 17 only"):
        jvm.check_java()
    server = jvm.H2OServer()
    with pytest.raises(jvm.UnsupportedJava):
        server.start()
    assert server.process is None and jvm.java_processes() == []


def test_java_home_wins_over_path(bare_path, tmp_path, monkeypatch):
    fake_java(bare_path, 'openjdk version "21" 2023-09-19')
    home = tmp_path / "jdk17"
    (home / "bin").mkdir(parents=True)
    fake_java(home / "bin", 'openjdk version "17.0.2" 2022-01-18')
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert jvm.check_java().major == 17


def test_bad_arguments_say_what_to_give():
    with pytest.raises(ValueError, match="max_mem=2048: .*'1g' or '512m'"):
        jvm.H2OServer(max_mem=2048)
    with pytest.raises(ValueError, match="max_mem='2 GB'"):
        jvm.H2OServer(max_mem="2 GB")
    with pytest.raises(ValueError, match="nthreads=0"):
        jvm.H2OServer(nthreads=0)


def test_missing_jar_named(monkeypatch, tmp_path):
    monkeypatch.setenv("H2O_JAR_PATH", str(tmp_path / "nope.jar"))
    with pytest.raises(jvm.JVMError, match="H2O_JAR_PATH is .*nope.jar, but no file is there"):
        jvm.h2o_jar()


@needs_java
@pytest.mark.parametrize("taken_offset", [0, 1])
def test_port_taken_is_named(taken_offset):
    """H2O takes the port asked for and the one above it; either taken is refused before Java starts."""
    with socket.socket() as s:
        s.bind((localserver.HOST, 0))
        s.listen()
        port = s.getsockname()[1] - taken_offset
        with pytest.raises(jvm.PortInUse, match=rf"port {port + taken_offset} on 127.0.0.1 is taken"):
            jvm.H2OServer(port=port).start()
    assert jvm.java_processes() == []


@pytest.mark.slow
@needs_java
def test_heap_too_small_says_raise_max_mem():
    server = jvm.H2OServer(max_mem="8m", timeout=60)
    with pytest.raises(jvm.OutOfMemory, match=r"max_mem='8m' .*too small.*Raise max_mem.*OutOfMemoryError"):
        server.start()
    assert not server.running and jvm.java_processes() == []


@pytest.mark.slow
@needs_java
def test_server_starts_answers_and_leaves_no_jvm_even_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with jvm.H2OServer(max_mem="512m", nthreads=1) as server:
            assert server.running and server.answers()
            (java,) = jvm.java_processes()
            assert java.pid == server.process.pid
            h2o = server.connect()
            assert h2o.cluster().version.startswith("3.46")
            1 / 0                                            # a failing cell
    assert not server.running and jvm.java_processes() == []
    assert not java.is_running() or java.status() == "zombie"
    server.stop()                                             # twice is fine
