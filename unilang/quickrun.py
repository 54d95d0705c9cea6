"""The early path of `unilang run`: boot an up-to-date image before click,
attrs or jinja2 are imported (``unilang.entry`` calls ``quick_run``).

Only the standard library is imported here, and of it only what QEMU's
start cannot wait for: no ``typing``, ``json``, ``re``, ``pathlib``,
``subprocess`` or ``socket`` (bench/README.md says what each would cost);
the booting itself is ``unilang.run``'s, shared with the full CLI.
"""

from __future__ import annotations

import os
import sys

from .adopt import Front, claim, release
from .run import (INTERNAL_EXIT, Forward, Prepared, Problem, RunResult, StopSignals, Stopped, boot,
                  discard, prepare, render_problem, resume, runtime_argv, spawn, stop, wait)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    RunArgs = tuple[str, str, str | None, float, str | None, tuple[Forward, ...]]


def parse_run_args(args: list[str]) -> RunArgs | None:
    """(spec, backend, outdir, timeout, accel, forwards) of a plain `run` command line,
    or None for anything else (click then decides: help, errors, other options).
    The grammar is ``unilang.cliargs``', which click's options are made from."""
    from .cliargs import parse

    o = parse("run", args)
    if o is None:
        return None
    return (o["spec"], o["backend"], o["outdir"], o["timeout"],
            None if o["accel"] == "auto" else o["accel"], o["forwards"])


def _read_json(path: str) -> Any:
    from .quickjson import loads

    try:
        with open(path, encoding="utf-8") as f:
            return loads(f.read())
    except (OSError, ValueError, RecursionError):
        return None


def _guess_outdir(spec: str, backend: str, outdir: str | None) -> str:
    """Where the image of `run SPEC` most likely is, before anything is checked:
    ``-o``, else ``build/<spec's file name>/<backend>`` (the app is usually
    named after its file).  Only a guess: the boot goes ahead only when the
    up-to-date check finds the image there."""
    if outdir is not None:
        return os.path.normpath(outdir)
    stem = os.path.splitext(os.path.basename(spec))[0]
    return os.path.join("build", stem, backend)


def _fresh(spec: str, backend: str, outdir: str | None,
           later: list[Any] | None = None) -> tuple[str, dict[str, Any]] | None:
    try:
        from .fresh import build_key, fresh_build

        key = build_key(spec, backend, outdir)
        return fresh_build(key, backend, outdir, later=later) if key is not None else None
    except Exception:  # noqa: BLE001 - any doubt: the full command decides
        return None


def _run_later(later: list[Any]) -> None:
    """Bookkeeping the boot did not wait for (the stamp's refresh)."""
    for job in later:
        try:
            job()
        except Exception:  # noqa: BLE001 - only an optimisation of the next check
            pass


def _same_dir(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _quick_boot(spec: str, backend: str, outdir: str | None, timeout: float,
                accel: str | None, forwards: tuple[Forward, ...] = (),
                front: Front | None = None) -> int | None:
    """The early path.  QEMU's own start-up (tens of milliseconds) overlaps the
    up-to-date check: QEMU is started *paused* (`-S`: no guest instruction
    runs) on the image where it most likely is, the check runs meanwhile, and
    the guest is resumed only when the check finds that very image up to date
    with the same command line.  Otherwise the paused QEMU is killed and the
    image that was found is booted, or the full CLI decides.

    ``front``: the paused QEMU the native front started before Python did
    (``unilang.adopt``); it stands in for ``spawn`` when it is the very QEMU
    ``spawn`` would start here, and is killed otherwise."""
    guess = _guess_outdir(spec, backend, outdir)
    manifest = _read_json(os.path.join(guess, "manifest.json"))
    notes: list[str] = []
    ready = None
    if isinstance(manifest, dict) and os.path.isfile(os.path.join(guess, "qemu.json")):
        try:
            ready = prepare(guess, manifest, accel, notes.append, forwards)
        except (OSError, ValueError, TypeError, AttributeError):
            ready = None  # an odd qemu.json or manifest: no head start
    if not isinstance(ready, Prepared):
        release(front)
        found = _fresh(spec, backend, outdir)
        if found is None:
            return None
        image, fresh_manifest = found
        _flush_stdout()
        return _report(boot(os.path.dirname(image) or ".", fresh_manifest, timeout, accel,
                            forwards=forwards))
    proc = monitor = None
    with StopSignals():
        try:
            claimed = claim(front, ready, guess) if front is not None else None
            if claimed is not None:
                proc, monitor = claimed
            else:
                proc, monitor = spawn(ready.argv, guess, None, paused=True)
            later: list[Any] = []
            found = _fresh(spec, backend, outdir, later)
            confirmed = (found is not None and _same_dir(os.path.dirname(found[0]) or ".", guess)
                         and found[1] == manifest
                         and prepare_argv_unchanged(guess, ready, forwards))
            if not confirmed:
                discard(proc)
                proc = None
                if found is None:
                    return None
            else:
                for note in notes:
                    sys.stderr.write(note)
                _flush_stdout()
                resume(monitor)
                _run_later(later)  # while the guest runs
                return _report(wait(proc, ready.accel, timeout))
        except Stopped as stopped:
            if proc is not None:
                stop(proc, stopped.signo)
            return 128 + stopped.signo
        finally:
            if monitor is not None:
                monitor.close()
    image, fresh_manifest = found
    _flush_stdout()
    return _report(boot(os.path.dirname(image) or ".", fresh_manifest, timeout, accel,
                        forwards=forwards))


def prepare_argv_unchanged(outdir: str, ready: Prepared,
                           forwards: tuple[Forward, ...] = ()) -> bool:
    """Whether qemu.json still gives the command line QEMU was started with."""
    try:
        argv = runtime_argv(outdir, ready.accel, forwards)
    except (OSError, ValueError):
        return False
    return argv[1:] == ready.argv[1:]


def _flush_stdout() -> None:
    """Flush what was printed before QEMU writes to the same stdout (None:
    the descriptor was closed when Python started; QEMU then gets /dev/null)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _report(outcome: RunResult) -> int:
    if outcome.problem is not None:
        sys.stderr.write(render_problem(outcome.problem))
    return outcome.exit_code


def quick_run(args: list[str], front: Front | None = None) -> int | None:
    """Boot `unilang run ARGS` when its image is up to date; the exit status,
    or None when the full CLI must decide (no guest has run then).  ``front``
    (the native front's paused QEMU) is claimed or released on every path."""
    try:
        parsed = parse_run_args(args)
        if parsed is None:
            return None
        try:
            return _quick_boot(*parsed, front=front)
        except Exception as exc:  # noqa: BLE001 - never fall back once a guest may have run
            sys.stderr.write(render_problem(Problem(
                "U0999", f"internal compiler error: {type(exc).__name__}: {exc}",
                help="this is a bug in unilang; please report it with the input that triggers it")))
            return INTERNAL_EXIT
    finally:
        release(front)
