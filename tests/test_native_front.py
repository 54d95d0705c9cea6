"""The native front (unilang/native/front.c, `.venv/bin/unilang`).

* A plain `run` of an up-to-date image: the front's paused QEMU is the one
  that boots (Python never spawns one) and the output is Python's own.
* A stale image: the front's QEMU on the old image is killed, never resumed.
* `--forward`, unknown options, `--help` and other commands: no head start.
* Fake QEMUs and KVM devices (test_run_trust's): still boots, with TCG.
* Nothing leaks into QEMU: no descriptor, not the front's variable.
* Without a C compiler, setup keeps the Python launcher.

A "spy" Python launcher stands behind the front here: the Python launcher
plus a log of whether the front started a QEMU, of `spawn` calls and of
what became of the front's QEMU.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, native_front, needs_qemu, needs_tools, unilang
from test_run_trust import NOTE, _cleanup, _env, _log, _qemu_in, _start_spinning, broken_kvm
from unilang import adopt, nativefront

HELLO = ROOT / "examples" / "hello" / "hello.uni"
APPS = ROOT / "tests" / "apps"

__all__ = ["broken_kvm"]  # the fixture, used by name

_SPY = """#!{python} -S
import os
import sys
import time

sys.path.append({root!r})
LOG = os.environ.get("SPY_LOG")


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\\n")


log("front=" + ("yes" if "UNILANG_FRONT_QEMU" in os.environ else "no"))
import unilang.quickrun as q
import unilang.run as r

real_spawn, real_claim = r.spawn, q.claim


def spawn(*a, **k):
    log("spawn")
    return real_spawn(*a, **k)


def claim(*a, **k):
    got = real_claim(*a, **k)
    log("claimed" if got is not None else "released")
    return got


r.spawn = q.spawn = spawn
q.claim = claim
from unilang.entry import main

sys.exit(main(load_site=True))
"""


@pytest.fixture(scope="module")
def spy_front(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("front")
    spy = folder / "unilang-spy"
    spy.write_text(_SPY.format(python=sys.executable, root=str(ROOT)))
    spy.chmod(0o755)
    return native_front(folder, spy)


def _front(front: Path, *args: str, env: dict[str, str], cwd: Path = ROOT,
           timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = Path(env["SPY_LOG"])
    if log.exists():
        log.unlink()
    r = subprocess.run([str(front), *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return r, log.read_text().split() if log.exists() else []


def _spy_env(tmp: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base if base is not None else _env(tmp))
    env["SPY_LOG"] = str(tmp / "spy.log")
    return env


@needs_tools
@needs_qemu
def test_the_front_boots_an_up_to_date_image_with_its_own_qemu(tmp_path: Path,
                                                               spy_front: Path) -> None:
    out = tmp_path / "out"
    assert unilang("build", str(HELLO), "-o", str(out)).returncode == 0
    env = _spy_env(tmp_path)
    want = unilang("run", str(HELLO), "-o", str(out), env=env)  # Python alone
    assert (want.returncode, want.stdout) == (0, "Hello from unilang!\n"), want.stderr
    for args in (["-o", str(out)], ["--output=" + str(out) + "/./"], ["-b", "KVM", "-o",
                 str(out.parent / "x" / ".." / "out"), "--timeout", "60"],
                 ["--backend=kvm", "-o", str(out), "--accel", "auto", "--timeout=60.5"]):
        r, log = _front(spy_front, "run", str(HELLO), *args, env=env)
        assert (r.returncode, r.stdout, r.stderr) == (want.returncode, want.stdout, want.stderr)
        assert log == ["front=yes", "claimed"], args  # no spawn: the front's QEMU booted
    # the default output directory, relative to the working directory
    work = tmp_path / "work"
    (work / "build" / "hello").mkdir(parents=True)
    shutil.copytree(out, work / "build" / "hello" / "kvm")
    shutil.copy(HELLO, work / "hello.uni")
    shutil.copy(HELLO.parent / "hello.c", work / "hello.c")
    assert unilang("build", "hello.uni", cwd=work).returncode == 0
    r, log = _front(spy_front, "run", "hello.uni", "--accel=tcg", env=env, cwd=work)
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    assert log == ["front=yes", "claimed"]


@needs_tools
@needs_qemu
def test_a_stale_image_is_rebuilt_and_the_front_qemu_never_runs(tmp_path: Path,
                                                                spy_front: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(HELLO, app / "hello.uni")
    (app / "hello.c").write_text((HELLO.parent / "hello.c").read_text())
    out = tmp_path / "out"
    assert unilang("build", str(app / "hello.uni"), "-o", str(out)).returncode == 0
    src = (app / "hello.c").read_text()
    (app / "hello.c").write_text(src.replace("Hello from unilang!", "Hello again!"))
    env = _spy_env(tmp_path)
    r, log = _front(spy_front, "run", str(app / "hello.uni"), "-o", str(out), env=env)
    # the old image's greeting never appears: its paused QEMU was killed
    assert (r.returncode, r.stdout) == (0, "Hello again!\n"), r.stderr
    assert log[:1] == ["front=yes"] and "claimed" in log  # adopted, then the check said no
    assert log[-1] == "spawn"  # the new image, after the build
    assert not _qemu_in(out)


@needs_tools
@needs_qemu
def test_other_command_lines_get_no_head_start(tmp_path: Path, spy_front: Path) -> None:
    out = tmp_path / "out"
    assert unilang("build", str(HELLO), "-o", str(out)).returncode == 0
    env = _spy_env(tmp_path)
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), "--forward", "udp:5555:7",
                    env=env)
    assert r.returncode == 1 and "error[U0210]" in r.stderr
    assert log == ["front=no"]
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), "-x", env=env)
    assert r.returncode == 2 and "No such option '-x'" in r.stderr
    assert log == ["front=no"]
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), "--help", env=env)
    assert r.returncode == 0 and "--accel" in r.stdout
    assert log == ["front=no"]
    r, log = _front(spy_front, "check", str(HELLO), env=env)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert log == ["front=no"]
    r, log = _front(spy_front, "--version", env=env)
    assert r.returncode == 0 and r.stdout.startswith("unilang, version ")
    # a variable that names no child of ours is dropped, and nothing is touched
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), "-b", "nosuch",
                    env=dict(env, UNILANG_FRONT_QEMU="1,0,1,2"))
    assert r.returncode == 2 and log == ["front=no"]


@needs_tools
@needs_qemu
def test_broken_or_absent_kvm_still_boots_with_tcg(tmp_path: Path, spy_front: Path,
                                                   broken_kvm: dict[str, str]) -> None:
    out = tmp_path / "out"
    assert unilang("build", str(HELLO), "-o", str(out)).returncode == 0
    env = _spy_env(tmp_path, broken_kvm)
    # KVM "opens": the front starts QEMU under KVM, which aborts; Python probes,
    # kills the front's QEMU and boots with TCG
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), env=env)
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    assert r.stderr.splitlines() == [NOTE]
    assert log == ["front=yes", "released", "spawn"]
    calls = _log(env)
    assert " -accel kvm " in calls[0] and " -S " in calls[0]  # the front's
    assert " -accel tcg " in calls[-1]
    # no KVM device: the front starts TCG at once (a script QEMU is never
    # adopted: its command line is the shell's)
    env = dict(env, UNILANG_KVM_DEVICE=str(tmp_path / "nonexistent"))
    Path(env["FAKE_LOG"]).unlink()
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "Hello from unilang!\n", "")
    assert log == ["front=yes", "released", "spawn"]
    assert all(" -accel tcg " in c and " kvm " not in c for c in _log(env))
    # `--accel kvm` without a device: Python's error, and no QEMU at all
    Path(env["FAKE_LOG"]).unlink()
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), "--accel", "kvm", env=env)
    assert r.returncode == 1 and "cannot open the KVM device" in r.stderr
    assert log == ["front=no"] and _log(env) == []


@needs_tools
@needs_qemu
def test_nothing_leaks_into_the_front_qemu(tmp_path: Path, spy_front: Path) -> None:
    out = tmp_path / "hang"
    assert unilang("build", str(APPS / "hang" / "hang.uni"), "-o", str(out)).returncode == 0
    marker = tmp_path / "marker"
    marker.write_text("")
    fd = os.open(marker, os.O_RDONLY)
    env = _spy_env(tmp_path)
    try:
        proc = _start_spinning(out, tmp_path, early=True, cmd=[str(spy_front)],
                               pass_fds=(fd,), env=env)
    finally:
        os.close(fd)
    try:
        (pid, _argv), = _qemu_in(out).items()
        assert Path(env["SPY_LOG"]).read_text().split() == ["front=yes", "claimed"]
        fds = {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
        ours = {os.readlink(f"/proc/{proc.pid}/fd/{n}") for n in os.listdir(f"/proc/{proc.pid}/fd")}
        assert fds[0] == "/dev/null"
        assert str(marker) in ours and str(marker) not in fds.values()
        # of unilang's pipes and sockets, QEMU holds only its own stderr's
        assert {t for n, t in fds.items() if n > 2} & ours == set()
        assert b"UNILANG_FRONT_QEMU" not in Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        _cleanup(proc, out)


def test_the_variable_is_taken_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for bogus in ("", "x", "1,2,3", f"{os.getpid()},3,4,5", "1,3,4,5", "-1,3,4,5"):
        monkeypatch.setenv(adopt.ENV, bogus)
        assert adopt.take() is None
        assert adopt.ENV not in os.environ


def test_setup_without_a_compiler_keeps_the_python_launcher(tmp_path: Path) -> None:
    target = tmp_path / "unilang"
    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    env.pop("CC", None)
    r = subprocess.run([sys.executable, "-m", "unilang.nativefront", str(target)], env=env,
                       capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert r.returncode == 0
    assert r.stderr == (f"unilang launcher: wrote {target} as the Python launcher: the native "
                        "front was not built: no C compiler (gcc) on PATH\n")
    assert target.read_text().startswith(f"#!{sys.executable} -S\n")
    v = subprocess.run([str(target), "--version"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert (v.returncode, v.stdout) == (0, "unilang, version 0.1.0\n"), v.stderr
    # a compiler that fails: the same, with its status
    r = subprocess.run([sys.executable, "-m", "unilang.nativefront", str(target)],
                       env=dict(os.environ, CC="false"), capture_output=True, text=True,
                       timeout=120, check=False, cwd=ROOT)
    assert r.stderr.startswith(f"unilang launcher: wrote {target} as the Python launcher: the "
                               "native front was not built: ")
    assert "failed with status 1" in r.stderr
    assert target.read_text().startswith("#!")
    # CC as builds read it (unilang.ccenv): a bad value says so; nothing is left beside
    r = subprocess.run([sys.executable, "-m", "unilang.nativefront", str(target)],
                       env=dict(os.environ, CC="gcc -O2"), capture_output=True, text=True,
                       timeout=120, check=False, cwd=ROOT)
    assert r.stderr == (f"unilang launcher: wrote {target} as the Python launcher: the native "
                        "front was not built: `CC=gcc -O2` holds the option `-O2`; unilang "
                        "passes its own compiler flags\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unilang", "unilang-py"]


@needs_tools
@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache is needed")
def test_the_front_compiles_under_a_compiler_wrapper(tmp_path: Path) -> None:
    """`CC="ccache gcc"`, which builds accept, compiles the front too."""
    target = tmp_path / "unilang"
    r = subprocess.run([sys.executable, "-m", "unilang.nativefront", str(target)],
                       env=dict(os.environ, CC="ccache gcc", CCACHE_DIR=str(tmp_path / "cc")),
                       capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert r.stderr == f"unilang launcher: wrote {target} (native front) and {target}-py\n"
    assert not target.read_bytes().startswith(b"#!")


@needs_tools
def test_the_front_compiles_and_bakes_what_setup_knows(tmp_path: Path) -> None:
    assert nativefront.c_string('a"b\\c\n') == '"a\\042b\\134c\\012"'
    assert nativefront.c_string("/x/é") == '"/x/\\303\\251"'
    front = native_front(tmp_path / "f")
    r = subprocess.run([str(front), "--version"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert (r.returncode, r.stdout) == (0, "unilang, version 0.1.0\n"), r.stderr
    # a launcher that cannot be executed: a clear message, status 127
    broken = native_front(tmp_path / "g", tmp_path / "no-such-launcher")
    r = subprocess.run([str(broken), "--version"], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 127
    assert r.stderr == (f"unilang: cannot execute {tmp_path / 'no-such-launcher'}: "
                        "No such file or directory\n")



@needs_tools
@needs_qemu
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_before_python_holds_qemu_leaves_none(tmp_path: Path, signo: int) -> None:
    """Between the front's fork and Python's handlers: the signal kills the
    process (Python's SIGINT: KeyboardInterrupt, then exit) and QEMU dies
    with it (PR_SET_PDEATHSIG).  A launcher that only waits makes that window wide."""
    out = tmp_path / "hang"
    assert unilang("build", str(APPS / "hang" / "hang.uni"), "-o", str(out)).returncode == 0
    ready = tmp_path / "ready"
    slow = tmp_path / "slow-launcher"
    slow.write_text(f"#!{sys.executable} -S\nimport time\nopen({str(ready)!r}, 'w').close()\n"
                    "time.sleep(120)\n")
    slow.chmod(0o755)
    front = native_front(tmp_path / "f", slow)
    proc = subprocess.Popen([str(front), "run", str(APPS / "hang" / "hang.uni"), "-o", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env(tmp_path), cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and _qemu_in(out)) and time.monotonic() < deadline:
            time.sleep(0.05)
        running = list(_qemu_in(out).values())
        assert [b"-S" in argv for argv in running] == [True]  # paused, the front's
        proc.send_signal(signo)
        assert proc.wait(timeout=30) != 0
        deadline = time.monotonic() + 10
        while _qemu_in(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _qemu_in(out), "the front's QEMU outlived unilang"
    finally:
        _cleanup(proc, out)


@needs_tools
@needs_qemu
def test_a_guest_bigger_than_the_host_gets_no_qemu_at_all(tmp_path: Path, spy_front: Path) -> None:
    shutil.copy(HELLO.parent / "hello.c", tmp_path / "hello.c")
    spec = tmp_path / "big.uni"
    spec.write_text('app big {\n    sources = ["hello.c"];\n    requires = [console.lines];\n'
                    "    memory = 1 TiB;\n}\n")
    out = tmp_path / "out"
    assert unilang("build", str(spec), "-o", str(out)).returncode == 0
    r, log = _front(spy_front, "run", str(spec), "-o", str(out), env=_spy_env(tmp_path))
    assert r.returncode == 1 and r.stderr.startswith("error[U0209]: not enough host memory")
    assert log == ["front=no"]  # the front compared qemu.json's -m with the host too


@needs_tools
@needs_qemu
def test_a_qemu_json_with_an_escape_gets_no_head_start(tmp_path: Path, spy_front: Path) -> None:
    out = tmp_path / "out"
    assert unilang("build", str(HELLO), "-o", str(out)).returncode == 0
    q = out / "qemu.json"
    q.write_text(q.read_text().replace('"microvm"', '"micro\\u0076m"'))
    r, log = _front(spy_front, "run", str(HELLO), "-o", str(out), env=_spy_env(tmp_path))
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    # Python's own paused QEMU, killed (the output changed), then the rebuilt image's
    assert log == ["front=no", "spawn", "spawn"]
    assert '"microvm"' in q.read_text()
