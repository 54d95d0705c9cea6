"""Many specs in one build: `unilang build A.uni B.uni -b kvm,xen` (docs/build.md,
"Many specs in one build").  One ninja graph for every output, each output where
a single build puts it and byte-identical to it, a failure reported without
hiding the others' results, the early up-to-date path for the whole set, and
repeated specs and backends diagnosed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from support import ROOT, needs_tools, unilang
from unilang.cliargs import parse
from unilang.fresh import up_to_date_build

HELLO = ROOT / "examples" / "hello"


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _app(parent: Path, name: str = "tiny", body: str = "return 0;") -> Path:
    """A small app whose message comes from a header beside its source; its spec."""
    app = parent / name
    app.mkdir(parents=True)
    (app / f"{name}.uni").write_text(f'app {name} {{\n    sources = ["main.c"];\n'
                                     '    requires = [console.lines];\n    memory = 16 MiB;\n}\n')
    (app / "main.c").write_text('#include <unilang/runtime.h>\n#include "msg.h"\n'
                                f"int main(void) {{ unilang_puts(MSG); {body} }}\n")
    (app / "msg.h").write_text('#define MSG "v0"\n')
    return app / f"{name}.uni"


def _project(tmp_path: Path) -> tuple[Path, Path]:
    """hello (copied) and tiny side by side in tmp_path/src; their specs."""
    src = tmp_path / "src"
    shutil.copytree(HELLO, src / "hello")
    return src / "hello" / "hello.uni", _app(src)


def _status_lines(stderr: str) -> list[tuple[int, int, str]]:
    return [(int(m[1]), int(m[2]), m[3]) for m in re.finditer(r"^\[(\d+)/(\d+)\] (.*)$",
                                                               stderr, re.M)]


def test_the_command_line_of_a_set_parses_as_click_does() -> None:
    p = parse("build", ["a.uni", "b.uni", "-b", "kvm,XEN", "-j", "3", "-o", "out"])
    assert p is not None
    assert (p["spec"], p["specs"], p["backend"], p["outdir"], p["jobs"]) == \
        ("a.uni", ("a.uni", "b.uni"), ("kvm", "xen"), "out", 3)
    p = parse("build", ["a.uni", "-b", "kvm", "--backend=xen"])
    assert p is not None and p["backend"] == ("kvm", "xen") and p["jobs"] is None
    p = parse("build", ["a.uni"])
    assert p is not None and p["specs"] == ("a.uni",) and p["backend"] == ("kvm",)
    for bad in (["a.uni", "-b", "kvm,qemu"], ["a.uni", "-b", ""], ["a.uni", "-j", "0"],
                ["a.uni", "-j", "x"], ["a.uni", "-j"], ["-b", "kvm"]):
        assert parse("build", bad) is None, bad
    assert parse("run", ["a.uni", "b.uni"]) is None  # run still takes one spec


@needs_tools
def test_a_set_builds_every_output_where_and_as_a_single_build_does(tmp_path: Path) -> None:
    hello, tiny = _project(tmp_path)
    one, each = tmp_path / "one", tmp_path / "each"
    one.mkdir()
    each.mkdir()
    r = unilang("build", str(hello), str(tiny), "-b", "kvm,xen", cwd=one)
    assert r.returncode == 0, r.stderr
    # one progress display: every step of the four outputs counted against one total
    lines = _status_lines(r.stderr)
    totals = {t for _n, t, _d in lines}
    assert len(totals) == 1 and [n for n, _t, _d in lines] == list(range(1, len(lines) + 1))
    labels = {d.split()[1] for _n, _t, d in lines}
    assert labels == {"hello/kvm", "hello/xen", "tiny/kvm", "tiny/xen"}
    assert r.stderr.count("LD ") == 4
    assert r.stderr.splitlines()[-4:] == [
        f"built: build/{a}/{b}/{a}.elf ({json.loads((one / 'build' / a / b / 'manifest.json').read_text())['size']} bytes, "
        f"{n} libraries)" for a, n in (("hello", 4), ("tiny", 4)) for b in ("kvm", "xen")]
    # the graph lives beside the outputs, in the root's own folder
    assert (one / "build" / ".unilang-set.work" / "build.ninja").is_file()
    for spec in (hello, tiny):
        for backend in ("kvm", "xen"):
            s = unilang("build", str(spec), "-b", backend, cwd=each)
            assert s.returncode == 0, s.stderr
    for app in ("hello", "tiny"):
        for backend in ("kvm", "xen"):
            got, want = one / "build" / app / backend, each / "build" / app / backend
            assert _tree(got) == _tree(want), f"{app}/{backend}"
            assert (got / f"{app}.elf").stat().st_mode & 0o777 == 0o755


@needs_tools
def test_with_o_a_set_goes_to_dir_app_backend_and_is_up_to_date_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hello, tiny = _project(tmp_path)
    root = tmp_path / "all"
    args = [str(hello), str(tiny), "-b", "kvm,xen", "-o", str(root)]
    r = unilang("build", *args, "-j", "2")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in root.iterdir()) == [".unilang-set.lock", ".unilang-set.work",
                                                      "hello", "tiny"]
    for app in ("hello", "tiny"):
        for backend in ("kvm", "xen"):
            m = json.loads((root / app / backend / "manifest.json").read_text())
            assert (m["app"], m["backend"]) == (app, backend)
    # the early path (no CLI, no compiler loaded) answers for the whole set
    monkeypatch.chdir(ROOT)
    assert up_to_date_build(args)
    r = unilang("build", *args)
    assert r.returncode == 0 and " CC " not in r.stderr and "[" not in r.stderr, r.stderr
    assert r.stderr.count("up to date: ") == 4
    # one header of one app changes: only that app's outputs rebuild, in one graph
    (tiny.parent / "msg.h").write_text('#define MSG "v1"\n')
    assert not up_to_date_build(args)
    before = {b: (root / "hello" / b / "hello.elf").stat().st_mtime_ns for b in ("kvm", "xen")}
    r = unilang("build", *args)
    assert r.returncode == 0, r.stderr
    assert "CC tiny/kvm src/app/main.c" in r.stderr and "CC tiny/xen src/app/main.c" in r.stderr
    assert "hello/" not in "".join(d for _n, _t, d in _status_lines(r.stderr))
    assert "up to date: " + str(root / "hello" / "kvm" / "hello.elf") in r.stderr
    assert {b: (root / "hello" / b / "hello.elf").stat().st_mtime_ns
            for b in ("kvm", "xen")} == before
    for backend in ("kvm", "xen"):
        assert b"v1" in (root / "tiny" / backend / "tiny.elf").read_bytes()
    assert up_to_date_build(args)


@needs_tools
def test_single_builds_and_a_set_share_their_up_to_date_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hello, tiny = _project(tmp_path)
    for spec in (hello, tiny):
        assert unilang("build", str(spec), "-b", "kvm", cwd=tmp_path).returncode == 0
    monkeypatch.chdir(tmp_path)
    assert up_to_date_build([str(hello), str(tiny), "-b", "kvm"])
    assert not up_to_date_build([str(hello), str(tiny), "-b", "kvm,xen"])
    r = unilang("build", str(hello), str(tiny), "-b", "kvm,xen", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert {d.split()[1] for _n, _t, d in _status_lines(r.stderr)} == {"hello/xen", "tiny/xen"}
    assert up_to_date_build([str(tiny), "-b", "xen"])


@needs_tools
def test_a_failing_spec_among_good_ones(tmp_path: Path) -> None:
    hello, tiny = _project(tmp_path)
    bad = _app(tmp_path / "src", "bad")
    broken = tmp_path / "src" / "broken.uni"
    broken.write_text("app broken {\n    memory = 16 MiB\n}\n")  # a syntax error
    # an image that links but does not fit its memory: a failure after the graph
    big = _app(tmp_path / "src", "big", "static volatile char buf[6 << 20]; buf[0] = 1; "
               "return buf[1];")
    big.write_text(big.read_text().replace("16 MiB", "4 MiB"))
    root = tmp_path / "all"
    # a good build of `bad` first: its outputs must survive the failed one
    assert unilang("build", str(bad), "-b", "kvm,xen", "-o", str(root)).returncode == 0
    kept = {b: _tree(root / "bad" / b) for b in ("kvm", "xen")}
    (bad.parent / "main.c").write_text("int main(void) { return nope; }\n")
    r = unilang("build", str(hello), str(bad), str(broken), str(tiny), str(big), "-b",
                "kvm,xen", "-o", str(root))
    assert r.returncode == 1
    assert r.stderr.count("error[U0208]: `memory = 4 MiB` is smaller than the image's "
                          "footprint") == 2
    assert "[backend kvm]" in r.stderr and "[backend xen]" in r.stderr
    assert not (root / "big" / "kvm").exists() and not (root / "big" / "xen").exists()
    for backend in ("kvm", "xen"):
        assert f"error[U0201]: building the {backend} image of `bad` failed" in r.stderr
    assert "error: 'nope' undeclared" in r.stderr.replace("\u2018", "'").replace("\u2019", "'")
    assert "error[U0010]" in r.stderr and "broken.uni:3:1" in r.stderr
    tail = r.stderr.splitlines()[-10:]
    assert tail[2:6] == [f"failed: {bad} for kvm", f"failed: {bad} for xen",
                         f"failed: {broken} for kvm", f"failed: {broken} for xen"]
    assert tail[0].startswith(f"built: {root}/hello/kvm/hello.elf (")
    assert tail[7].startswith(f"built: {root}/tiny/xen/tiny.elf (")
    assert tail[8:] == [f"failed: {big} for kvm", f"failed: {big} for xen"]
    # the others are published and complete; the failed ones are untouched
    for app in ("hello", "tiny"):
        for backend in ("kvm", "xen"):
            m = json.loads((root / app / backend / "manifest.json").read_text())
            assert m["backend"] == backend and (root / app / backend / f"{app}.elf").is_file()
    assert {b: _tree(root / "bad" / b) for b in ("kvm", "xen")} == kept
    assert not (root / "broken").exists()


@needs_tools
def test_repeated_specs_and_backends_are_built_once(tmp_path: Path) -> None:
    hello, tiny = _project(tmp_path)
    spelled = tmp_path / "src" / "hello" / ".." / "hello" / "hello.uni"
    r = unilang("build", str(hello), str(spelled), "-b", "kvm,KVM", "-b", "kvm", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"warning[U0229]: `{spelled}` is given more than once (the same file as " \
           f"`{hello}`); it is built once" in r.stderr
    assert r.stderr.count("warning[U0229]: backend `kvm` is given more than once; each app is "
                          "built once for it") == 1
    # what is left is one spec for one backend: a single build, to its usual place
    assert r.stderr.count("LD ") == 1 and "LD hello.elf" in r.stderr
    assert r.stderr.splitlines()[-1].startswith("built: build/hello/kvm/hello.elf (")
    # two specs declaring the same app would write one output: the second is refused
    twin = tmp_path / "twin"
    shutil.copytree(HELLO, twin)
    r = unilang("build", str(hello), str(twin / "hello.uni"), str(tiny), "-b", "xen",
                cwd=tmp_path)
    assert r.returncode == 1
    assert f"error[U0227]: `{twin / 'hello.uni'}` and `{hello}` both declare app `hello`; " \
           f"only `{hello}` is built" in r.stderr
    assert "built: build/hello/xen/hello.elf" in r.stderr
    assert "built: build/tiny/xen/tiny.elf" in r.stderr
    assert f"failed: {twin / 'hello.uni'} for xen" in r.stderr


@needs_tools
def test_the_root_of_a_set_is_not_an_output_directory(tmp_path: Path) -> None:
    hello, tiny = _project(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(hello), "-o", str(out)).returncode == 0
    before = _tree(out)
    r = unilang("build", str(hello), str(tiny), "-o", str(out))
    assert r.returncode == 1
    assert f"error[U0230]: `{out}` is the output directory of a single build" in r.stderr
    assert _tree(out) == before


@needs_tools
def test_a_set_under_paths_with_spaces_quotes_dollars_hashes(tmp_path: Path) -> None:
    weird = "we ird 'q\"$x#\u00e9:"
    hello, tiny = _project(tmp_path / weird)
    root = tmp_path / f"o ut $y #'\u00fc\"" / "all"
    r = unilang("build", str(hello), str(tiny), "-b", "kvm,xen", "-o", str(root))
    assert r.returncode == 0, r.stderr
    plain = tmp_path / "plain"
    r = unilang("build", str(hello), "-b", "xen", "-o", str(plain))
    assert r.returncode == 0, r.stderr
    assert _tree(root / "hello" / "xen") == _tree(plain)
    assert "up to date: " in unilang("build", str(hello), str(tiny), "-b", "kvm,xen", "-o",
                                     str(root)).stderr


@needs_tools
def test_two_sets_sharing_outputs_at_once_both_finish(tmp_path: Path) -> None:
    """Each set takes the locks of its outputs in one global order, so two sets
    naming the same outputs in opposite orders wait for each other, never deadlock."""
    import subprocess
    import sys

    hello, tiny = _project(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "unilang", "build", *map(str, specs), "-b",
                               "kvm"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for specs in ((hello, tiny), (tiny, hello))]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_o, err) in zip(procs, outs):
        assert p.returncode == 0, err
    for app in ("hello", "tiny"):
        m = json.loads((tmp_path / "build" / app / "kvm" / "manifest.json").read_text())
        import hashlib

        assert m["sha256"] == hashlib.sha256(
            (tmp_path / "build" / app / "kvm" / f"{app}.elf").read_bytes()).hexdigest()
