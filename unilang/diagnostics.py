"""Diagnostics as data.

A diagnostic has a code, a severity, a message, a primary span, secondary
labelled spans, notes and help.  Stages never print: they return
diagnostics, and a renderer (``unilang.render``) turns them into text or
JSON.  The catalogue of codes and their explanations is ``unilang.codes``.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable, NamedTuple

import attrs


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Span(NamedTuple):
    """A region of a source file; lines and columns are 1-based, end exclusive.

    A named tuple rather than an attrs class: it is immutable and ordered all
    the same, and parsers make one for every node, where attrs' frozen
    ``__init__`` costs about three times as much."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def location(self) -> str:
        """``file:line:column``, as diagnostics and reports name a place."""
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@attrs.frozen
class Label:
    span: Span
    message: str


@attrs.frozen
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None = None
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None
    backend: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[object, ...]:
        s = self.span
        where = (s.file, s.line, s.column) if s else ("", 0, 0)
        return (self.backend or "", where, self.code, self.message)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "labels": [{"span": l.span.to_json(), "message": l.message} for l in self.labels],
            "notes": list(self.notes),
            "help": self.help,
            "backend": self.backend,
        }


def _span_from_json(d: dict[str, Any] | None) -> Span | None:
    if d is None:
        return None
    return Span(str(d["file"]), int(d["line"]), int(d["column"]), int(d["end_line"]),
                int(d["end_column"]))


def diagnostic_from_json(d: dict[str, Any]) -> Diagnostic:
    """The inverse of ``Diagnostic.to_json`` (for cached results)."""
    labels = []
    for label in d["labels"]:
        span = _span_from_json(label["span"])
        if span is not None:
            labels.append(Label(span, str(label["message"])))
    return Diagnostic(str(d["code"]), Severity(d["severity"]), str(d["message"]),
                      _span_from_json(d["span"]), tuple(labels),
                      tuple(str(n) for n in d["notes"]),
                      None if d["help"] is None else str(d["help"]),
                      None if d["backend"] is None else str(d["backend"]))


def error(code: str, message: str, span: Span | None = None, *,
          labels: Iterable[Label] = (), notes: Iterable[str] = (),
          help: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, tuple(labels), tuple(notes), help)


def warning(code: str, message: str, span: Span | None = None, *,
            labels: Iterable[Label] = (), notes: Iterable[str] = (),
            help: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, tuple(labels), tuple(notes), help)


class Sink:
    """Collects diagnostics; stages append to it and keep going."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple[object, ...]] = set()
        out = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.code, d.message, d.span, d.backend)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, or None."""
    import difflib

    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def one_of(names: Iterable[str], limit: int = 12) -> str:
    items = sorted(set(names))
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items) - limit} more)"
    return ", ".join(items)
