"""What every command does around its stage, without click: the exit
statuses, diagnostics written to their stream, and the internal-error guard.

``unilang.cli`` (click) and the early path of `check` (``unilang.checkcmd``,
before click is imported) both use these, so the two print and exit alike.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, NoReturn

from .diagnostics import Diagnostic, Severity, error

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def emit_diagnostics(session: Any, diags: list[Diagnostic], fmt: str,
                     extra: dict[str, object] | None = None) -> None:
    if fmt == "text" and not diags:
        return  # nothing to write: the renderer is not even imported
    from .render import TextRenderer, render_json, use_color

    if fmt == "json":
        sys.stdout.write(render_json(diags, extra))
        return
    if fmt == "sarif":
        from .sarif import render_sarif

        sys.stdout.write(render_sarif(diags, session.files.get, extra))
        return
    r = TextRenderer(session.source_text, use_color(sys.stderr))
    for d in diags:
        sys.stderr.write(r.render(d) + "\n")
    summary = r.summary(diags)
    if summary:
        sys.stderr.write(f"{summary} emitted\n")


def failing(diags: list[Diagnostic], werror: bool = False) -> bool:
    """Whether ``diags`` fail the command: an error, or a warning with ``--werror``."""
    return any(d.is_error or (werror and d.severity is Severity.WARNING) for d in diags)


def finish(diags: list[Diagnostic], werror: bool = False) -> NoReturn:
    sys.exit(EXIT_ERRORS if failing(diags, werror) else EXIT_OK)


def guarded(fn: Callable[..., Any],
            passing: tuple[type[BaseException], ...] = ()) -> Callable[..., Any]:
    """Turn any unexpected exception into an internal-error diagnostic and exit 3.

    ``SystemExit``, ``KeyboardInterrupt`` and the exception types in
    ``passing`` (the CLI's: click's own exits and usage errors) go through."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt, *passing):
            raise
        except RecursionError:
            _internal("recursion limit exceeded")
        except MemoryError:
            _internal("out of memory")
        except Exception as exc:  # noqa: BLE001 - this is the last line of defence
            _internal(f"{type(exc).__name__}: {exc}")

    return wrapper


def _internal(what: str) -> NoReturn:
    import traceback
    from pathlib import Path

    from .render import TextRenderer

    tb = traceback.extract_tb(sys.exc_info()[2])
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    d = error("U0999", f"internal compiler error: {what}",
              notes=(f"raised at {where}",),
              help="this is a bug in unilang; please report it with the input that triggers it")
    sys.stderr.write(TextRenderer(lambda _n: None).render(d))
    sys.exit(EXIT_INTERNAL)
