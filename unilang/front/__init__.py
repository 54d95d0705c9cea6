"""The front end: source text -> syntax tree, behind one ``parse``.

| module | job |
|---|---|
| ``source.py`` | reading files: size, UTF-8, NUL checks, line ends |
| ``tokens.py`` | the token table both parsers read; literal values |
| ``lark.py`` | the reference parser (lark, LALR): every syntax diagnostic |
| ``fast.py`` | the hand-written fast path, producing the same trees |
| ``bulk.py`` | the fast path's whole-declaration matches for plain declarations |
| ``syntax.py`` | the syntax tree, with spans and comments |
| ``comments.py`` | attaching comments to the tree (for both parsers) |

``parse`` tries the fast path; on anything it does not accept, lark parses
(and reports the syntax errors).  The parsers are imported on first use, so
that importing ``unilang.front.syntax`` stays cheap.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from ..diagnostics import Diagnostic
from ..digest import sha256_hex
from . import syntax as S
from .source import SourceFile, normalize_line_ends


def parse(source: SourceFile, lazy: bool = False) -> tuple[S.Module | None, list[Diagnostic]]:
    """Parse with the fast path; fall back to lark, which reports every syntax error.

    ``lazy``: plain library blocks may be ``S.LazyBlock``s (for the loader:
    their members are built when the checker reads them)."""
    from .fast import parse_fast_or_offset

    errors: list[Diagnostic] = []
    result = parse_fast_or_offset(source.text, source.name, errors, lazy)
    if not isinstance(result, int):
        return result, errors
    from .lark import get_parser  # only for what the fast path did not take

    if result == 0:
        return get_parser().parse(source)
    # Let lark start at the declaration the fast path stopped in: blank what came
    # before (keeping every newline, so positions stay the same).
    text = source.text
    blanked = re.sub(r"[^\n]", " ", text[:result]) + text[result:]
    module, diags = get_parser().parse(attrs.evolve(source, text=blanked))
    if module is None:
        return None, diags
    return reference_parse(source)  # the tail parsed: the fast path was only cautious


def reference_parse(source: SourceFile) -> tuple[S.Module | None, list[Diagnostic]]:
    """Parse with lark only: the grammar's own reading of the source (for tests)."""
    from .lark import get_parser

    return get_parser().parse(source)


def parse_text(text: str, name: str = "<input>") -> tuple[S.Module | None, list[Diagnostic]]:
    """Parse text directly (for tests and tools)."""
    src = SourceFile(name=name, path=Path(name), text=normalize_line_ends(text),
                     digest=sha256_hex(text.encode("utf-8", "surrogatepass")))
    return parse(src)
