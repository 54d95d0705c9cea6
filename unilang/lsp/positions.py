"""Positions: unilang's spans (1-based lines, columns counting code points) and the
protocol's (0-based lines, columns counting UTF-16 code units).

The one place where the two meet: every range the server sends is made by
``LineIndex.range``, and every position it receives is read by
``LineIndex.from_lsp``.  A character outside the Basic Multilingual Plane (an
emoji) is one column for unilang and two code units for the protocol.
"""

from __future__ import annotations

from ..diagnostics import Span
from ..front.source import normalize_line_ends


def _units(text: str) -> int:
    """The UTF-16 code units of ``text``."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


class LineIndex:
    """The lines of one text, for converting positions in it."""

    __slots__ = ("lines",)

    def __init__(self, text: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]  # the reader drops a BOM: it is not a column
        self.lines = normalize_line_ends(text).split("\n")

    def to_lsp(self, line: int, column: int) -> tuple[int, int]:
        """A 1-based ``line`` and code-point ``column`` -> (0-based line, UTF-16 unit)."""
        i = max(line - 1, 0)
        if i >= len(self.lines):
            return len(self.lines) - 1, _units(self.lines[-1])
        return i, _units(self.lines[i][:max(column - 1, 0)])

    def from_lsp(self, line: int, character: int) -> tuple[int, int]:
        """A 0-based ``line`` and UTF-16 ``character`` -> (1-based line, code-point column).

        A position inside a surrogate pair, or past the end of the line, is
        taken as the end of that character (or line)."""
        if line >= len(self.lines):
            return len(self.lines), len(self.lines[-1]) + 1
        text = self.lines[max(line, 0)]
        units = 0
        for i, c in enumerate(text):
            if units >= character:
                return line + 1, i + 1
            units += 2 if ord(c) > 0xFFFF else 1
        return line + 1, len(text) + 1

    def range(self, span: Span) -> tuple[tuple[int, int], tuple[int, int]]:
        """The protocol's range of ``span``: (start, end), each (line, UTF-16 unit)."""
        return self.to_lsp(span.line, span.column), self.to_lsp(span.end_line, span.end_column)

    def offset(self, line: int, column: int) -> int:
        """The offset in the (normalised) text of a 1-based line and column."""
        return sum(len(l) + 1 for l in self.lines[:line - 1]) + column - 1
