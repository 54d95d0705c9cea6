"""The early path of `unilang run` without the heavy standard modules.

* ``unilang.quickjson`` gives ``json``'s results (and refuses what it refuses);
  ``unilang.fsutil.which`` finds what ``shutil.which`` finds.
* Nothing of ``typing``, ``json``, ``re``, ``pathlib``, ``subprocess``,
  ``socket``, ``ctypes`` ... is imported before QEMU is started.
* ``unilang.run.spawn`` keeps ``subprocess``'s guarantees: the working
  directory, /dev/null for stdin, no inherited descriptors, an OSError when
  the program cannot be executed.
* The launcher `make setup` writes starts Python without ``site`` and still
  reaches the full CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, imported_modules, needs_qemu, needs_tools, unilang
from unilang import fsutil, launcher, quickjson, run

HELLO = ROOT / "examples" / "hello" / "hello.uni"
HEAVY = {"typing", "json", "re", "enum", "pathlib", "subprocess", "socket", "selectors",
         "signal", "ctypes", "shutil", "tempfile", "hashlib", "threading", "click", "attr"}


def test_quickjson_reads_and_writes_what_json_does(tmp_path: Path) -> None:
    values: list[object] = [
        [1, "a\u00e9\n\t\"\\/", None, True, False, 1.5, -0.0, 1e300, [], {}],
        {"b": 1, "a": [2.0, {"z": "\ud800"}], "": None}, "x", 3, None, 2 ** 70,
        [float("inf"), float("-inf")], [[[["deep"]]]],
    ]
    for v in values:
        assert quickjson.dumps(v) == json.dumps(v)
        assert repr(quickjson.loads(quickjson.dumps(v))) == repr(json.loads(json.dumps(v)))
    texts = ["", " ", "[1,", "[1] x", "\ufeff[1]", "nul", " [1]\n", '{"a" : 1 }', "NaN",
             "[Infinity, -Infinity]", "01", '"\\ud800"', '["a\tb"]', "[" * 100000, "{}}",
             '{"a": 1, "a": 2}', "1e5", "-", '"\\x"', "[1]\x00"]
    for t in texts:
        for text in (t, t.encode("utf-8", "surrogatepass"), b"\xef\xbb\xbf" + t.encode()):
            try:
                want: object = ("ok", repr(json.loads(text)))
            except (ValueError, RecursionError) as e:
                want = ("error", type(e).__name__)
            try:
                got: object = ("ok", repr(quickjson.loads(text)))
            except (ValueError, RecursionError) as e:
                got = ("error", type(e).__name__)
            assert got == want, text
    with pytest.raises(ValueError):
        quickjson.loads(b'["\xff"]')


def test_which_finds_what_shutil_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "bin" / "plain").write_text("")
    (tmp_path / "bin" / "dir").mkdir()
    names = ["sh", "gcc", "ninja", "tool", "plain", "dir", "missing", "/bin/sh", str(tool),
             "bin/tool", "."]
    for path in (os.environ.get("PATH", ""), f"{tmp_path / 'bin'}:/usr/bin", "",
                 f"::{tmp_path / 'bin'}:{tmp_path / 'bin'}", None):
        if path is None:
            monkeypatch.delenv("PATH", raising=False)
        else:
            monkeypatch.setenv("PATH", path)
        monkeypatch.chdir(tmp_path)
        for n in names:
            assert fsutil.which(n) == shutil.which(n), (path, n)


# ------------------------------------------------------------ before QEMU starts

_SPY = """
import sys
sys.path.insert(0, {root!r})
import unilang.run as r
real = r.spawn
def spy(*args, **kwargs):
    with open({log!r}, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
    return real(*args, **kwargs)
r.spawn = spy
from unilang.entry import main
main()
"""


@needs_tools
@needs_qemu
def test_nothing_heavy_is_imported_before_qemu_starts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert unilang("build", str(HELLO), "-o", str(out)).returncode == 0
    log = tmp_path / "modules.txt"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    for _ in range(2):  # the first run may probe KVM (a cache miss); the second is the figure
        r = subprocess.run([sys.executable, "-S", "-c", _SPY.format(root=str(ROOT), log=str(log)),
                            "run", str(HELLO), "-o", str(out)], capture_output=True, text=True,
                           timeout=120, check=False, env=env, cwd=ROOT)
        assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    before = set(log.read_text().split())
    assert "unilang.run" in before and "unilang.quickrun" in before
    assert before & HEAVY == set()
    # stdout closed (Python's sys.stdout is then None): the guest writes to /dev/null.
    # TCG: on a host whose KVM opens but cannot run a guest, `auto` adds a note on stderr
    r = subprocess.run(["/bin/sh", "-c", 'exec "$0" -m unilang run "$1" -o "$2" --accel tcg >&-',
                        sys.executable, str(HELLO), str(out)], capture_output=True, text=True,
                       timeout=120, check=False, env=env, cwd=ROOT)
    assert (r.returncode, r.stderr) == (0, "")


# ------------------------------------------------------------ spawn

def _spawned(tmp_path: Path, script: str, stdout: int | None = None) -> tuple[int, bytes]:
    with run.StopSignals():
        proc, monitor = run.spawn(["/bin/sh", "-c", script], tmp_path, stdout)
        assert monitor is None
        err = proc.communicate(timeout=60)
    assert proc.returncode is not None
    return proc.returncode, err


def test_spawn_sets_the_directory_the_streams_and_closes_other_descriptors(tmp_path: Path) -> None:
    inheritable = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(inheritable, True)
    out = tmp_path / "out.txt"
    try:
        with open(out, "wb") as f:
            code, err = _spawned(tmp_path, "pwd; ls /proc/self/fd; cat; echo oops >&2; exit 3",
                                 f.fileno())
    finally:
        os.close(inheritable)
    lines = out.read_text().split()
    assert code == 3 and err == b"oops\n"
    assert lines[0] == str(tmp_path)
    # 0, 1, 2 and the descriptor ls opens for /proc/self/fd: nothing inherited
    assert sorted(int(x) for x in lines[1:]) == [0, 1, 2, 3]


def test_spawn_reports_a_program_that_cannot_run(tmp_path: Path) -> None:
    with run.StopSignals(), pytest.raises(FileNotFoundError):
        run.spawn([str(tmp_path / "no-such-qemu")], tmp_path, None)
    plain = tmp_path / "not-executable"
    plain.write_text("")
    with run.StopSignals(), pytest.raises(PermissionError):
        run.spawn([str(plain)], tmp_path, None)


def test_wait_times_out_and_stop_kills(tmp_path: Path) -> None:
    with run.StopSignals():
        proc, _none = run.spawn(["/bin/sh", "-c", "exec sleep 60"], tmp_path, None)
        with pytest.raises(run.TimedOut):
            proc.communicate(timeout=0.2)
        run.stop(proc, 15)
    assert proc.returncode == -15


# ------------------------------------------------------------ the launcher

def test_launcher_refuses_what_a_shebang_cannot_carry() -> None:
    assert launcher.script("/usr/bin/python3", "/src") is not None
    assert launcher.script("/a b/python3", "/src") is None
    assert launcher.script("python3", "/src") is None
    assert launcher.script("/" + "p" * 260, "/src") is None
    text = launcher.script("/v/bin/python", "/it's here")
    assert text is not None and text.splitlines()[0] == "#!/v/bin/python -S"
    assert "sys.path.append(\"/it's here\")" in text


@needs_tools
@needs_qemu
def test_launcher_runs_the_early_path_without_site_and_the_cli_with_it(tmp_path: Path) -> None:
    script = tmp_path / "unilang"
    assert launcher.install(str(script))
    assert os.access(script, os.X_OK)
    out = tmp_path / "out"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPROFILEIMPORTTIME="1")
    r = subprocess.run([str(script), "build", str(HELLO), "-o", str(out)], capture_output=True,
                       text=True, timeout=300, check=False, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    imported = imported_modules(r.stderr)
    assert {"site", "click", "unilang.cli"} <= imported  # the full build: site, then click
    r = subprocess.run([str(script), "run", str(HELLO), "-o", str(out)], capture_output=True,
                       text=True, timeout=120, check=False, env=env, cwd=ROOT)
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    imported = imported_modules(r.stderr)
    assert "unilang.quickrun" in imported and "site" not in imported and "click" not in imported


def test_the_early_hash_is_sha256(tmp_path: Path) -> None:
    import hashlib

    from unilang import fresh

    for data in (b"", b"int a = 1;\n", bytes(range(256)) * 300):
        f = tmp_path / "f"
        f.write_bytes(data)
        assert fresh.sha_fact(str(f)) == hashlib.sha256(data).hexdigest()
