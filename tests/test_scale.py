"""Resolution that scales: structural tests, not timed (speed lives in bench/).

A chain of 20,000 libraries, each requiring the next, must check without
recursion on its depth and in bounded memory (the chains that selected each
library are parent links, expanded only for output), and `why` / `resolve`
must still show the whole chain.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from unilang.cache import MemoryCache
from unilang.driver import Session, check_spec
from unilang.resolve import chain_str
from unilang.report import resolution_json, why_text

from support import bench_gen

DEPTH = 20_000
GiB = 1 << 30


def write_chain(out: Path, n: int) -> Path:
    """The bench's chain world (bench/gen.py): N libraries, each requiring the next."""
    return bench_gen().write_chain(n, out)


def expected_chain(n: int, upto: int) -> tuple[str, ...]:
    out = ["app bench"]
    for i in range(upto + 1):
        out += [f"c{i}", f"lib{i}"]
    return tuple(out)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GiB, GiB))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS"), reason="needs RLIMIT_AS")
def test_deep_chain_checks_in_bounded_memory(tmp_path: Path) -> None:
    """Under 1 GiB of address space (it took 3.2 GB when every library kept its
    chain as a tuple) and with Python's default recursion limit of 1,000."""
    spec = write_chain(tmp_path, DEPTH)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-m", "unilang", "check", str(spec), "-b", "kvm"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ok: app `bench` checks clean for kvm" in proc.stdout


def test_deep_chain_why_and_resolve_show_the_whole_chain(tmp_path: Path) -> None:
    spec = write_chain(tmp_path, DEPTH)
    session, results = check_spec(spec, ["kvm"], Session(cache=MemoryCache()))
    assert not session.sink.has_errors
    res = results[0].resolution
    last = f"lib{DEPTH - 1}"
    assert res.selected[last].chain == expected_chain(DEPTH, DEPTH - 1)
    assert chain_str(res.selected[last].chain).count(" -> ") == 2 * DEPTH
    why = why_text(res, last).splitlines()
    assert why[1] == "  app bench"
    assert len(why) == 2 + 2 * DEPTH
    assert why[-2].startswith(f"    requires c{DEPTH - 1}  (")
    assert why[-1] == f"  {last}  (provides c{DEPTH - 1})"
    # selections compare by the chain they stand for, without recursing on it
    again = check_spec(spec, ["kvm"], Session(cache=MemoryCache()))[1][0].resolution
    assert again.selected[last] == res.selected[last]
    assert again.selected[last] != res.selected[f"lib{DEPTH - 2}"]


def test_resolve_json_chains_of_a_smaller_chain(tmp_path: Path) -> None:
    """`resolve` prints every library's chain: quadratic output by nature, so a
    shallower chain, through the command line."""
    n = 300
    spec = write_chain(tmp_path, n)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-m", "unilang", "resolve", str(spec), "-b", "kvm",
                           "--format", "json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    libs = {lib["name"]: lib["chain"] for lib in json.loads(proc.stdout)["libraries"]}
    for i in (0, 1, n // 2, n - 1):
        assert tuple(libs[f"lib{i}"]) == expected_chain(n, i)
    session, results = check_spec(spec, ["kvm"], Session(cache=MemoryCache()))
    assert resolution_json(results[0].resolution)["libraries"] == json.loads(proc.stdout)["libraries"]
