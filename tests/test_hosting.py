"""labkit.hosting: Binder found from the environment, the memory limit from the cgroup files
(tmp files standing in for /sys/fs/cgroup) and MEM_LIMIT, and the choice of a chapter's
lighter default."""
from __future__ import annotations

import pytest

from labkit import hosting

MiB = 2**20
BINDER = {"BINDER_REQUEST": "v2/gh/labkit-workbook/dl-toolkits-workbook/HEAD",
          "BINDER_REPO_URL": "https://github.com/labkit-workbook/dl-toolkits-workbook"}


def cgroup(tmp_path, v2: str | None = None, v1: str | None = None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    if v2 is not None:
        (tmp_path / "memory.max").write_text(v2 + "\n")
    if v1 is not None:
        (tmp_path / "memory").mkdir()
        (tmp_path / "memory" / "memory.limit_in_bytes").write_text(v1 + "\n")
    return tmp_path


def test_binder_is_found_from_any_of_binderhubs_variables(tmp_path):
    for name in hosting.BINDER_VARIABLES:
        host = hosting.detect({name: "x"}, cgroup(tmp_path / name))
        assert host.binder and host.why == f"{name} is set"
    assert not hosting.detect({"JUPYTERHUB_USER": "jovyan", "BINDER_REQUEST": " "}, tmp_path).binder


def test_a_cgroup_v2_limit_is_read_and_max_means_none(tmp_path):
    host = hosting.detect(BINDER, cgroup(tmp_path / "a", v2=str(2048 * MiB)))
    assert (host.limit, host.limit_source) == (2048 * MiB, str(tmp_path / "a" / "memory.max"))
    assert hosting.memory_limit({}, cgroup(tmp_path / "b", v2="max")) == (None, "none found")


def test_a_cgroup_v1_limit_is_read_and_its_huge_number_means_none(tmp_path):
    assert hosting.memory_limit({}, cgroup(tmp_path / "a", v1=str(1536 * MiB)))[0] == 1536 * MiB
    assert hosting.memory_limit({}, cgroup(tmp_path / "b", v1="9223372036854771712"))[0] is None


def test_the_smallest_limit_wins_and_mem_limit_counts(tmp_path):
    root = cgroup(tmp_path, v2=str(4096 * MiB))
    assert hosting.memory_limit({"MEM_LIMIT": str(2000 * MiB)}, root) == (2000 * MiB, "MEM_LIMIT")
    assert hosting.memory_limit({"MEM_LIMIT": str(8000 * MiB)}, root)[0] == 4096 * MiB


def test_a_machine_with_no_limit(tmp_path):
    host = hosting.detect({}, tmp_path / "no-such-folder")
    assert (host.binder, host.limit) == (False, None)
    plan = hosting.plan(3444, "fewer epochs", host, quick=False)
    assert not plan.lighter and plan.line.startswith("Full mode") and "no memory limit found" in plan.line


def test_binder_without_a_readable_limit_assumes_two_gigabytes(tmp_path):
    host = hosting.detect(BINDER, tmp_path)
    assert host.limit == hosting.BINDER_ASSUMED_LIMIT and "assumed" in host.limit_source


def test_labkit_binder_forces_the_profile_either_way(tmp_path):
    forced = hosting.detect({"LABKIT_BINDER": "1"}, tmp_path)
    assert forced.binder and forced.why == "LABKIT_BINDER=1" and forced.limit == hosting.BINDER_ASSUMED_LIMIT
    assert not hosting.detect({**BINDER, "LABKIT_BINDER": "off"}, tmp_path).binder
    with pytest.raises(ValueError, match="LABKIT_BINDER='maybe': use 1 .* 0 .* or unset it"):
        hosting.detect({"LABKIT_BINDER": "maybe"}, tmp_path)


def test_a_bad_limit_is_named_with_its_source(tmp_path):
    with pytest.raises(ValueError, match=r"memory\.max holds '2G', not a number of bytes or 'max'"):
        hosting.memory_limit({}, cgroup(tmp_path, v2="2G"))
    with pytest.raises(ValueError, match="MEM_LIMIT says the memory limit is -1 bytes"):
        hosting.memory_limit({"MEM_LIMIT": "-1"}, tmp_path / "none")


def test_a_chapter_over_the_limit_takes_its_lighter_default_on_binder_only(tmp_path):
    small = cgroup(tmp_path / "s", v2=str(2048 * MiB))
    on_binder = hosting.plan(3444, "2 epochs instead of 10", hosting.detect(BINDER, small), quick=False)
    assert on_binder.lighter
    assert "Lighter default" in on_binder.line and "2 epochs instead of 10" in on_binder.line
    assert "3,444 MiB" in on_binder.line and "2,048 MiB" in on_binder.line and "LABKIT_BINDER=0" in on_binder.line
    fits = hosting.plan(1100, "x", hosting.detect(BINDER, small), quick=False)
    assert not fits.lighter and fits.line.startswith("Full mode")
    near = hosting.plan(1900, "x", hosting.detect(BINDER, small), quick=False)   # 1900 + BESIDE_MIB > 2048
    assert near.lighter
    elsewhere = hosting.plan(3444, "x", hosting.detect({}, small), quick=False)
    assert not elsewhere.lighter and "may be killed" in elsewhere.line
    assert not hosting.plan(3444, "x", hosting.detect(BINDER, small), quick=True).lighter


def test_plan_refuses_a_missing_peak_or_description(tmp_path):
    host = hosting.detect({}, tmp_path)
    with pytest.raises(ValueError, match="measured peak in MiB"):
        hosting.plan(0, "x", host)
    with pytest.raises(ValueError, match="say what the lighter default changes"):
        hosting.plan(100, " ", host)


def test_a_skipped_demonstration_says_what_and_how_to_run_it_anyway(tmp_path):
    plan = hosting.plan(3444, "x", hosting.detect(BINDER, tmp_path), quick=False)
    line = plan.skipped("the TensorBoard server")
    assert "the TensorBoard server" in line and "%env LABKIT_BINDER=0" in line
