"""The `unilang` executable: a no-op `build`, the `run` of an up-to-date
image, and a plain `check`, answer before the CLI (click) is imported.

Everything else goes to ``unilang.cli`` (click).
"""

from __future__ import annotations

import os
import sys


def main(load_site: bool = False) -> None:
    """``load_site``: Python was started without ``site`` (``-S``, by
    ``unilang.launcher``'s script): run it before the full CLI, whose
    dependencies live in site-packages.

    A QEMU the native front started (``unilang.adopt``) is claimed by the early
    `run` or killed before anything else happens."""
    args = sys.argv[1:]
    front = None
    if "UNILANG_FRONT_QEMU" in os.environ:  # a paused QEMU from the native front
        from .adopt import take

        front = take()
    if front is not None and args[:1] != ["run"]:
        front.release()
    if args[:1] == ["build"]:
        try:
            from .fresh import up_to_date_build

            if up_to_date_build(args[1:]):
                sys.exit(0)
        except Exception:  # noqa: BLE001 - any doubt: the full build decides
            pass
    elif args[:1] == ["run"]:
        from .quickrun import quick_run

        status = quick_run(args[1:], front)  # claims or releases ``front``
        if status is not None:
            _exit(status)
    if load_site and "site" not in sys.modules:
        import site

        site.main()
    if args[:1] == ["check"]:
        _check_process(args[1:])
    from .cli import main as cli_main

    cli_main(prog_name="unilang")


def _check_process(args: list[str]) -> None:
    """`check` as a process of its own: no cyclic garbage collection for its life
    (``unilang.cli.main`` re-enables it only for callers that run commands
    in-process), and an exit that does not free what the command built.

    Measured on bench's 10,000-library world: the first collection after the
    command (every object of the model still young) and freeing the syntax
    trees and the model took 0.25-0.3 s of a 1.5 s check.  `check` leaves
    nothing pending (its cache entries are written whole before it ends, no
    threads, no atexit hooks), so flushing the standard streams is enough.

    A plain command line is checked without click (``unilang.checkcmd``);
    anything else goes to the CLI."""
    import gc

    gc.disable()
    try:
        from .checkcmd import quick_check

        quick_check(args)  # returns only when click must decide
        from .cli import main as cli_main

        cli_main(prog_name="unilang")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            _exit(0)
        if isinstance(code, int):
            _exit(code)
        raise
    _exit(0)


def _exit(status: int) -> None:
    """Exit with ``status`` once the output is flushed, without tearing the
    interpreter down: module teardown and the final garbage collection take
    milliseconds that an up-to-date `run` would spend after its guest ended.
    Nothing else is pending on the early path (no atexit hooks, no threads,
    files written whole), so only the standard streams need flushing."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: the descriptor was closed when Python started
            try:
                stream.flush()
            except (OSError, ValueError):
                sys.exit(status)  # the usual exit reports what went wrong with the stream
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
