"""Reading source files into text, with a diagnostic for every way it can fail."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import attrs

from ..diagnostics import Diagnostic, Span, error

#: Larger files are refused before they are decoded or parsed.
MAX_SOURCE_BYTES = 64 * 1024 * 1024

#: What ends a line, everywhere a line or column is counted or a line shown:
#: LF, CRLF, or a CR on its own (old Mac files).  Nothing else does.  (A pattern
#: compiled on first use, by ``re``'s cache: only the renderer splits lines.)
LINE_END = r"\r\n|\r|\n"


def normalize_line_ends(text: str) -> str:
    """``text`` with every line end (see ``LINE_END``) as one LF.  Columns do not
    move (a line end is never inside a line), so positions counted in the
    result are positions in the file as the user sees it."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split where ``LINE_END`` matches."""
    return re.split(LINE_END, text)


@attrs.frozen
class SourceFile:
    """A decoded source file.  ``name`` is how diagnostics refer to it."""

    name: str
    path: Path
    text: str
    digest: str


def display_name(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # a different drive, on Windows
        return str(path)


def clean_text(name: str, text: str) -> tuple[str, Diagnostic | None]:
    """A source's text as the front end reads it (no BOM, LF line ends), and the
    U0003 of its first NUL byte, if it has one."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = normalize_line_ends(text)
    nul = text.find("\0")
    if nul < 0:
        return text, None
    line = text.count("\n", 0, nul) + 1
    col = nul - (text.rfind("\n", 0, nul) + 1) + 1
    return text, error("U0003", f"`{name}` contains a NUL byte",
                       Span(name, line, col, line, col + 1),
                       help="unilang sources are text; remove the NUL byte")


def read_source(path: Path, name: str, span: Span | None = None) -> SourceFile | Diagnostic:
    """Read and decode ``path``; ``span`` is where it was asked for (an import)."""
    from ..digest import sha256_hex

    where = span
    try:
        if path.is_dir():
            return error("U0001", f"cannot read `{name}`: it is a directory", where)
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            # a FIFO or a device would block or never end (/dev/zero)
            return error("U0001", f"cannot read `{name}`: it is not a regular file", where)
        size = st.st_size
        if size > MAX_SOURCE_BYTES:
            return error("U0001", f"cannot read `{name}`: it is {size} bytes, larger than the "
                         f"limit of {MAX_SOURCE_BYTES} bytes", where)
        with open(path, "rb") as fh:  # bounded, in case the file grows meanwhile
            data = fh.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        return error("U0001", f"cannot read `{name}`: no such file", where)
    except PermissionError:
        return error("U0001", f"cannot read `{name}`: permission denied", where)
    except OSError as exc:
        return error("U0001", f"cannot read `{name}`: {exc.strerror or exc}", where)
    if len(data) > MAX_SOURCE_BYTES:
        return error("U0001", f"cannot read `{name}`: larger than the limit of "
                     f"{MAX_SOURCE_BYTES} bytes", where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # columns count characters, as everywhere else: the bytes before the
        # bad one are valid UTF-8 (it is the first error)
        before = normalize_line_ends(data[:exc.start].decode("utf-8"))
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        if line == 1 and before.startswith("\ufeff"):
            col -= 1  # the BOM is dropped from the text, so it is not a column
        return error("U0002", f"`{name}` is not valid UTF-8: byte 0x{data[exc.start]:02x} "
                     f"at offset {exc.start}",
                     Span(name, line, col, line, col + 1),
                     help="save the file as UTF-8")
    text, nul_byte = clean_text(name, text)
    if nul_byte is not None:
        return nul_byte
    digest = sha256_hex(data)
    return SourceFile(name=name, path=path, text=text, digest=digest)
