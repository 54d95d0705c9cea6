"""The output directory contract, crash-safe publishing, the build lock, and
an up-to-date check that never hides a change (docs/build.md, "Outputs")."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from support import ROOT, needs_tools, unilang
from unilang.fresh import up_to_date_build

EXAMPLES = ROOT / "examples"
MARKER = ".unilang-output"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _consistent(out: Path, image: str = "hello.elf") -> dict[str, object]:
    """OUT holds one complete set: the marker's files all there, the image's
    sha256 equal to its manifest's.  Returns the manifest."""
    listed = json.loads((out / MARKER).read_text())["files"]
    assert all((out / n).is_file() for n in listed), listed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sha256"] == _sha((out / image).read_bytes())
    return manifest


def _app(tmp_path: Path, header: str = "v0") -> Path:
    """A small app whose message comes from a header beside its source."""
    app = tmp_path / "app"
    app.mkdir(parents=True)
    (app / "app.uni").write_text('app tiny {\n    sources = ["main.c"];\n'
                                 '    requires = [console.lines];\n    memory = 16 MiB;\n}\n')
    (app / "main.c").write_text('#include <unilang/runtime.h>\n#include "msg.h"\n'
                                "int main(void) { unilang_puts(MSG); return 0; }\n")
    (app / "msg.h").write_text(f'#define MSG "{header}"\n')
    return app


# ------------------------------------------------------------ never lose data

@needs_tools
def test_refuses_a_directory_it_does_not_own(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("x\n")
    r = unilang("build", str(EXAMPLES / "hello/hello.uni"), "-o", str(keep))
    assert r.returncode == 1
    assert f"error[U0206]: output directory `{keep}` is not empty and was not written by " \
           "unilang" in r.stderr
    assert "= note: it holds `notes.txt`" in r.stderr
    # nothing deleted, nothing created, not even beside it
    assert _tree(keep) == {"notes.txt": b"x\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


@needs_tools
def test_refuses_the_spec_folder_and_the_current_directory(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "hello", app)
    before = _tree(tmp_path)
    r = unilang("build", str(app / "hello.uni"), "-o", str(app))
    assert r.returncode == 1
    assert f"error[U0206]: `{app}` is the spec's own folder; a build does not write there" \
        in r.stderr
    r = unilang("build", "app/hello.uni", "-o", ".", cwd=tmp_path)
    assert r.returncode == 1
    assert "error[U0206]: `.` is the current directory; a build does not write there" in r.stderr
    assert "U0204" not in r.stderr and "U0999" not in r.stderr
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app"]  # no `..new-*`, no `..work`


@needs_tools
def test_an_owned_directory_keeps_files_unilang_did_not_write(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    out.mkdir()  # an empty directory may be claimed
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    (out / "notes.txt").write_text("mine\n")
    (app / "msg.h").write_text('#define MSG "v1"\n')
    r = unilang("build", str(app / "app.uni"), "-o", str(out))
    assert r.returncode == 0 and "built:" in r.stderr, r.stderr
    assert (out / "notes.txt").read_text() == "mine\n"
    assert "notes.txt" not in json.loads((out / MARKER).read_text())["files"]
    # a directory it cannot carry over is refused, not deleted
    (out / "mine").mkdir()
    (app / "msg.h").write_text('#define MSG "v2"\n')
    r = unilang("build", str(app / "app.uni"), "-o", str(out))
    assert r.returncode == 1
    assert f"error[U0206]: output directory `{out}` holds `mine`, which unilang did not write" \
        in r.stderr
    assert (out / "mine").is_dir() and (out / "notes.txt").exists()


@needs_tools
def test_an_unmarked_output_of_an_older_unilang_is_recognised(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    (out / MARKER).unlink()  # what an older unilang left
    (app / "msg.h").write_text('#define MSG "v1"\n')
    r = unilang("build", str(app / "app.uni"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    _consistent(out, "tiny.elf")


# ------------------------------------------------------------ crash-safe publish

_PUBLISH = textwrap.dedent("""
    import hashlib, json, os, sys
    from pathlib import Path
    from unilang.outdir import OutputDir

    def files(tag):
        image = (tag * 4096).encode()
        manifest = json.dumps({"sha256": hashlib.sha256(image).hexdigest()}).encode()
        return {"hello.elf": (image, 0o755), "manifest.json": (manifest, 0o644),
                "run-qemu.sh": (b"#!/bin/sh\\n" + tag.encode(), 0o755)}

    out, tag, kill_at, exchange = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    def fault(step):
        if step == kill_at:
            os.kill(os.getpid(), 9)
    d = OutputDir(Path(out))
    d.recover()
    keep = d.check_target(Path(out).parent / "spec.uni", list(files(tag)))
    d.publish(files(tag), keep, fault, exchange=exchange)
""")

EXCHANGE_STEPS = ["mkdtemp", "marker", "write hello.elf", "write manifest.json",
                  "write run-qemu.sh", "keep notes.txt", "sync", "exchange", "remove previous"]
FALLBACK_STEPS = EXCHANGE_STEPS[:-2] + ["rename out", "rename new", "remove previous"]


def _publish(out: Path, tag: str, kill_at: str = "", exchange: bool = True) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", _PUBLISH, str(out), tag, kill_at,
                           "1" if exchange else "0"], env=env, timeout=60).returncode


def _publish_state(out: Path) -> str:
    _consistent(out)
    tag = (out / "run-qemu.sh").read_bytes()[-1:].decode()
    assert (out / "hello.elf").read_bytes() == (tag * 4096).encode()
    return tag


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
@pytest.mark.parametrize("step", sorted(set(EXCHANGE_STEPS + FALLBACK_STEPS)))
def test_publish_survives_a_kill_after_every_step(tmp_path: Path, step: str,
                                                  exchange: bool) -> None:
    steps = EXCHANGE_STEPS if exchange else FALLBACK_STEPS
    if step not in steps:
        pytest.skip(f"`{step}` is not a step of this publish")
    out = tmp_path / "out"
    assert _publish(out, "A") == 0
    (out / "notes.txt").write_text("mine\n")
    assert _publish(out, "B", kill_at=step, exchange=exchange) == -signal.SIGKILL
    if exchange:  # at every instant OUT is one whole set, old or new
        assert _publish_state(out) in ("A", "B")
    # the next publish cleans up by itself and completes
    assert _publish(out, "C", exchange=exchange) == 0
    assert _publish_state(out) == "C"
    assert (out / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "stale temporaries left"


def test_recover_puts_back_the_previous_output_after_a_crash_between_renames(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _publish(out, "A") == 0
    assert _publish(out, "B", kill_at="rename out", exchange=False) == -signal.SIGKILL
    assert not out.exists()  # the window the two-rename fallback has
    from unilang.outdir import OutputDir

    OutputDir(out).recover()
    assert _publish_state(out) == "A"


@needs_tools
def test_fifty_random_kills_during_builds(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "unilang", "build", str(app / "app.uni"), "-o", str(out)]
    t0 = time.monotonic()
    assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
    span = time.monotonic() - t0
    rng = random.Random(20261130)
    deadline = time.monotonic() + 240
    for i in range(50):
        assert time.monotonic() < deadline, f"only {i} kills in the time allowed"
        (app / "msg.h").write_text(f'#define MSG "v{i}"\n')
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, span * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        _consistent(out, "tiny.elf")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    manifest = _consistent(out, "tiny.elf")
    assert manifest["sources"]["src/app/msg.h"] == _sha(b'#define MSG "v49"\n')
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".out.lock", ".out.work", "app", "out"], left


# ------------------------------------------------------------ one build at a time

@needs_tools
def test_concurrent_builds_with_header_edits_publish_only_true_images(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    variants = {f"v{i}": f'#define MSG "v{i}"\n'.encode() for i in range(6)}
    by_hash = {_sha(data): tag for tag, data in variants.items()}
    cmd = [sys.executable, "-m", "unilang", "build", str(app / "app.uni"), "-o", str(out)]
    seen: dict[str, bytes] = {}  # header variant -> published image
    stop = threading.Event()

    def sample() -> None:  # look at OUT under the builds' own lock, as often as possible
        lock = tmp_path / ".out.lock"
        while not stop.is_set():
            if lock.exists() and out.exists():
                with open(lock) as f:
                    fcntl.flock(f, fcntl.LOCK_EX)
                    manifest = _consistent(out, "tiny.elf")
                    tag = by_hash[manifest["sources"]["src/app/msg.h"]]
                    seen.setdefault(tag, (out / "tiny.elf").read_bytes())
                    assert seen[tag] == (out / "tiny.elf").read_bytes()
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    procs = []
    try:
        for i in range(10):
            (app / "msg.h").write_bytes(variants[f"v{i % 6}"])
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
            time.sleep(0.15)
        results = [p.communicate(timeout=180) for p in procs]
    finally:
        stop.set()
        sampler.join(timeout=30)
    for p, (_o, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "U0999" not in err and "U0204" not in err
    assert any("waiting for another build of" in err for _o, err in results)
    # every image seen published equals a clean build of the header it reports
    assert seen
    for tag, image in seen.items():
        clean = _app(tmp_path / f"clean-{tag}", tag)
        assert unilang("build", str(clean / "app.uni"), "-o",
                       str(tmp_path / f"clean-{tag}" / "out")).returncode == 0
        assert (tmp_path / f"clean-{tag}" / "out" / "tiny.elf").read_bytes() == image, tag
    # ninja's deps log is intact: a header edit still rebuilds
    (app / "msg.h").write_text('#define MSG "after"\n')
    r = unilang("build", str(app / "app.uni"), "-o", str(out))
    assert r.returncode == 0 and "CC src/app/main.c" in r.stderr, r.stderr
    assert b"after" in (out / "tiny.elf").read_bytes()


# ------------------------------------------------------------ never publish a stale image

def _fake_gcc(bindir: Path, body: str = "") -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    gcc = bindir / "gcc"
    gcc.write_text(f"#!/bin/sh\n{body}exec {shutil.which('gcc')} \"$@\"\n")
    gcc.chmod(0o755)
    return gcc


@needs_tools
def test_a_file_saved_during_the_build_is_built_next_time(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    flag = tmp_path / "compiling"
    # a compiler that takes its time over main.c, and says when it started
    _fake_gcc(tmp_path / "bin", f'case "$*" in *main.c*) touch {flag}; sleep 2;; esac\n')
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "unilang", "build", str(app / "app.uni"), "-o", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    (app / "msg.h").write_text('#define MSG "saved during the build"\n')
    assert proc.wait(timeout=60) == 0
    assert b"saved during" not in (out / "tiny.elf").read_bytes()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "built:" in r.stderr, r.stderr
    assert b"saved during the build" in (out / "tiny.elf").read_bytes()


@needs_tools
@pytest.mark.parametrize("folder", ["build", ".hidden"])
def test_imports_from_any_folder_are_in_the_up_to_date_key(tmp_path: Path, folder: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path)
    (app / folder).mkdir()
    (app / folder / "limits.uni").write_text("policy small { max_image_size = 1 MiB; }\n")
    spec = app / "app.uni"
    spec.write_text(f'import "{folder}/limits.uni";\n' + spec.read_text().replace(
        "memory = 16 MiB;", "memory = 16 MiB;\n    policies = [small];"))
    out = tmp_path / "out"
    assert unilang("build", str(spec), "-o", str(out)).returncode == 0
    monkeypatch.chdir(ROOT)
    assert up_to_date_build([str(spec), "-o", str(out)])
    (app / folder / "limits.uni").write_text("policy small { max_image_size = 2 MiB; }\n")
    assert not up_to_date_build([str(spec), "-o", str(out)])
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 0 and "built:" in r.stderr
    assert "max_image_size 2097152" in (out / "manifest.json").read_text()


@needs_tools
def test_a_module_that_would_shadow_an_import_is_noticed(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path)
    spec = app / "app.uni"
    spec.write_text("import net;\n" + spec.read_text())  # found in stdlib today
    out = tmp_path / "out"
    assert unilang("build", str(spec), "-o", str(out)).returncode == 0
    monkeypatch.chdir(ROOT)
    assert up_to_date_build([str(spec), "-o", str(out)])
    (app / "net.uni").write_text("construct mine.thing;\n")  # now the project's comes first
    assert not up_to_date_build([str(spec), "-o", str(out)])


@needs_tools
def test_another_compiler_or_one_changed_in_place_rebuilds_everything(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    gcc = _fake_gcc(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    r = unilang("build", str(app / "app.uni"), "-o", str(out), env=env)
    assert r.returncode == 0 and "up to date" not in r.stderr, r.stderr
    assert f"cc = {gcc}\n" in (out / "build.ninja").read_text()
    compiled = r.stderr.count(" CC ")
    assert compiled >= 3  # every object, not just what changed
    assert "up to date" in unilang("build", str(app / "app.uni"), "-o", str(out),
                                   env=env).stderr
    gcc.write_text(gcc.read_text() + "# upgraded in place\n")
    r = unilang("build", str(app / "app.uni"), "-o", str(out), env=env)
    assert r.returncode == 0 and r.stderr.count(" CC ") == compiled, r.stderr


@needs_tools
def test_a_rebuild_restores_the_modes_of_outputs(tmp_path: Path) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    (out / "run-qemu.sh").chmod(0o644)
    r = unilang("build", str(app / "app.uni"), "-o", str(out))
    assert r.returncode == 0 and "built:" in r.stderr
    assert (out / "run-qemu.sh").stat().st_mode & 0o777 == 0o755


# ------------------------------------------------------------ any path

WEIRD = "we ird 'q\"$x#\u00e9"


@needs_tools
def test_checkout_and_output_paths_with_spaces_quotes_dollars_hashes(tmp_path: Path) -> None:
    from test_build import _checkout_copy

    normal = tmp_path / "normal"
    r = unilang("build", str(EXAMPLES / "hello/hello.uni"), "-o", str(normal))
    assert r.returncode == 0, r.stderr
    root = _checkout_copy(tmp_path / WEIRD / "checkout")
    out = tmp_path / f"o ut $y #'\u00fc\"" / "out"
    env = dict(os.environ, PYTHONPATH=str(root))
    r = unilang("build", "examples/hello/hello.uni", "-o", str(out), cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert (out / "hello.elf").read_bytes() == (normal / "hello.elf").read_bytes()
    assert "up to date" in unilang("build", "examples/hello/hello.uni", "-o", str(out),
                                   cwd=root, env=env).stderr


@needs_tools
@pytest.mark.parametrize("victim", ["manifest.json", MARKER, "stamp"])
def test_the_early_check_never_blocks_on_a_fifo(tmp_path: Path, victim: str) -> None:
    app = _app(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    path = (tmp_path / ".out.work" / ".unilang-stamp.json") if victim == "stamp" else out / victim
    path.unlink()
    os.mkfifo(path)
    code = ("import sys; from unilang.fresh import up_to_date_build; "
            f"sys.exit(7 if up_to_date_build([{str(app / 'app.uni')!r}, '-o', {str(out)!r}]) else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=30, capture_output=True)
    assert r.returncode == 0, r.stderr


@needs_tools
def test_a_new_library_folder_is_noticed_by_the_up_to_date_check(tmp_path: Path) -> None:
    from test_build import _checkout_copy

    root = _checkout_copy(tmp_path / "checkout")
    env = dict(os.environ, PYTHONPATH=str(root))
    args = ["build", "examples/hello/hello.uni", "-o", str(tmp_path / "out")]
    assert unilang(*args, cwd=root, env=env).returncode == 0
    assert "up to date" in unilang(*args, cwd=root, env=env).stderr
    lib = root / "stdlib" / "lib" / "extra"
    lib.mkdir()
    (lib / "extra.uni").write_text('library extra { doc = "x"; provides = [rng]; }\n')
    r = unilang(*args, cwd=root, env=env)
    assert "up to date" not in r.stderr, r.stderr


@needs_tools
def test_an_output_changed_in_place_is_noticed_after_tokens_were_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The early check records status tokens once files qualify (and then reads
    nothing); an output rewritten with its size and mtime kept still counts."""
    from unilang import fresh

    app = _app(tmp_path)
    out = tmp_path / "out"
    assert unilang("build", str(app / "app.uni"), "-o", str(out)).returncode == 0
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(fresh, "RACY_NS", 0)
    args = [str(app / "app.uni"), "-o", str(out)]
    assert up_to_date_build(args)  # reads the files, records tokens
    stamp = json.loads((tmp_path / ".out.work" / ".unilang-stamp.json").read_text())
    assert str(out / "run-qemu.sh") in stamp["output_tokens"]
    assert up_to_date_build(args)
    script = out / "run-qemu.sh"
    st = script.stat()
    data = script.read_bytes()
    script.write_bytes(data.replace(b"exec", b"EXEC", 1))
    os.utime(script, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not up_to_date_build(args)
