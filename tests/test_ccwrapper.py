"""`CC` may put a compiler wrapper (ccache, distcc) in front of the compiler
(docs/build.md, "Compiler wrappers"): split without a shell, every program
checked (U0228), the wrapper in build.ninja and in the up-to-date key, and the
image the same bytes with and without it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import ROOT, needs_tools, unilang
from unilang.ccenv import CCProblem, compiler
from unilang.fresh import up_to_date_build

HELLO = ROOT / "examples" / "hello" / "hello.uni"
needs_ccache = pytest.mark.skipif(shutil.which("ccache") is None,
                                  reason="ccache is needed (Debian: apt-get install ccache)")


def _stats(env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(["ccache", "--print-stats"], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return {k: int(v) for k, v in (line.split("\t") for line in out.splitlines() if "\t" in line)}


def test_cc_is_split_into_programs_without_a_shell(tmp_path: Path) -> None:
    gcc = os.path.realpath(shutil.which("gcc") or "/nonexistent")
    assert compiler({}) is None and compiler({"CC": "  "}) is None
    assert compiler({"CC": "gcc"}) == ((), gcc)
    tool = tmp_path / "my wrapper"
    tool.write_text("#!/bin/sh\nexec \"$@\"\n")
    tool.chmod(0o755)
    assert compiler({"CC": f"'{tool}' gcc"}) == ((str(tool),), gcc)
    for cc, message in [
            ("nope-cc-wrapper gcc", "`CC=nope-cc-wrapper gcc` names `nope-cc-wrapper`, which is "
                                    "not found on PATH"),
            ("gcc -m64", "`CC=gcc -m64` holds the option `-m64`; unilang passes its own "
                         "compiler flags"),
            ("'gcc", "`CC='gcc` cannot be split into words: No closing quotation"),
            ("./missing/gcc", "`CC=./missing/gcc` names `./missing/gcc`, which is not an "
                              "executable file"),
            ("gcc; rm -rf x", "`CC=gcc; rm -rf x` names `gcc;`, which is not found on PATH")]:
        with pytest.raises(CCProblem) as exc:
            compiler({"CC": cc})
        assert exc.value.message == message


@needs_tools
def test_a_cc_that_cannot_be_used_stops_the_build_before_it_writes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, CC="ccache-not-installed gcc")
    r = unilang("build", str(HELLO), "-o", str(out), env=env)
    assert r.returncode == 1
    assert "error[U0228]: `CC=ccache-not-installed gcc` names `ccache-not-installed`, which " \
           "is not found on PATH" in r.stderr
    assert '= help: `CC` names programs only: a compiler, optionally after wrappers, e.g. ' \
           '`CC=gcc`, `CC="ccache gcc"` or `CC="distcc gcc"`' in r.stderr
    assert list(tmp_path.iterdir()) == []


@needs_tools
@needs_ccache
def test_ccache_hits_the_second_time_and_the_image_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain, first, second = tmp_path / "plain", tmp_path / "first", tmp_path / "second"
    assert unilang("build", str(HELLO), "-o", str(plain)).returncode == 0
    env = dict(os.environ, CC="ccache gcc", CCACHE_DIR=str(tmp_path / "ccache"))
    env.pop("CCACHE_DISABLE", None)
    r = unilang("build", str(HELLO), "-o", str(first), env=env)
    assert r.returncode == 0, r.stderr
    compiled = r.stderr.count(" CC ")
    assert compiled == 7
    ccache, gcc = shutil.which("ccache"), os.path.realpath(shutil.which("gcc") or "")
    assert f"\ncc = {ccache} {gcc}\n" in (first / "build.ninja").read_text()
    assert f"\ncc = {gcc}\n" in (plain / "build.ninja").read_text()
    stats = _stats(env)
    assert stats["cache_miss"] == compiled and stats["direct_cache_hit"] == 0
    subprocess.run(["ccache", "--zero-stats"], env=env, check=True, capture_output=True)
    # a second, clean output directory (another work tree): every object from the cache
    r = unilang("build", str(HELLO), "-o", str(second), env=env)
    assert r.returncode == 0 and r.stderr.count(" CC ") == compiled, r.stderr
    stats = _stats(env)
    assert (stats["direct_cache_hit"] + stats["preprocessed_cache_hit"], stats["cache_miss"]) \
        == (compiled, 0), stats
    for d in (first, second):
        for name in ("hello.elf", "hello.debug.elf", "manifest.json", "qemu.json"):
            assert (d / name).read_bytes() == (plain / name).read_bytes(), (d, name)
    # the wrapper is part of the up-to-date key: without it, plain's record holds, not first's
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CC", "ccache gcc")
    assert up_to_date_build([str(HELLO), "-o", str(first)])
    assert not up_to_date_build([str(HELLO), "-o", str(plain)])
    monkeypatch.delenv("CC")
    assert up_to_date_build([str(HELLO), "-o", str(plain)])
    assert not up_to_date_build([str(HELLO), "-o", str(first)])
