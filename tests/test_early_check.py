"""`unilang check` without click (unilang.checkcmd, run by unilang.entry) says
and exits exactly what the click command says: the same stdout, stderr and
exit status for clean specs, errors, warnings with and without --werror, every
format and backend, colours on a terminal, NO_COLOR, a closed stdout, an
internal error (U0999) and an interrupt.

Both paths run as whole processes.  The early one runs with click made
unimportable (``sys.modules["click"] = None``), so a command line it does not
take itself would fail instead of quietly comparing click with click; the
click one runs ``unilang.cli.main`` directly, which never takes the early path.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from hypothesis import given, settings, strategies as st

from unilang import cli, launcher
from unilang.cliargs import OPTIONS, parse
from support import ROOT, imported_modules

HELLO = "examples/hello/hello.uni"
ERRORS = "examples/errors/U0031-unknown-library.uni"
WARNS = "examples/errors/U0151-override-equals-default.uni"
CYCLE = "examples/errors/U0022-import-cycle/main.uni"

EARLY = "import sys; sys.modules['click'] = None; from unilang.entry import main; main()"
CLICK = "from unilang.cli import main; main(prog_name='unilang')"
#: An internal error inside the check, for both paths.
BOOM = ("import unilang.check\n"
        "def boom(self):\n    raise {exc}\n"
        "unilang.check.Checker.run = boom\n")


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return dict(env, XDG_CACHE_HOME=str(cache), **extra)


def _run(code: str, args: list[str], cache: Path, **env: str) -> tuple[int, bytes, bytes]:
    r = subprocess.run([sys.executable, "-c", code, "check", *args], capture_output=True,
                       cwd=ROOT, env=_env(cache, **env), timeout=300, check=False)
    return r.returncode, r.stdout, r.stderr


def _both(tmp_path: Path, args: list[str], prefix: str = "",
          **env: str) -> tuple[int, bytes, bytes]:
    """What each path gives for `check ARGS` (each with a cache of its own, so
    both check cold); they must agree; the early path's result."""
    early = _run(prefix + EARLY, args, tmp_path / "early-cache", **env)
    full = _run(prefix + CLICK, args, tmp_path / "click-cache", **env)
    assert early == full, args
    return early


CASES = [
    ([HELLO], 0),
    ([HELLO, "-b", "kvm"], 0),
    ([HELLO, "--backend=XEN"], 0),
    ([HELLO, "-b", "ALL", "--werror"], 0),
    ([HELLO, "--format", "json"], 0),
    ([HELLO, "--format=sarif", "-b", "xen"], 0),
    ([ERRORS], 1),
    ([ERRORS, "--format", "json", "-b", "kvm"], 1),
    (["--format", "sarif", ERRORS], 1),
    ([WARNS], 0),
    ([WARNS, "--werror"], 1),
    ([WARNS, "--werror", "--format", "json"], 1),
    ([WARNS, "--format", "sarif", "--werror"], 1),
    ([CYCLE, "-b", "all"], 1),
    (["examples/no-such-spec.uni"], 1),
    (["examples/hello"], 1),  # a folder: click.Path takes it, the loader says what is wrong
]


@pytest.mark.parametrize(("args", "status"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_early_check_says_what_the_click_command_says(tmp_path: Path, args: list[str],
                                                      status: int) -> None:
    code, out, err = _both(tmp_path, args)
    assert code == status, err.decode()
    if "--format" not in " ".join(args) and status == 0:
        assert out.startswith(b"ok: app `")
    if status == 1 and "json" not in args and "--format=sarif" not in args \
            and "sarif" not in args:
        assert b"error" in err


def test_an_internal_error_and_an_interrupt_end_alike(tmp_path: Path) -> None:
    code, out, err = _both(tmp_path, [HELLO], BOOM.format(exc='RuntimeError("boom")'))
    assert (code, out) == (3, b"")
    assert err.startswith(b"error[U0999]: internal compiler error: RuntimeError: boom")
    assert b"raised at <string>:3" in err and b"Traceback" not in err
    code, out, err = _both(tmp_path, [HELLO, "--format", "json"],
                           BOOM.format(exc="RecursionError()"))
    assert (code, out) == (3, b"")
    assert b"internal compiler error: recursion limit exceeded" in err
    assert _both(tmp_path, [HELLO], BOOM.format(exc="KeyboardInterrupt()")) == \
        (1, b"", b"\nAborted!\n")


def test_a_closed_stdout_and_no_color_are_treated_alike(tmp_path: Path) -> None:
    results = []
    for code in (EARLY, CLICK):
        r = subprocess.run(["/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-c", code,
                            "check", HELLO, "-b", "kvm"], capture_output=True, cwd=ROOT,
                           env=_env(tmp_path / code[:10]), timeout=300, check=False)
        results.append((r.returncode, r.stdout, r.stderr))
    assert results[0] == results[1] == (0, b"", b"")
    results = [_tty(code, [ERRORS], tmp_path / f"c{i}", NO_COLOR="")
               for i, code in enumerate((EARLY, CLICK))]
    assert results[0] == results[1]
    assert results[0][0] == 1 and b"\x1b[" not in results[0][2] and b"error" in results[0][2]


def test_colours_on_a_terminal_are_the_same(tmp_path: Path) -> None:
    for args in ([ERRORS], [WARNS]):
        early = _tty(EARLY, args, tmp_path / "early")
        full = _tty(CLICK, args, tmp_path / "click")
        assert early == full, args
        assert b"\x1b[" in early[2]  # coloured, because stderr is a terminal


def _tty(code: str, args: list[str], cache: Path, **env: str) -> tuple[int, bytes, bytes]:
    """(status, stdout, stderr) with stderr on a pseudo-terminal (read until the
    child closes it, within two minutes)."""
    cache.mkdir(parents=True, exist_ok=True)
    out_path = cache / "stdout"
    master, slave = os.openpty()
    try:
        with open(out_path, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-c", code, "check", *args], cwd=ROOT,
                                    stdout=out, stderr=slave, env=_env(cache, **env))
        os.close(slave)
        slave = -1
        chunks = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = proc.wait(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return status, out_path.read_bytes(), b"".join(chunks)


# ------------------------------------------------------------ what the early path leaves to click

@pytest.mark.parametrize("args", [[], ["--help"], [HELLO, "-h"], [HELLO, "-b", "qemu"],
                                  [HELLO, "--format", "xml"], [HELLO, "--werror=yes"],
                                  [HELLO, "--bogus"], [HELLO, HELLO], [HELLO, "-b"],
                                  [HELLO, "-bkvm"], ["--", HELLO]])
def test_what_the_early_path_does_not_take_click_answers(tmp_path: Path,
                                                         args: list[str]) -> None:
    assert parse("check", args) is None
    plain = "from unilang.entry import main; main()"
    assert _run(plain, args, tmp_path) == _run(CLICK, args, tmp_path)


def test_an_unreadable_spec_is_left_to_click(tmp_path: Path) -> None:
    from unilang.checkcmd import _spec_click_accepts

    spec = tmp_path / "a.uni"
    assert _spec_click_accepts(str(spec))  # missing: the loader's diagnostic
    spec.write_text("app a {}\n")
    assert _spec_click_accepts(str(spec))
    spec.chmod(0)
    try:
        assert _spec_click_accepts(str(spec)) == os.access(spec, os.R_OK)  # root reads anything
    finally:
        spec.chmod(0o644)


def test_shell_completion_is_left_to_click(tmp_path: Path) -> None:
    code, out, _err = _run("from unilang.entry import main; main()", [HELLO], tmp_path,
                           _UNILANG_COMPLETE="bash_complete", COMP_WORDS="unilang check --f",
                           COMP_CWORD="2")
    assert code == 0 and b"--format" in out and b"ok: app" not in out


# ------------------------------------------------------------ one grammar

def test_click_options_of_check_are_made_from_cliargs() -> None:
    options = [p for p in cli.check.params if isinstance(p, click.Option)]
    table = OPTIONS["check"]
    assert [o.name for o in options if o.name != "help"] == [o.dest for o in table]
    for param, o in zip(options, table):
        assert tuple(param.opts) == o.flags and param.help == o.help
    defaults = cli.check.make_context("check", ["a.uni"]).params
    assert {o.dest: defaults[o.dest] for o in table} == {o.dest: o.default for o in table}
    assert {k: v for k, v in parse("check", ["a.uni"]).items() if k != "spec"} == \
        {o.dest: o.default for o in table}


TOKENS = [HELLO, "b.uni", "", "-b", "--backend", "kvm", "xen", "XEN", "all", "ALL", "qemu",
          "--backend=kvm", "--backend=All", "--format", "text", "json", "sarif", "JSON",
          "--format=json", "--format=", "--werror", "--werror=1", "-bkvm", "-", "--", "-x"]


@settings(max_examples=400)
@given(st.lists(st.sampled_from(TOKENS), max_size=6))
def test_early_parse_agrees_with_click(args: list[str]) -> None:
    """Whatever the early path takes, click takes with the same values."""
    if "-h" in args or "--help" in args:
        return
    ours = parse("check", args)
    try:
        ctx = cli.check.make_context("check", list(args))
    except click.exceptions.ClickException:
        assert ours is None, args
        return
    if ours is None:
        return  # the early path may leave to click what click takes
    assert {"spec": str(ctx.params["spec"]), "backend": ctx.params["backend"],
            "fmt": ctx.params["fmt"], "werror": ctx.params["werror"]} == \
        {"spec": str(Path(ours["spec"])), "backend": ours["backend"], "fmt": ours["fmt"],
         "werror": ours["werror"]}, args


# ------------------------------------------------------------ no click

def test_check_of_hello_does_not_import_click(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache", PYTHONPROFILEIMPORTTIME="1")
    script = tmp_path / "unilang"
    assert launcher.install(str(script))
    for argv in ([sys.executable, "-m", "unilang"], [str(script)]):
        r = subprocess.run([*argv, "check", HELLO], capture_output=True, text=True, cwd=ROOT,
                           env=env, timeout=300, check=False)
        assert (r.returncode, r.stdout) == (0, "ok: app `hello` checks clean for kvm, xen\n")
        imported = imported_modules(r.stderr)
        assert "unilang.checkcmd" in imported and "unilang.driver" in imported, argv
        assert not imported & {"click", "unilang.cli"}, argv
    r = subprocess.run([sys.executable, "-m", "unilang", "check", HELLO, "--help"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
                       check=False)
    assert r.returncode == 0 and "click" in imported_modules(r.stderr)  # help: click's


#: What a clean cold `check` never needs, so never imports (a few ms of its start
#: each; tests/test_cache.py: nor OpenSSL): tomllib (unilang.quicktoml reads the
#: backend descriptors), the lark front (the fast path took every file), the
#: renderer (no diagnostic to write), the sealed-folder walk (no `files`).
NOT_FOR_A_CLEAN_CHECK = {"tomllib", "datetime", "lark", "unilang.front.lark", "unilang.render",
                         "unilang.sealed", "hashlib", "hmac", "click", "unilang.cli"}


def test_a_clean_cold_check_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    script = tmp_path / "unilang"
    assert launcher.install(str(script))
    for n, argv in enumerate(([sys.executable, "-m", "unilang"], [str(script)])):
        env = _env(tmp_path / f"cache-{n}", PYTHONPROFILEIMPORTTIME="1")
        r = subprocess.run([*argv, "check", HELLO, "-b", "all"], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=300, check=False)
        assert (r.returncode, r.stdout) == (0, "ok: app `hello` checks clean for kvm, xen\n")
        imported = imported_modules(r.stderr)
        assert "unilang.backend" in imported and "unilang.front.fast" in imported, argv
        assert not imported & NOT_FOR_A_CLEAN_CHECK, (argv, imported & NOT_FOR_A_CLEAN_CHECK)
    # a check with something to say renders it (the list above is not vacuous)
    r = subprocess.run([sys.executable, "-m", "unilang", "check", CYCLE], capture_output=True,
                       text=True, cwd=ROOT, env=_env(tmp_path / "cache-cycle",
                                                     PYTHONPROFILEIMPORTTIME="1"),
                       timeout=300, check=False)
    assert r.returncode == 1 and "error[U0022]" in r.stderr
    assert "unilang.render" in imported_modules(r.stderr)
