"""Rendering diagnostics as SARIF 2.1.0 (``unilang check --format sarif``).

One run of the tool ``unilang``:

* ``tool.driver.rules``: one rule per code of the catalogue (``unilang.codes``),
  in code order, with its title (``shortDescription``), its explanation
  (``fullDescription``, and with the example in ``help``) and its severity
  (``defaultConfiguration.level``);
* ``results``: one per diagnostic, in the order ``check`` sorts them; a
  diagnostic reported the same for several backends is one result whose
  ``properties.backends`` lists them.  ``message.text`` is the message, then
  each note and the help on lines of their own (``note: ...``, ``help: ...``);
  ``locations`` holds the primary span; ``relatedLocations`` every labelled
  span (the links of a chain: an import cycle, a dependency cycle, the first
  definition) with its label as message, then each place a note names as
  ``FILE:LINE:COLUMN`` (a one-character region);
* paths: a file below the current directory is a relative URI with
  ``uriBaseId`` ``%SRCROOT%``; a file of unilang's own library (``stdlib/``,
  ``backends/``) elsewhere is relative to ``UNILANG_DATA``, the folder that
  holds them; both bases are given in ``originalUriBaseIds``.  Anything else is
  an absolute ``file:`` URI.
* columns count Unicode code points (``columnKind``), as everywhere in unilang;
  regions are 1-based with the end column exclusive, as SARIF's are.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

from .diagnostics import Diagnostic, Span

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
DATA_ROOT = "UNILANG_DATA"

#: ``FILE:LINE:COLUMN`` in a note (``... is defined at a.uni:12:9``).
_NOTE_PLACE = re.compile(r"(?<![\w./-])([^\s`'\"():]+\.uni):(\d+):(\d+)")

_LEVELS = {"error": "error", "warning": "warning", "note": "note"}


def _dir_uri(path: Path) -> str:
    uri = path.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _inside(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


class _Locator:
    """Turns the file names of diagnostics into SARIF artifact locations."""

    def __init__(self, files: Callable[[str], Path | None], cwd: Path, data: Path) -> None:
        self.files = files
        self.cwd = cwd
        self.data = data
        self.used_data = False

    def real(self, name: str) -> Path | None:
        path = self.files(name)
        if path is None:
            p = Path(name)
            path = p if p.is_absolute() else self.cwd / p
            if not path.exists():
                return None
        return Path(os.path.realpath(path))

    def artifact(self, name: str) -> dict[str, Any]:
        real = self.real(name)
        if real is not None:
            rel = _inside(real, self.cwd)
            if rel is not None:
                return {"uri": quote(rel), "uriBaseId": SRCROOT}
            rel = _inside(real, self.data)
            if rel is not None:
                self.used_data = True
                return {"uri": quote(rel), "uriBaseId": DATA_ROOT}
            return {"uri": real.as_uri()}
        # a name no file stands for (stdin, a vanished file): relative as named
        return {"uri": quote(Path(name).as_posix()), "uriBaseId": SRCROOT}

    def physical(self, span: Span) -> dict[str, Any]:
        start_col = max(1, span.column)
        end_line = max(span.end_line, span.line)
        end_col = span.end_column if end_line > span.line else max(span.end_column, start_col)
        return {
            "artifactLocation": self.artifact(span.file),
            "region": {"startLine": max(1, span.line), "startColumn": start_col,
                       "endLine": max(1, end_line), "endColumn": end_col},
        }


def _rules() -> tuple[list[dict[str, Any]], dict[str, int]]:
    from .codes import CODES

    rules = []
    index = {}
    for k, code in enumerate(sorted(CODES)):
        c = CODES[code]
        help_text = c.explanation + (f"\n\nExample:\n\n{c.example}" if c.example else "")
        help_md = c.explanation + (f"\n\nExample:\n\n```\n{c.example}\n```" if c.example else "")
        rules.append({
            "id": c.code,
            "name": "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", c.title)),
            "shortDescription": {"text": c.title},
            "fullDescription": {"text": c.explanation},
            "help": {"text": help_text, "markdown": help_md},
            "defaultConfiguration": {"level": _LEVELS.get(c.severity, "warning")},
            "properties": {"explain": f"unilang explain {c.code}"},
        })
        index[c.code] = k
    return rules, index


def _message(d: Diagnostic) -> str:
    lines = [d.message]
    lines += [f"note: {n}" for n in d.notes]
    if d.help:
        lines.append(f"help: {d.help}")
    return "\n".join(lines)


def _group(diags: Iterable[Diagnostic]) -> list[tuple[Diagnostic, list[str]]]:
    """Diagnostics equal but for their backend, merged (first one's place kept)."""
    out: list[tuple[Diagnostic, list[str]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for d in diags:
        key = (d.code, d.severity, d.message, d.span, d.labels, d.notes, d.help)
        if key in seen:
            backends = out[seen[key]][1]
            if d.backend and d.backend not in backends:
                backends.append(d.backend)
            continue
        seen[key] = len(out)
        out.append((d, [d.backend] if d.backend else []))
    return out


def sarif_log(diags: Iterable[Diagnostic], files: Callable[[str], Path | None],
              cwd: Path | None = None, data: Path | None = None,
              properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SARIF log (a JSON-ready dict) of ``diags``; ``files`` maps a diagnostic's
    file name to the file it stands for (``Session.files.get``)."""
    from . import __version__, paths

    cwd = Path(os.path.realpath(cwd or Path.cwd()))
    data = Path(os.path.realpath(data or paths.stdlib_dir().parent))
    loc = _Locator(files, cwd, data)
    rules, index = _rules()
    results = []
    for d, backends in _group(diags):
        result: dict[str, Any] = {
            "ruleId": d.code,
            "level": _LEVELS[d.severity.value],
            "message": {"text": _message(d)},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.span is not None:
            result["locations"] = [{"physicalLocation": loc.physical(d.span)}]
        related = []
        for label in d.labels:
            related.append({"id": len(related) + 1, "physicalLocation": loc.physical(label.span),
                            "message": {"text": label.message}})
        for note in d.notes:
            for m in _NOTE_PLACE.finditer(note):
                name, line, col = m.group(1), int(m.group(2)), int(m.group(3))
                if loc.real(name) is None:
                    continue
                span = Span(name, line, col, line, col + 1)
                related.append({"id": len(related) + 1, "physicalLocation": loc.physical(span),
                                "message": {"text": note}})
        if related:
            result["relatedLocations"] = related
        if backends:
            result["properties"] = {"backends": backends}
        results.append(result)
    bases: dict[str, Any] = {SRCROOT: {"uri": _dir_uri(cwd)}}
    if loc.used_data:
        bases[DATA_ROOT] = {"uri": _dir_uri(data),
                            "description": {"text": "unilang's stdlib/ and backends/"}}
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "unilang",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": rules,
        }},
        "originalUriBaseIds": bases,
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if properties:
        run["properties"] = properties
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(diags: Iterable[Diagnostic], files: Callable[[str], Path | None],
                 properties: dict[str, Any] | None = None) -> str:
    """``sarif_log`` as JSON text (stable key order, ends with a newline).  Every
    character past ASCII is escaped, so nothing a spec says can reach a
    terminal or a viewer raw (control, bidirectional characters)."""
    doc = sarif_log(diags, files, properties=properties)
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
