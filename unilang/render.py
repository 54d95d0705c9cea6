"""Rendering diagnostics: rustc-style text, or JSON with the same fields."""

from __future__ import annotations

import json
import os
import re
from typing import Callable, Iterable, Mapping, TextIO

from .diagnostics import Diagnostic, Severity, Span
from .front.source import split_lines

SourceLookup = Callable[[str], "str | None"]

_COLORS = {
    "error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m",
    "bold": "\x1b[1m", "blue": "\x1b[1;34m", "reset": "\x1b[0m",
}


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (to anything)."""
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


#: Characters a terminal would act on, or that reorder or break the text:
#: every control character (C0, DEL, C1), the line and paragraph separators,
#: and the bidirectional formatting characters.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: What of it ``json.dumps`` leaves raw (it escapes C0 controls in strings).
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def visible(text: str) -> str:
    """``text`` with every character of ``_INVISIBLE`` written as an escape
    (``\\x1b``, ``\\u202e``): what a spec says is shown, never acted on."""
    return _INVISIBLE.sub(lambda m: _escape(m.group()), text)


class _Lines:
    """Lines of source files, split on demand, at the line ends the parsers count."""

    def __init__(self, lookup: SourceLookup) -> None:
        self.lookup = lookup
        self.cache: dict[str, list[str] | None] = {}

    def line(self, file: str, n: int) -> str | None:
        if file not in self.cache:
            text = self.lookup(file)
            if text is not None and text.startswith("\ufeff"):
                text = text[1:]  # the BOM is not a column, as in ``read_source``
            self.cache[file] = split_lines(text) if text is not None else None
        lines = self.cache[file]
        if lines is None or not 1 <= n <= len(lines):
            return None
        return lines[n - 1]


_SHOWN_OTHERWISE = re.compile("\t|" + _INVISIBLE.pattern)


def _show(text: str) -> str:
    return _SHOWN_OTHERWISE.sub(lambda m: "    " if m.group() == "\t" else _escape(m.group()),
                                text)


def _expand(line: str, col: int) -> tuple[str, int]:
    """The line as shown -- tabs as 4 spaces, invisible characters as escapes --
    and where the 1-based column ``col`` of the source line lands in it."""
    before = _show(line[: col - 1])
    return _show(line), len(before) + 1 + max(0, col - 1 - len(line))


class TextRenderer:
    def __init__(self, lookup: SourceLookup, color: bool = False) -> None:
        self.lines = _Lines(lookup)
        self.color = color

    def c(self, name: str, text: str) -> str:
        return f"{_COLORS[name]}{text}{_COLORS['reset']}" if self.color else text

    def snippet(self, span: Span, marker: str, label: str, sev: str,
                margin: int = 0) -> list[str]:
        raw = self.lines.line(span.file, span.line)
        if raw is None:
            return []
        line, col = _expand(raw, span.column)
        if span.end_line == span.line:
            _, end = _expand(raw, max(span.end_column, span.column + 1))
        else:
            end = len(line) + 1
        width = max(1, end - col)
        if len(line) > 200:  # keep huge lines readable: show a window around the span
            start = max(0, col - 60)
            line = (("..." if start else "") + line[start:start + 160]
                    + ("..." if start + 160 < len(line) else ""))
            col = col - start + (3 if start else 0)
        num = str(span.line).rjust(margin)  # one margin for the whole diagnostic
        pad = " " * len(num)
        carets = " " * (col - 1) + marker * min(width, 200)
        tail = f" {visible(label)}" if label else ""
        style = sev if marker == "^" else "blue"
        return [
            self.c("blue", f"{pad} |"),
            self.c("blue", f"{num} |") + f" {line}",
            self.c("blue", f"{pad} |") + " " + self.c(style, carets + tail),
        ]

    def render(self, d: Diagnostic) -> str:
        sev = d.severity.value
        head = self.c(sev, f"{sev}[{d.code}]") + self.c("bold", f": {visible(d.message)}")
        if d.backend:
            head += f" [backend {d.backend}]"
        out: list[str] = []
        spans = ([d.span] if d.span is not None else []) + [lab.span for lab in d.labels]
        margin = max((len(str(s.line)) for s in spans), default=1)
        if d.span is not None:
            out.append(f"{visible(d.span.location)}: {head}")
            out.extend(self.snippet(d.span, "^", "", sev, margin))
        else:
            out.append(head)
        for label in d.labels:
            s = label.span
            out.append(self.c("blue", " " * max(2, margin) + "--> ") + visible(s.location))
            snip = self.snippet(s, "-", label.message, sev, margin)
            out.extend(snip if snip else [f"  {visible(label.message)}"])
        for note in d.notes:
            out.append(self.c("blue", "  = ") + self.c("bold", "note") + f": {visible(note)}")
        if d.help:
            out.append(self.c("blue", "  = ") + self.c("bold", "help") + f": {visible(d.help)}")
        return "\n".join(out) + "\n"

    def summary(self, diags: list[Diagnostic]) -> str:
        errors = sum(1 for d in diags if d.severity is Severity.ERROR)
        warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        return ", ".join(parts)


def render_json(diags: Iterable[Diagnostic], extra: Mapping[str, object] | None = None) -> str:
    doc: dict[str, object] = {"diagnostics": [d.to_json() for d in diags]}
    if extra:
        doc.update(extra)
    # json escapes C0 controls itself; the rest of what ``visible`` escapes it
    # would write raw (ensure_ascii=False keeps other text readable)
    text = json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
