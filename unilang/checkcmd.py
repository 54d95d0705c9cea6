"""`unilang check` without click: the command's body, and its early path.

``unilang.cli``'s `check` calls ``check``; so does ``quick_check``, which
``unilang.entry`` runs before click is imported (click and what it imports,
``inspect``, ``ast``, ``uuid``, ``platform``, ``gettext`` ..., are about
18 ms and 3 MiB of a check's start).  ``quick_check`` parses a plain command
line with ``unilang.cliargs``, the grammar click's options of `check` are
made from; anything else (help, an unknown option, a bad value, a spec
click would refuse) is left to click, with its own messages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from .command import EXIT_ERRORS, EXIT_OK, emit_diagnostics, failing, guarded
from .paths import backend_names

#: The variable that asks click's `unilang` group for shell completion.
COMPLETE_VAR = "_UNILANG_COMPLETE"


def check(spec: Path, backend: str, fmt: str, werror: bool) -> NoReturn:
    """Check ``spec`` for ``backend`` (a backend's name, or ``all``), print the
    diagnostics as ``fmt`` (text, json, sarif) and exit 0 or 1."""
    from .driver import check_spec

    backends = list(backend_names()) if backend == "all" else [backend]
    session, results = check_spec(spec, backends, reuse_results=True)
    diags = session.sink.sorted()
    extra = {"spec": str(spec), "backends": backends,
             "ok": not any(d.is_error for d in diags)}
    emit_diagnostics(session, diags, fmt, extra)
    bad = failing(diags, werror)
    if fmt == "text" and not bad and sys.stdout is not None:
        app = next((r.app_name for r in results if r.app_name), "?")
        sys.stdout.write(f"ok: app `{app}` checks clean for {', '.join(backends)}\n")
        sys.stdout.flush()
    sys.exit(EXIT_ERRORS if bad else EXIT_OK)


def _spec_click_accepts(spec: str) -> bool:
    """Whether ``click.Path()`` (the SPEC argument's type) takes ``spec``:
    anything that does not exist, else only what is readable."""
    try:
        os.stat(spec)
    except OSError:
        return True
    except ValueError:  # a NUL byte: click's own error
        return False
    return os.access(spec, os.R_OK)


def quick_check(args: list[str]) -> None:
    """Run `unilang check ARGS` and exit (SystemExit) when ARGS is a plain command
    line; return when click must decide.  The same body and guard as the click
    command's, and a KeyboardInterrupt ends as click's does (`Aborted!`, exit 1)."""
    if os.environ.get(COMPLETE_VAR):
        return
    from .cliargs import parse

    o = parse("check", args)
    if o is None or not _spec_click_accepts(o["spec"]):
        return
    try:
        guarded(check)(Path(o["spec"]), o["backend"], o["fmt"], o["werror"])
    except KeyboardInterrupt:
        if sys.stderr is not None:
            sys.stderr.write("\nAborted!\n")
        sys.exit(EXIT_ERRORS)
