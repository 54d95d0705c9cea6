"""Parsing with recovery, for tools that must see past a syntax error (the LSP).

``front.parse`` stops at the first syntax error and returns no tree.  An
editor wants the rest of the file all the same: every other declaration's
diagnostics, hover, go to definition.  ``parse_recovering`` parses the whole
file first; only when that fails it cuts the file into top-level declarations
-- a declaration starts on a line that begins, in column 1, with one of the
declaration keywords -- and parses each one on its own.  Each piece keeps its
place (its line numbers are those of the file), so spans and diagnostics need
no translation.  The pieces that parse make the tree; each piece that does
not contributes its own first syntax error and is listed in ``broken`` (its
kind and name, as far as they can be read), so that a caller can leave out
what follows only from the piece being missing (``unknown library `x```).
"""

from __future__ import annotations

import re

import attrs

from ..diagnostics import Diagnostic
from . import parse
from . import syntax as S
from .source import SourceFile

#: Where a top-level declaration starts: a keyword at the start of a line.
DECL_START = re.compile(r"^(?:import|construct|capability|library|app|policy)\b", re.M)
#: The kind and name of a declaration, from its first words.
_HEADER = re.compile(r"(construct|capability|library|app|policy)\s+([A-Za-z_][A-Za-z0-9_.-]*)")


@attrs.frozen
class Broken:
    """A top-level declaration that did not parse: its kind and name (or None)."""

    kind: str | None
    name: str | None
    line: int


@attrs.frozen
class Recovered:
    module: S.Module
    diagnostics: tuple[Diagnostic, ...]
    broken: tuple[Broken, ...] = ()


def pieces(text: str) -> list[tuple[int, int]]:
    """The [start, end) offsets of the file's top-level declarations (and of what
    comes before the first one, when anything does)."""
    starts = [m.start() for m in DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return list(zip(starts, starts[1:] + [len(text)]))


#: How many broken statements of one declaration are left out before giving up on it.
MAX_SKIPS = 32


def _parse_piece(source: SourceFile, piece: str) -> tuple[S.Module | None, list[Diagnostic]]:
    """Parse one declaration; while a statement in it does not parse, report it and
    parse the declaration again without it (blanked, so positions stay)."""
    errors: list[Diagnostic] = []
    for _ in range(MAX_SKIPS):
        tree, diags = parse(attrs.evolve(source, text=piece))
        errors += diags
        if tree is not None:
            return tree, errors
        first = next((d for d in diags if d.span is not None), None)
        if first is None or first.span is None:
            return None, errors
        blanked = _blank_statement(piece, first.span.line, first.span.column)
        if blanked is None:
            return None, errors
        piece = blanked
    return None, errors


def _blank_statement(text: str, line: int, column: int) -> str | None:
    """``text`` with the statement around (line, column) blanked: from after the
    ``;``, ``{`` or ``}`` before it to its ``;`` (braces are never blanked, so
    the blocks stay whole); None when nothing is left to blank."""
    lines = text.split("\n")
    if line - 1 >= len(lines):
        return None
    at = sum(len(l) + 1 for l in lines[:line - 1]) + column - 1
    at = min(at, len(text))
    start = max(text.rfind(";", 0, at), text.rfind("{", 0, at), text.rfind("}", 0, at)) + 1
    end = at
    while end < len(text) and text[end] not in "{}":
        end += 1
        if text[end - 1] == ";":
            break
    if not text[start:end].strip():
        return None
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def parse_recovering(source: SourceFile) -> Recovered:
    """A tree of every declaration that parses, and the syntax errors of the others."""
    tree, diags = parse(source)
    if tree is not None:
        return Recovered(tree, tuple(diags))
    text = source.text
    decls: list[S.Decl] = []
    comments: list[S.Comment] = []
    errors: list[Diagnostic] = []
    broken: list[Broken] = []
    for start, end in pieces(text):
        line = text.count("\n", 0, start) + 1
        # the piece at its own place: the lines before it become empty lines
        piece = "\n" * (line - 1) + text[start:end]
        part, part_diags = _parse_piece(source, piece)
        errors += part_diags
        if part is None:
            m = _HEADER.match(text, start)
            broken.append(Broken(m.group(1), m.group(2), line) if m else Broken(None, None, line))
            continue
        decls += part.decls
        comments += part.comments
    return Recovered(S.Module(source.name, tuple(decls), tuple(comments)), tuple(errors),
                     tuple(broken))
