"""``unilang fmt`` on files: which files, reading them, writing the result.

The layout itself is ``unilang.fmt`` (a pure function of the text); this module
only finds the files (``project_files``), reads each with the front end's
checks (``unilang.front.source.read_source``: UTF-8, no NUL, size limit), and
writes a changed file atomically (``unilang.fsutil.atomic_write``), keeping its
permission bits.  A file that does not read or parse is left as it is, and its
diagnostics are returned.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import attrs

from .diagnostics import Diagnostic, error
from .fmt import format_source
from .front.source import SourceFile, display_name, read_source
from .loader import PROJECT_MARKER
from .fresh import MARKER as OUTPUT_MARKER


@attrs.frozen
class FileResult:
    path: Path
    name: str
    #: "unchanged", "changed" (written, or with ``check`` would be), "error"
    status: str
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the text as read (for rendering diagnostics), when it could be read
    text: str | None = None


def project_root(start: Path) -> Path:
    """The folder of the nearest ``unilang.toml`` at or above ``start``, else ``start``
    (the rule the loader uses for a spec's project root)."""
    start = Path(os.path.realpath(start))
    for d in (start, *start.parents):
        if os.path.isfile(d / PROJECT_MARKER):
            return d
    return start


def project_files(root: Path) -> list[Path]:
    """Every ``.uni`` file below ``root``, sorted; hidden folders (``.git``,
    ``.venv``), unilang's output folders and symbolic links to folders are
    skipped."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (here / d / OUTPUT_MARKER).exists())
        found.extend(here / f for f in files if f.endswith(".uni") and not f.startswith("."))
    return sorted(found)


def format_file(path: Path, check: bool) -> FileResult:
    """Format one file in place (with ``check``, only say whether it would change)."""
    name = display_name(path)
    src = read_source(path, name)
    if isinstance(src, Diagnostic):
        return FileResult(path, name, "error", (src,))
    return _finish(path, name, src, check)


def _finish(path: Path, name: str, src: SourceFile, check: bool) -> FileResult:
    res = format_source(src)
    if res.text is None:
        return FileResult(path, name, "error", res.diagnostics, src.text)
    new = res.text.encode("utf-8")
    try:
        old = path.read_bytes()  # the bytes, not the text: a BOM or CRLF is a change
    except OSError:
        old = b""
    if new == old:
        return FileResult(path, name, "unchanged", res.diagnostics, src.text)
    if not check:
        from .fsutil import atomic_write

        real = Path(os.path.realpath(path))  # write the file a link points to, keep the link
        try:
            mode = stat.S_IMODE(os.stat(real).st_mode)
            atomic_write(real, new, mode=mode)
        except OSError as exc:
            why = exc.strerror or str(exc)
            return FileResult(path, name, "error", res.diagnostics + (error(
                "U0217", f"cannot write the formatted `{name}`: {why}",
                help="the file is unchanged; check the permissions of it and its folder"),),
                src.text)
    return FileResult(path, name, "changed", res.diagnostics, src.text)
