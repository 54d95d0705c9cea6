"""What the server answers, from one ``Analysis``: diagnostics, hover, go to
definition, document symbols and completion, as lsprotocol types.

Every range goes through ``positions.LineIndex`` (UTF-16 columns).  Names in a
document are found by walking its syntax tree (``references``): each name
written in it is a ``Ref`` of a kind (construct, capability, library, policy,
app, param, backend, module, key) with the span where it is written; hover and
definition look the name up in the checked programs (the default backend's
first) and, for a parameter, in the default backend's resolution.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterator

import attrs
from lsprotocol import types as T

from .. import paths
from ..check.schema import APP_KEYS, DEVICE_KEYS, LIBRARY_KEYS, POLICY_KEYS, Enum, KeyType, ListOf
from ..codes import CODES
from ..diagnostics import Severity, Span
from ..front import syntax as S
from ..model import ParamDecl, PValue, ParamType
from ..resolve import Selected
from ..units import fmt_size
from .analysis import Analysis, Located
from .positions import LineIndex

SCHEMAS: dict[str, dict[str, KeyType]] = {"library": LIBRARY_KEYS, "app": APP_KEYS,
                                          "policy": POLICY_KEYS}

#: What the names in a key's list (or its one name) refer to, by block kind and key.
NAME_KINDS: dict[tuple[str, str], str] = {
    ("library", "provides"): "construct", ("library", "requires"): "construct",
    ("library", "exercises"): "capability", ("library", "conflicts"): "library",
    ("library", "backends"): "backend",
    ("app", "requires"): "construct", ("app", "policies"): "policy",
    ("policy", "include"): "policy", ("policy", "deny"): "capability",
    ("policy", "allow"): "capability", ("policy", "forbid"): "library",
    ("policy", "require"): "construct",
}


@attrs.frozen
class Ref:
    """A name written in the document: what it is, and where."""

    kind: str  # construct capability library policy app param backend module key device
    name: str  # for a param `lib.param`; for a key `blockkind.key`
    span: Span


# ---------------------------------------------------------------- positions

class Converter:
    """Spans to protocol ranges and locations, one ``LineIndex`` per file."""

    def __init__(self, analysis: Analysis) -> None:
        self.a = analysis
        self._index: dict[Path, LineIndex] = {}

    def index(self, path: Path) -> LineIndex:
        idx = self._index.get(path)
        if idx is None:
            idx = self._index[path] = LineIndex(self.a.text_of(path) or "")
        return idx

    def range(self, span: Span, path: Path | None = None) -> T.Range:
        path = path or self.a.path_of(span.file) or self.a.path
        (sl, sc), (el, ec) = self.index(path).range(span)
        return T.Range(T.Position(sl, sc), T.Position(el, ec))

    def location(self, span: Span) -> T.Location | None:
        path = self.a.path_of(span.file)
        if path is None:
            return None
        return T.Location(path.as_uri(), self.range(span, path))


def file_start(path: Path) -> T.Location:
    return T.Location(path.as_uri(), T.Range(T.Position(0, 0), T.Position(0, 0)))


# ---------------------------------------------------------------- diagnostics

def explanation_url(code: str) -> str | None:
    """Where the code's explanation is: its section of docs/diagnostics.md in the
    checkout (a file URI, with the anchor GitHub and editors' Markdown previews
    give that heading); None when the docs are not installed (a wheel)."""
    doc = Path(__file__).resolve().parent.parent.parent / "docs" / "diagnostics.md"
    c = CODES.get(code)
    if c is None or not doc.is_file():
        return None
    return f"{doc.as_uri()}#{heading_anchor(f'{c.code}: {c.title} ({c.severity})')}"


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped,
    spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


_SEVERITY = {Severity.ERROR: T.DiagnosticSeverity.Error,
             Severity.WARNING: T.DiagnosticSeverity.Warning,
             Severity.NOTE: T.DiagnosticSeverity.Information}


def diagnostic(conv: Converter, located: Located) -> T.Diagnostic:
    d = located.diagnostic
    message = d.message
    if located.backends:
        message += f" [backend {', '.join(located.backends)}]"
    message += "".join(f"\nnote: {n}" for n in d.notes)
    if d.help:
        message += f"\nhelp: {d.help}"
    related = []
    for label in d.labels:
        loc = conv.location(label.span)
        if loc is not None:
            related.append(T.DiagnosticRelatedInformation(loc, label.message))
    for span, text in chain_locations(conv.a, located):
        loc = conv.location(span)
        if loc is not None:
            related.append(T.DiagnosticRelatedInformation(loc, text))
    url = explanation_url(d.code)
    rng = T.Range(T.Position(0, 0), T.Position(0, 0))
    if d.span is not None and conv.a.path_of(d.span.file) is not None:
        rng = conv.range(d.span)
    elif d.span is not None:  # a file the session did not read: shown at the top, named
        message = f"{d.span.location}: {message}"
    return T.Diagnostic(
        range=rng, message=message, severity=_SEVERITY[d.severity], code=d.code,
        code_description=T.CodeDescription(url) if url else None, source="unilang",
        related_information=related or None)


_SELECTED_BY = re.compile(r"`([^`]+)` is selected by: (.+)")
_REQUIRED_BY = re.compile(r"required by: (.+)")


def chain_locations(analysis: Analysis, located: Located) -> list[tuple[Span, str]]:
    """The places of the chains a diagnostic's notes name (``X is selected by:
    app a -> c -> X``, ``required by: app a -> c -> lib -> c2``): where each
    step's requirement is written, from the app outwards."""
    backends = located.backends or tuple(analysis.resolutions)
    out: list[tuple[Span, str]] = []
    for note in located.diagnostic.notes:
        m = _SELECTED_BY.fullmatch(note)
        lib = m.group(1) if m else None
        if m is None:
            r = _REQUIRED_BY.fullmatch(note)
            steps = r.group(1).split(" -> ") if r else []
            lib = steps[-2] if len(steps) >= 3 else None
        if lib is None:
            continue
        res = next((analysis.resolutions[b] for b in backends
                    if b in analysis.resolutions and lib in analysis.resolutions[b].selected),
                   None)
        if res is None:
            continue
        hops: list[Selected] = []
        hop: Selected | None = res.selected[lib]
        while hop is not None:
            hops.append(hop)
            hop = hop.parent
        for h in reversed(hops):
            by = h.parent.library.name if h.parent is not None else h.origin
            step = f"{by} requires `{h.construct}`, which selects `{h.library.name}`"
            if (h.required_at, step) not in out:
                out.append((h.required_at, step))
    return out


def diagnostics_by_uri(analysis: Analysis) -> dict[str, list[T.Diagnostic]]:
    """Every file's diagnostics (those without a file go to the document)."""
    conv = Converter(analysis)
    out: dict[str, list[T.Diagnostic]] = {analysis.path.as_uri(): []}
    for path, items in analysis.diagnostics.items():
        uri = (path or analysis.path).as_uri()
        out.setdefault(uri, []).extend(diagnostic(conv, l) for l in items)
    return out


# ---------------------------------------------------------------- references

def _sub(span: Span, start: int, length: int) -> Span:
    """Part of a one-line span: ``length`` columns from ``start`` columns in."""
    return Span(span.file, span.line, span.column + start, span.line,
                span.column + start + length)


def references(tree: S.Module) -> Iterator[Ref]:
    """Every name written in the document, with what it refers to."""
    for decl in tree.decls:
        if isinstance(decl, S.Import):
            yield Ref("module", decl.target, decl.target_span or decl.span)
        elif isinstance(decl, S.Symbol):
            yield Ref(decl.kind, decl.name, decl.name_span)
        elif isinstance(decl, S.Block):
            yield Ref(decl.kind, decl.name, decl.name_span)
            for m in decl.members:
                yield from _member_refs(decl, m)


def _member_refs(block: S.Block, m: S.Member) -> Iterator[Ref]:
    if isinstance(m, S.Field):
        yield from _field_refs(block.kind, m)
    elif isinstance(m, S.Param):
        yield Ref("param", f"{block.name}.{m.name}", m.name_span)
    elif isinstance(m, S.Device):
        yield Ref("device", m.name, m.name_span)
        for f in m.fields:
            yield from _field_refs("device", f)
    elif isinstance(m, S.Use):
        yield Ref("library", m.library, m.library_span)
        yield Ref("construct", m.construct.value, m.construct.span)
    elif isinstance(m, S.Set):
        target = m.target
        lib, _, param = target.value.partition(".")
        if target.span.line == target.span.end_line:
            yield Ref("library", lib, _sub(target.span, 0, len(lib)))
            if param:
                yield Ref("param", target.value, _sub(target.span, len(lib) + 1, len(param)))
        for n in m.on or ():
            yield Ref("backend", n.value, n.span)


def _field_refs(kind: str, f: S.Field) -> Iterator[Ref]:
    yield Ref("key", f"{kind}.{f.key}", f.key_span)
    what = NAME_KINDS.get((kind, f.key))
    if what is not None:
        items = f.value.items if isinstance(f.value, S.List) else (f.value,)
        for item in items:
            if isinstance(item, S.Name):
                yield Ref(what, item.value, item.span)
    for n in f.on or ():
        yield Ref("backend", n.value, n.span)


def ref_at(analysis: Analysis, line: int, character: int) -> Ref | None:
    """The name under the cursor (a protocol position in the document)."""
    ln, col = LineIndex(analysis.texts.get(analysis.path, "")).from_lsp(line, character)
    for r in references(analysis.tree):
        s = r.span
        if (s.line, s.column) <= (ln, col) <= (s.end_line, s.end_column):
            return r
    return None


# ---------------------------------------------------------------- lookup

def _lookup(analysis: Analysis, kind: str, name: str) -> object | None:
    """The model of a construct, capability, library, policy, app or parameter."""
    for program in analysis.programs.values():
        if kind == "construct" and name in program.constructs:
            return program.constructs[name]
        if kind == "capability" and name in program.capabilities:
            return program.capabilities[name]
        if kind == "library" and name in program.libraries:
            return program.libraries[name]
        if kind == "policy" and name in program.policies:
            return program.policies[name]
        if kind == "app" and program.app is not None and program.app.name == name:
            return program.app
        if kind == "param":
            lib, _, param = name.partition(".")
            decl = program.libraries[lib].param(param) if lib in program.libraries else None
            if decl is not None:
                return decl
    return None


def definition(analysis: Analysis, line: int, character: int) -> T.Location | None:
    r = ref_at(analysis, line, character)
    if r is None or r.kind in ("key", "device"):
        return None
    conv = Converter(analysis)
    if r.kind == "module":
        target = next((p for s, p in analysis.import_targets.items()
                       if s.line <= r.span.line <= s.end_line), None)
        return file_start(target) if target is not None else None
    if r.kind == "backend":
        module = paths.backend_dir(r.name) / "backend.uni"
        return file_start(Path(os.path.realpath(module))) if module.is_file() else None
    found = _lookup(analysis, r.kind, r.name)
    span = getattr(found, "span", None)
    return conv.location(span) if span is not None else None


# ---------------------------------------------------------------- hover

def _value(t: ParamType, v: PValue | None) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if t.kind == "size" and isinstance(v, int):
        return fmt_size(v)
    if t.kind == "string":
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _where(analysis: Analysis, span: Span) -> str:
    """A place as a message names it: a line of the document, or file:line."""
    path = analysis.path_of(span.file)
    if path == analysis.path:
        return f"line {span.line}"
    name = span.file
    shipped = path is not None and any(  # named by the loader's labels: stdlib/..., backends/...
        path.is_relative_to(os.path.realpath(d)) for d in (paths.stdlib_dir(), paths.backends_dir()))
    if path is not None and not shipped:
        name = os.path.relpath(path, analysis.path.parent)  # the project's, from here
    return f"{name}:{span.line}"


def hover_text(analysis: Analysis, r: Ref) -> str | None:
    if r.kind == "key":
        block, _, key = r.name.partition(".")
        schema = SCHEMAS.get(block) or {k: v for d in DEVICE_KEYS.values() for k, v in d.items()}
        typ = schema.get(key)
        return f"**key** `{key}` of {block}: {typ.words}" if typ is not None else None
    if r.kind == "module":
        target = next((p for s, p in analysis.import_targets.items()
                       if s.line <= r.span.line <= s.end_line), None)
        return f"**module** `{r.name}`" + (f"\n\n{target}" if target else "")
    if r.kind == "backend":
        return f"**backend** `{r.name}`"
    found = _lookup(analysis, r.kind, r.name)
    if found is None:
        return None
    if isinstance(found, ParamDecl):
        return _param_hover(analysis, r.name, found)
    doc = getattr(found, "doc", None)
    text = f"**{r.kind}** `{r.name}`"
    if doc:
        text += f"\n\n{doc}"
    span = getattr(found, "span", None)
    if span is not None:
        text += f"\n\ndeclared at {_where(analysis, span)}"
    if r.kind == "library":
        text += _library_status(analysis, r.name)
    return text


def _library_status(analysis: Analysis, name: str) -> str:
    """Whether the default backend's image has the library, and why (not)."""
    from ..resolve import chain_str

    b = analysis.default_backend
    res = analysis.resolution
    if res is None:
        return ""
    if name in res.selected:
        return f"\n\nbackend {b}: in the image, selected by {chain_str(res.selected[name].chain)}"
    reason = next((p.reason for p in res.pruned if p.name == name), None)
    return f"\n\nbackend {b}: not in the image" + (f": {reason}" if reason else "")


def _param_hover(analysis: Analysis, name: str, decl: ParamDecl) -> str:
    t = decl.type
    text = f"**parameter** `{name}`: {t.describe()}"
    if decl.doc:
        text += f"\n\n{decl.doc}"
    facts = [f"default: `{_value(t, decl.default)}`"]
    if decl.low is not None and decl.high is not None:
        facts.append(f"range: `{_value(t, decl.low)}` .. `{_value(t, decl.high)}`")
    if decl.divides is not None:
        facts.append(f"divides `{decl.divides.value}`")
    text += "\n\n" + "; ".join(facts)
    b = analysis.default_backend
    res = analysis.resolution
    if res is None:
        text += f"\n\nbackend {b}: not resolved (the spec has errors or no app)"
        return text
    lib, _, param = name.partition(".")
    pv = next((p for p in res.params if p.library == lib and p.name == param), None)
    if pv is None:
        text += f"\n\nbackend {b}: `{lib}` is not in the image"
    elif pv.origin == "default":
        text += f"\n\nbackend {b}: `{_value(t, pv.value)}`, the default ({_where(analysis, pv.span)})"
    else:
        text += f"\n\nbackend {b}: `{_value(t, pv.value)}`, set at {_where(analysis, pv.span)}"
    return text


def hover(analysis: Analysis, line: int, character: int) -> T.Hover | None:
    r = ref_at(analysis, line, character)
    if r is None:
        return None
    text = hover_text(analysis, r)
    if text is None:
        return None
    return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text), Converter(analysis).range(r.span))


# ---------------------------------------------------------------- symbols

_SYMBOL_KINDS = {"import": T.SymbolKind.Module, "construct": T.SymbolKind.Interface,
                 "capability": T.SymbolKind.Key, "library": T.SymbolKind.Package,
                 "app": T.SymbolKind.Class, "policy": T.SymbolKind.Namespace}


def document_symbols(analysis: Analysis) -> list[T.DocumentSymbol]:
    conv = Converter(analysis)

    def sym(name: str, detail: str | None, kind: T.SymbolKind, span: Span, sel: Span,
            children: list[T.DocumentSymbol] | None = None) -> T.DocumentSymbol:
        return T.DocumentSymbol(name=name, kind=kind, range=conv.range(span),
                                selection_range=conv.range(sel), detail=detail,
                                children=children)

    out = []
    for d in analysis.tree.decls:
        if isinstance(d, S.Import):
            out.append(sym(d.target, "import", T.SymbolKind.Module, d.span,
                           d.target_span or d.span))
        elif isinstance(d, S.Symbol):
            out.append(sym(d.name, d.kind, _SYMBOL_KINDS[d.kind], d.span, d.name_span))
        elif isinstance(d, S.Block):
            children = []
            for m in d.members:
                if isinstance(m, S.Field):
                    children.append(sym(m.key, S.render_value(m.value), T.SymbolKind.Field,
                                        m.span, m.key_span))
                elif isinstance(m, S.Param):
                    children.append(sym(m.name, "param", T.SymbolKind.Variable, m.span,
                                        m.name_span))
                elif isinstance(m, S.Device):
                    fields = [sym(f.key, S.render_value(f.value), T.SymbolKind.Field, f.span,
                                  f.key_span) for f in m.fields]
                    children.append(sym(m.name, "device", T.SymbolKind.Struct, m.span,
                                        m.name_span, fields))
                elif isinstance(m, S.Use):
                    children.append(sym(f"use {m.library}", f"for {m.construct.value}",
                                        T.SymbolKind.Event, m.span, m.library_span))
                elif isinstance(m, S.Set):
                    children.append(sym(f"set {m.target.value}", S.render_value(m.value),
                                        T.SymbolKind.Property, m.span, m.target.span))
            out.append(sym(d.name, d.kind, _SYMBOL_KINDS[d.kind], d.span, d.name_span,
                           children))
    return out


# ---------------------------------------------------------------- completion

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|//[^\n]*|[{};]|[^\s{};"#/]+|/')

_TOP_KEYWORDS = ("app", "capability", "construct", "import", "library", "policy")


def _context(text: str) -> tuple[list[str], str]:
    """The blocks the end of ``text`` is inside (``library``, ``app``, ``policy``,
    ``device``, outermost first) and the statement written so far in the innermost."""
    stack: list[str] = []
    statement: list[str] = []
    start = 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok.startswith(("#", "//")):
            continue
        if tok in ("{", "}", ";"):
            if tok == "{":
                head = statement[0] if statement else ""
                stack.append(head if head in ("library", "app", "policy", "device") else "?")
            elif tok == "}" and stack:
                stack.pop()
            statement = []
            start = m.end()
        else:
            statement.append(tok)
    rest = re.sub(r'#[^\n]*|//[^\n]*', "", text[start:]) if not text[start:].count('"') else text[start:]
    return stack, rest.lstrip()


def _item(label: str, kind: T.CompletionItemKind, detail: str | None = None,
          doc: str | None = None) -> T.CompletionItem:
    return T.CompletionItem(label=label, kind=kind, detail=detail,
                            documentation=doc if doc else None)


def _names(analysis: Analysis, what: str) -> list[T.CompletionItem]:
    merged: dict[str, T.CompletionItem] = {}
    for program in analysis.programs.values():
        table: dict[str, object]
        kind = T.CompletionItemKind.Module
        if what == "construct":
            table, kind = dict(program.constructs), T.CompletionItemKind.Interface
        elif what == "capability":
            table, kind = dict(program.capabilities), T.CompletionItemKind.Constant
        elif what == "library":
            table = dict(program.libraries)
        elif what == "policy":
            table, kind = dict(program.policies), T.CompletionItemKind.Class
        elif what == "backend":
            from ..backend import names

            table, kind = {b: None for b in names()}, T.CompletionItemKind.EnumMember
        else:
            table = {}
        for name, obj in table.items():
            merged.setdefault(name, _item(name, kind, what, getattr(obj, "doc", None)))
    return [merged[n] for n in sorted(merged)]


def completion(analysis: Analysis, line: int, character: int) -> T.CompletionList:
    text = analysis.texts.get(analysis.path, "")
    idx = LineIndex(text)
    ln, col = idx.from_lsp(line, character)
    before = "\n".join(idx.lines[:ln - 1] + [idx.lines[ln - 1][:col - 1]]) \
        if ln - 1 < len(idx.lines) else "\n".join(idx.lines)
    line_tokens = [m.group() for m in _TOKEN.finditer(before.rsplit("\n", 1)[-1])]
    if line_tokens and (line_tokens[-1].startswith(("#", "//")) or (
            line_tokens[-1].startswith('"') and (len(line_tokens[-1]) == 1
                                                 or not line_tokens[-1].endswith('"')))):
        return T.CompletionList(is_incomplete=False, items=[])  # in a comment or a string
    stack, statement = _context(before)
    return T.CompletionList(is_incomplete=False, items=_complete(analysis, stack, statement,
                                                                 before))


def _complete(analysis: Analysis, stack: list[str], statement: str,
              before: str) -> list[T.CompletionItem]:
    st = statement
    if not stack:
        if re.fullmatch(r"[A-Za-z_]*", st):
            return [_item(k, T.CompletionItemKind.Keyword) for k in _TOP_KEYWORDS]
        return []
    block = stack[-1]
    # set LIB.PARAM = VALUE
    m = re.fullmatch(r"set\s+([A-Za-z_][\w-]*)\.(\w*)", st)
    if m:
        return _params(analysis, m.group(1))
    m = re.fullmatch(r"set\s+([A-Za-z_][\w-]*)\.(\w+)\s*=\s*\w*", st)
    if m:
        decl = _lookup(analysis, "param", f"{m.group(1)}.{m.group(2)}")
        if isinstance(decl, ParamDecl):
            if decl.type.kind == "enum":
                return [_item(v, T.CompletionItemKind.EnumMember) for v in decl.type.members]
            if decl.type.kind == "bool":
                return [_item(v, T.CompletionItemKind.Keyword) for v in ("false", "true")]
        return []
    if re.fullmatch(r"(set|use)\s+[\w-]*", st):
        return _names(analysis, "library")
    m = re.fullmatch(r"use\s+([\w-]+)\s+for\s+[\w.]*", st)
    if m:
        return _names(analysis, "construct")
    # KEY = VALUE or KEY = [A, B, ...]
    m = re.fullmatch(r"([A-Za-z_]\w*)(?:\s+on\s+[^=]*)?\s*=\s*(.*)", st, re.S)
    if m:
        key, value = m.group(1), m.group(2)
        if block == "device":
            schema: dict[str, KeyType] = {k: v for d in DEVICE_KEYS.values()
                                          for k, v in d.items()}
        else:
            schema = SCHEMAS.get(block, {})
        what = NAME_KINDS.get((block, key))
        if what is not None:
            return _names(analysis, what)
        typ = schema.get(key)
        if isinstance(typ, Enum) and re.fullmatch(r"\w*", value):
            return [_item(v, T.CompletionItemKind.EnumMember) for v in typ.members]
        if typ is not None and not isinstance(typ, ListOf) and typ.words == "a boolean":
            return [_item(v, T.CompletionItemKind.Keyword) for v in ("false", "true")]
        return []
    m = re.fullmatch(r"(?:\w+|set\s+\S+\s*=\s*\S+)\s+on\s+\[?[\w,\s]*", st)
    if m:
        return _names(analysis, "backend")
    if not re.fullmatch(r"[A-Za-z_]*", st):
        return []
    # the start of a member: the keys of this block (and its member keywords)
    if block == "device":
        kind = re.findall(r"\bkind\s*=\s*(\w+)", before[before.rfind("device"):])
        keys = DEVICE_KEYS.get(kind[-1], {}) if kind else {
            k: v for d in DEVICE_KEYS.values() for k, v in d.items()}
        return [_item(k, T.CompletionItemKind.Field, t.words) for k, t in sorted(keys.items())]
    schema = SCHEMAS.get(block, {})
    items = [_item(k, T.CompletionItemKind.Field, t.words) for k, t in sorted(schema.items())]
    extra = {"library": ("param",), "app": ("device", "set", "use")}.get(block, ())
    return items + [_item(k, T.CompletionItemKind.Keyword) for k in extra]


def _params(analysis: Analysis, lib: str) -> list[T.CompletionItem]:
    for program in analysis.programs.values():
        if lib in program.libraries:
            return [_item(p.name, T.CompletionItemKind.Variable, p.type.describe(), p.doc)
                    for p in sorted(program.libraries[lib].params, key=lambda p: p.name)]
    return []


# ---------------------------------------------------------------- formatting

def formatting(text: str) -> list[T.TextEdit] | None:
    """``unilang fmt``'s layout as one edit of the whole document: no edit when it
    is already formatted, None (nothing to apply) when it does not parse."""
    from ..fmt import format_text

    res = format_text(text)
    if res.text is None:
        return None
    if res.text == text:
        return []
    idx = LineIndex(text)
    end = idx.to_lsp(len(idx.lines), len(idx.lines[-1]) + 1)
    return [T.TextEdit(T.Range(T.Position(0, 0), T.Position(*end)), res.text)]

