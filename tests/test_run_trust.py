"""`unilang run` and run-qemu.sh on any host, leaving nothing behind.

* ``--accel auto`` is KVM only when QEMU can run a guest with it here: a
  probe, cached; broken KVM is simulated by a fake `qemu-system-x86_64` on
  PATH that aborts under `-accel kvm` (as QEMU does on some nested hosts) and
  otherwise runs the real QEMU; an absent KVM by ``UNILANG_KVM_DEVICE``;
  "KVM opens" by pointing ``UNILANG_KVM_DEVICE`` at a writable file.  So the
  tests behave the same on hosts with working, broken and no KVM.
* QEMU dies with `unilang run` (SIGTERM, SIGINT, SIGHUP, SIGKILL).
* An up-to-date `run` boots without importing click, attrs or jinja2.
* Exit codes outside 0..127, and a guest bigger than the host's memory.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, imported_modules, native_front, needs_qemu, needs_tools, unilang
from unilang import kvmprobe
from unilang.quickrun import parse_run_args
from unilang.run import Problem, render_problem

HELLO = ROOT / "examples" / "hello" / "hello.uni"
APPS = ROOT / "tests" / "apps"
NOTE = "note: KVM is present but QEMU cannot run a guest with it here; using TCG"

pytestmark = [needs_tools, needs_qemu]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, NO_COLOR="1", XDG_CACHE_HOME=str(tmp / "cache"))
    env.update(extra)
    return env


@pytest.fixture()
def broken_kvm(tmp_path: Path) -> dict[str, str]:
    """An environment where KVM "opens" but QEMU aborts under it, with a log of
    every QEMU command line (one per line)."""
    real = shutil.which("qemu-system-x86_64")
    assert real is not None
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    log = tmp_path / "qemu.log"
    fake = bindir / "qemu-system-x86_64"
    fake.write_text(f"""#!/bin/sh
echo "$*" >> '{log}'
case " $* " in
*" -accel kvm "*)
    echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x20000000e' >&2
    kill -ABRT $$ ;;
esac
exec '{real}' "$@"
""")
    fake.chmod(0o755)
    device = tmp_path / "kvm-device"
    device.write_bytes(b"")
    return _env(tmp_path, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
                UNILANG_KVM_DEVICE=str(device), FAKE_LOG=str(log))


def _log(env: dict[str, str]) -> list[str]:
    """The fake QEMU's command lines so far, each padded with spaces."""
    p = Path(env["FAKE_LOG"])
    return [f" {line} " for line in p.read_text().splitlines()] if p.exists() else []


def _build(spec: Path, out: Path, backend: str = "kvm") -> None:
    r = unilang("build", str(spec), "-b", backend, "-o", str(out))
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------ 1. accelerator

def test_auto_falls_back_to_tcg_when_qemu_cannot_use_kvm(tmp_path: Path,
                                                         broken_kvm: dict[str, str]) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    r = unilang("run", str(HELLO), "-o", str(out), "--timeout", "60", env=broken_kvm)
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    assert r.stderr.splitlines() == [NOTE]
    calls = _log(broken_kvm)
    assert len(calls) == 2
    assert " -accel kvm " in calls[0] and "probe.elf" in calls[0]      # the probe
    assert " -accel tcg " in calls[1] and " -accel kvm " not in calls[1]  # the boot
    # the verdict is cached: no second probe, the same note
    r = unilang("run", str(HELLO), "-o", str(out), "--timeout", "60", env=broken_kvm)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (0, "Hello from unilang!\n", [NOTE])
    assert len(_log(broken_kvm)) == 3 and " -accel kvm " not in _log(broken_kvm)[2]


def test_a_corrupt_probe_cache_entry_is_a_miss(tmp_path: Path, broken_kvm: dict[str, str]) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    assert unilang("run", str(HELLO), "-o", str(out), env=broken_kvm).returncode == 0
    entries = list((tmp_path / "cache" / "unilang").glob("kvm-probe-*.json"))
    assert len(entries) == 1
    for garbage in (b"\xff{not json", b'{"key": "other", "kvm_runs_guest": true}',
                    json.dumps({"key": json.loads(entries[0].read_text())["key"],
                                "kvm_runs_guest": "yes"}).encode()):
        entries[0].write_bytes(garbage)
        n = len(_log(broken_kvm))
        r = unilang("run", str(HELLO), "-o", str(out), env=broken_kvm)
        assert (r.returncode, r.stdout, r.stderr.splitlines()) == (
            0, "Hello from unilang!\n", [NOTE])
        assert "probe.elf" in _log(broken_kvm)[n]  # probed again
        assert json.loads(entries[0].read_text())["kvm_runs_guest"] is False


def test_probe_cache_rejects_hostile_entries(tmp_path: Path) -> None:
    key = "k"
    path = tmp_path / "entry.json"
    assert kvmprobe.read_verdict(str(path), key) is None  # missing
    path.write_text(json.dumps({"key": key, "kvm_runs_guest": True}))
    assert kvmprobe.read_verdict(str(path), key) is True
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert kvmprobe.read_verdict(str(link), key) is None  # never follows a link
    path.write_text(json.dumps({"key": key, "kvm_runs_guest": True, "pad": "x" * 5000}))
    assert kvmprobe.read_verdict(str(path), key) is None  # oversized
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert kvmprobe.read_verdict(str(fifo), key) is None  # not a regular file: no waiting
    path.write_text("[" * 100000)
    assert kvmprobe.read_verdict(str(path), key) is None
    path.write_text(json.dumps([key, True]))
    assert kvmprobe.read_verdict(str(path), key) is None


def test_probe_image_runs_under_tcg(tmp_path: Path) -> None:
    image = tmp_path / "probe.elf"
    image.write_bytes(kvmprobe.probe_image())
    argv = kvmprobe.probe_argv(shutil.which("qemu-system-x86_64") or "", str(image))
    argv[argv.index("kvm")] = "tcg"
    r = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert r.returncode == 1, r.stderr  # the guest wrote 0 to isa-debug-exit


def test_no_kvm_device_means_tcg_without_a_probe(tmp_path: Path,
                                                 broken_kvm: dict[str, str]) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    env = dict(broken_kvm, UNILANG_KVM_DEVICE=str(tmp_path / "nonexistent"))
    r = unilang("run", str(HELLO), "-o", str(out), env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "Hello from unilang!\n", "")
    assert [" -accel tcg " in c and " kvm " not in c for c in _log(env)] == [True]


def test_forced_kvm_that_cannot_run_is_a_clear_error(tmp_path: Path,
                                                     broken_kvm: dict[str, str]) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    r = unilang("run", str(HELLO), "-o", str(out), "--accel", "kvm", env=broken_kvm)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == "error[U0205]: QEMU cannot run the guest with KVM here (killed by signal 6)"
    assert "  = note: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x20000000e" in lines
    assert lines[-3:] == ["  = help: use `--accel tcg`, or `--accel auto` (KVM when it works "
                          "here, else TCG)", "", "1 error emitted"]
    assert "Traceback" not in r.stderr
    env = dict(broken_kvm, UNILANG_KVM_DEVICE=str(tmp_path / "nonexistent"))
    Path(env["FAKE_LOG"]).unlink()
    r = unilang("run", str(HELLO), "-o", str(out), "--accel", "kvm", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[0] == (
        f"error[U0205]: `--accel kvm`: cannot open the KVM device `{tmp_path / 'nonexistent'}`: "
        "No such file or directory")
    assert _log(env) == []  # QEMU never started


@pytest.mark.parametrize("device", ["opens", "absent"])
def test_run_qemu_sh_falls_back_to_tcg(tmp_path: Path, broken_kvm: dict[str, str],
                                       device: str) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    env = dict(broken_kvm)
    if device == "absent":
        env["UNILANG_KVM_DEVICE"] = str(tmp_path / "nonexistent")
    r = subprocess.run([str(out / "run-qemu.sh")], env=env, capture_output=True, text=True,
                       timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr  # (0 << 1) | 1: the guest's main returned 0
    assert r.stdout.replace("\r\n", "\n") == "Hello from unilang!\n"
    calls = _log(env)
    if device == "opens":
        assert [" -accel kvm " in c for c in calls] == [True, False]
        assert NOTE in r.stderr.splitlines()
    else:
        assert [" -accel kvm " in c for c in calls] == [False]
    assert " -accel tcg " in calls[-1]


def test_run_qemu_sh_does_not_rerun_a_guest_that_exited(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(APPS / "exit200" / "exit200.uni", out)
    r = subprocess.run([str(out / "run-qemu.sh")], capture_output=True, text=True, timeout=60,
                       check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == (127 << 1) | 1
    assert r.stdout.count("returning 200") == 1


# ------------------------------------------------------------ 2. signals

def _qemu_in(outdir: Path) -> dict[int, list[bytes]]:
    """QEMU processes running from ``outdir`` (run-qemu.sh and `run` start QEMU
    there, with the image named relative to it), with their argv."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and Path(cwd) == outdir.resolve():
            found[int(entry.name)] = argv
    return found


def _qemu_pids_in(outdir: Path) -> list[int]:
    return list(_qemu_in(outdir))


def _gone_within(outdir: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _qemu_pids_in(outdir):
            return True
        time.sleep(0.05)
    return not _qemu_pids_in(outdir)


def _start_spinning(outdir: Path, tmp: Path, early: bool, cmd: list[str] | None = None,
                    pass_fds: tuple[int, ...] = (),
                    env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`unilang run` of the looping app; returns once the guest has printed.
    ``early``: the image is up to date, so the early path boots it (QEMU was
    started paused, `-S`, and resumed); else the full CLI built it first.
    ``cmd``: unilang (default: ``python -m unilang``)."""
    proc = subprocess.Popen([*(cmd or [sys.executable, "-m", "unilang"]), "run",
                             str(APPS / "hang" / "hang.uni"), "-o", str(outdir), "--timeout", "120"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env or _env(tmp), cwd=ROOT,
                            pass_fds=pass_fds)
    assert proc.stdout is not None
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        while b"spinning forever" not in seen and time.monotonic() < deadline:
            if sel.select(timeout=1.0):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    assert b"spinning forever" in seen, seen
    running = list(_qemu_in(outdir).values())
    assert [b"-S" in argv for argv in running] == [early]
    return proc


def _cleanup(proc: subprocess.Popen[bytes], outdir: Path) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    if proc.stdout:
        proc.stdout.close()
    for pid in _qemu_pids_in(outdir):  # never leave a QEMU behind, even when the test failed
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture(scope="module")
def hang_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hang") / "out"
    _build(APPS / "hang" / "hang.uni", out)  # the arguments and directory `run` will use
    return out


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The native front `make setup` installs as `.venv/bin/unilang`, with the Python launcher."""
    return native_front(tmp_path_factory.mktemp("front"))


@pytest.mark.parametrize("via", ["python", "front"])
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: signal.Signals(s).name)
def test_qemu_dies_with_unilang(tmp_path: Path, hang_built: Path, signo: int, via: str,
                                request: pytest.FixtureRequest) -> None:
    out = hang_built  # up to date: the early path (via the front: its paused QEMU, adopted)
    cmd = [str(request.getfixturevalue("front"))] if via == "front" else None
    proc = _start_spinning(out, tmp_path, early=True, cmd=cmd)
    try:
        proc.send_signal(signo)
        rc = proc.wait(timeout=30)
        assert rc == (-signo if signo == signal.SIGKILL else 128 + signo)
        assert _gone_within(out, 10), "QEMU outlived `unilang run`"
    finally:
        _cleanup(proc, out)


def test_qemu_dies_with_unilang_after_a_build(tmp_path: Path) -> None:
    out = tmp_path / "out"  # nothing built yet: the full CLI builds, then boots
    proc = _start_spinning(out, tmp_path, early=False)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert _gone_within(out, 10), "QEMU outlived `unilang run`"
    finally:
        _cleanup(proc, out)


# ------------------------------------------------------------ 3. the early path

def test_up_to_date_run_imports_no_cli(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(HELLO, out)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "unilang", "run", str(HELLO),
                        "-o", str(out)], capture_output=True, text=True, timeout=120, check=False,
                       env=_env(tmp_path), cwd=ROOT)
    assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    imported = imported_modules(r.stderr)
    assert "unilang.run" in imported and "unilang.quickrun" in imported
    assert not imported & {"click", "attr", "attrs", "jinja2", "unilang.cli", "unilang.build"}


def test_run_rebuilds_a_stale_image_first(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(HELLO, app / "hello.uni")
    (app / "hello.c").write_text((HELLO.parent / "hello.c").read_text())
    out = tmp_path / "out"
    _build(app / "hello.uni", out)
    src = (app / "hello.c").read_text()
    (app / "hello.c").write_text(src.replace("Hello from unilang!", "Hello again!"))
    r = unilang("run", str(app / "hello.uni"), "-o", str(out), env=_env(tmp_path))
    assert (r.returncode, r.stdout) == (0, "Hello again!\n"), r.stderr


def test_run_finds_the_image_when_the_app_is_not_named_after_its_file(tmp_path: Path) -> None:
    shutil.copy(HELLO, tmp_path / "other.uni")
    shutil.copy(HELLO.parent / "hello.c", tmp_path / "hello.c")
    first = unilang("run", "other.uni", cwd=tmp_path, env=_env(tmp_path))
    again = unilang("run", "other.uni", cwd=tmp_path, env=_env(tmp_path))
    for r in (first, again):
        assert (r.returncode, r.stdout) == (0, "Hello from unilang!\n"), r.stderr
    assert (tmp_path / "build" / "hello" / "kvm" / "hello.elf").is_file()


def test_parse_run_args() -> None:
    assert parse_run_args(["a.uni"]) == ("a.uni", "kvm", None, 30.0, None, ())  # kvm: default
    assert parse_run_args(["a.uni", "-b", "XEN", "--output=o", "--timeout", "5",
                           "--accel=tcg"]) == ("a.uni", "xen", "o", 5.0, "tcg", ())
    assert parse_run_args(["a.uni", "--forward", "udp:5555:7", "--forward=tcp:8080:80"]) == \
        ("a.uni", "kvm", None, 30.0, None, (("udp", 5555, 7), ("tcp", 8080, 80)))
    for args in (["a.uni", "--help"], ["a.uni", "-x"], [], ["a.uni", "b.uni"],
                 ["a.uni", "--timeout", "0"], ["a.uni", "--timeout", "nan"],
                 ["a.uni", "--accel", "hvf"], ["a.uni", "-b", "qemu"], ["a.uni", "-o", ""],
                 ["a.uni", "--timeout"], ["a.uni", "--forward", "icmp:1:2"],
                 ["a.uni", "--forward", "udp:0:7"], ["a.uni", "--forward", "udp:65536:7"],
                 ["a.uni", "--forward", "udp:5555"], ["a.uni", "--forward", "udp:+5:7"]):
        assert parse_run_args(args) is None, args


def test_early_rendering_matches_the_renderer() -> None:
    from unilang.diagnostics import error
    from unilang.render import TextRenderer

    p = Problem("U0205", "QEMU failed with status 3", ("a", "b"), "try this")
    r = TextRenderer(lambda _n: None, False)
    d = error(p.code, p.message, notes=p.notes, help=p.help)
    assert render_problem(p) == r.render(d) + "\n" + r.summary([d]) + " emitted\n"


# ------------------------------------------------------------ 4. exit codes

@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_exit_code_outside_0_127_is_reported(tmp_path: Path, backend: str) -> None:
    r = unilang("run", str(APPS / "exit200" / "exit200.uni"), "-b", backend,
                "-o", str(tmp_path / "out"), "--timeout", "60", env=_env(tmp_path))
    assert r.stdout.replace("\r\n", "\n") == (
        "returning 200\nunilang: main returned 200, outside 0..127; exiting with 127\n"), r.stderr
    assert r.returncode == 127


# ------------------------------------------------------------ 5. host memory

def _spec(tmp: Path, memory: str) -> Path:
    shutil.copy(HELLO.parent / "hello.c", tmp / "hello.c")
    spec = tmp / "big.uni"
    spec.write_text('app big {\n    sources = ["hello.c"];\n    requires = [console.lines];\n'
                    f"    memory = {memory};\n}}\n")
    return spec


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemAvailable")


def test_more_memory_than_the_host_has(tmp_path: Path, broken_kvm: dict[str, str]) -> None:
    assert _mem_available() < 1 << 40
    spec = _spec(tmp_path, "1 TiB")
    assert unilang("check", str(spec)).returncode == 0
    out = tmp_path / "out"
    _build(spec, out)
    for env in (_env(tmp_path), broken_kvm):  # the early path, twice (the second with a log)
        r = unilang("run", str(spec), "-o", str(out), env=env)
        assert r.returncode == 1 and r.stdout == ""
        lines = r.stderr.splitlines()
        assert lines[0].startswith("error[U0209]: not enough host memory: the guest needs 1 TiB "
                                   "(1099511627776 bytes) but this host can give "), lines
        assert any(line.startswith("  = note: MemAvailable in /proc/meminfo: ") for line in lines)
    assert _log(broken_kvm) == []  # QEMU never started
    (tmp_path / "hello.c").write_text((tmp_path / "hello.c").read_text() + "\n")
    r = unilang("run", str(spec), "-o", str(out), env=_env(tmp_path))  # stale: the full CLI
    assert r.returncode == 1 and "error[U0209]: not enough host memory" in r.stderr


def test_an_address_space_limit_is_what_the_host_can_give(tmp_path: Path) -> None:
    limit = 400 << 20
    spec = _spec(tmp_path, "1 GiB")
    out = tmp_path / "out"
    _build(spec, out)

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

    r = subprocess.run([sys.executable, "-m", "unilang", "run", str(spec), "-o", str(out)],
                       capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
                       env=_env(tmp_path), preexec_fn=lower)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    have = min(limit, _mem_available())
    assert lines[0].startswith("error[U0209]: not enough host memory: the guest needs 1 GiB "
                               "(1073741824 bytes) but this host can give "), lines
    assert lines[0].endswith(f"({have} bytes)")
    assert f"  = note: RLIMIT_AS (ulimit -v) of this process: 400 MiB ({limit} bytes)" in lines
