"""The reference parser: source text -> ``unilang.front.syntax`` tree, or syntax
diagnostics, with lark.

``unilang.front.parse`` tries the hand-written fast path (``unilang.front.fast``)
first; what it does not accept comes here.  The lark LALR parser is built once
per process (``get_parser``) from ``grammar/unilang.lark`` and the terminals of
``unilang.front.tokens``; it builds a parse tree, which ``_Transform`` turns into
syntax nodes (with ``_Builder``) bottom-up, without recursion.
Syntax errors become diagnostics whose "expected" lists use the text of
tokens (``";"``, ``"{"``), never lark's terminal names.
"""

from __future__ import annotations

import functools
import unicodedata

import attrs
from typing import Any, Sequence

from .. import paths
from ..diagnostics import Diagnostic, Span, error
from .source import SourceFile
from . import syntax as S
from ..units import UNIT_LIST, UNITS
from .comments import attach
from .tokens import decode_string, grammar_text, parse_int, size_text

#: Names of the grammar's named terminals as a user would say them.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "INT": "a number",
    "STRING": "a string",
    "UNIT": f"a unit ({UNIT_LIST})",
    "$END": "end of file",
}


@attrs.frozen
class _Divides:
    """A param's ``divides N`` clause, on its way into ``S.Param``."""

    value: S.Scalar


class _Builder:
    """Callbacks that turn grammar rules into syntax nodes (used inline by lark)."""

    def __init__(self, file: str, errors: list[Diagnostic]) -> None:
        self.file = file
        self.errors = errors

    # -- helpers
    def span_of(self, meta: Any) -> Span:
        if getattr(meta, "empty", False):
            return Span(self.file, 1, 1, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def tok_span(self, tok: Any) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def decode_string(self, tok: Any) -> str:
        return decode_string(str(tok), self.file, tok.line, tok.column, self.errors)

    # -- scalars
    def int(self, meta: Any, children: Sequence[Any]) -> S.Int:
        return S.Int(parse_int(str(children[0])), self.span_of(meta))

    def size(self, meta: Any, children: Sequence[Any]) -> S.Size:
        num, unit = children
        n = parse_int(str(num))
        return S.Size(n * UNITS[str(unit)], size_text(str(num), str(unit)), self.span_of(meta))

    def string(self, meta: Any, children: Sequence[Any]) -> S.Str:
        return S.Str(self.decode_string(children[0]), self.span_of(meta))

    def true(self, meta: Any, children: Sequence[Any]) -> S.Bool:
        return S.Bool(True, self.span_of(meta))

    def false(self, meta: Any, children: Sequence[Any]) -> S.Bool:
        return S.Bool(False, self.span_of(meta))

    def dotted(self, meta: Any, children: Sequence[Any]) -> S.Name:
        return S.Name(".".join(str(c) for c in children), self.span_of(meta))

    def list(self, meta: Any, children: Sequence[Any]) -> S.List:
        return S.List(tuple(c for c in children if c is not None), self.span_of(meta))

    # -- members
    def on_clause(self, meta: Any, children: Sequence[Any]) -> tuple[S.Name, ...]:
        return tuple(S.Name(str(t), self.tok_span(t)) for t in children)

    def field(self, meta: Any, children: Sequence[Any]) -> S.Field:
        key = children[0]
        on = None
        if len(children) == 3:
            on = children[1]
        return S.Field(str(key), self.tok_span(key), children[-1], self.span_of(meta), on)

    def type_expr(self, meta: Any, children: Sequence[Any]) -> S.TypeExpr:
        return S.TypeExpr(str(children[0]), self.span_of(meta))

    def enum_type(self, meta: Any, children: Sequence[Any]) -> S.TypeExpr:
        members = tuple(S.Name(str(t), self.tok_span(t)) for t in children)
        return S.TypeExpr("enum", self.span_of(meta), members)

    def range(self, meta: Any, children: Sequence[Any]) -> tuple[Any, Any]:
        return (children[0], children[1])

    def divides(self, meta: Any, children: Sequence[Any]) -> _Divides:
        return _Divides(children[0])

    def param(self, meta: Any, children: Sequence[Any]) -> S.Param:
        name, type_ = children[0], children[1]
        default = low = high = divides = None
        doc = doc_span = None
        for c in children[2:]:
            if isinstance(c, _Divides):
                divides = c.value
            elif isinstance(c, tuple):
                low, high = c
            elif hasattr(c, "type") and getattr(c, "type") == "STRING":
                doc = self.decode_string(c)
                doc_span = self.tok_span(c)
            else:
                default = c
        return S.Param(str(name), self.tok_span(name), type_, default, low, high, doc,
                       self.span_of(meta), divides, doc_span=doc_span)

    def device(self, meta: Any, children: Sequence[Any]) -> S.Device:
        name = children[0]
        return S.Device(str(name), self.tok_span(name), tuple(children[1:]), self.span_of(meta))

    def use(self, meta: Any, children: Sequence[Any]) -> S.Use:
        lib, construct = children
        return S.Use(str(lib), self.tok_span(lib), construct, self.span_of(meta))

    def set(self, meta: Any, children: Sequence[Any]) -> S.Set:
        on = children[2] if len(children) == 3 else None
        return S.Set(children[0], children[1], self.span_of(meta), on=on)

    # -- declarations
    def import_decl(self, meta: Any, children: Sequence[Any]) -> S.Import:
        target = children[0]
        if isinstance(target, S.Name):
            return S.Import(target.value, False, self.span_of(meta), target.span)
        return S.Import(self.decode_string(target), True, self.span_of(meta),
                        self.tok_span(target))

    def _symbol(self, kind: str, meta: Any, children: Sequence[Any]) -> S.Symbol:
        name = children[0]
        doc = doc_span = None
        if len(children) > 1:
            doc, doc_span = self.decode_string(children[1]), self.tok_span(children[1])
        return S.Symbol(kind, name.value, name.span, doc, self.span_of(meta), doc_span=doc_span)

    def construct_decl(self, meta: Any, children: Sequence[Any]) -> S.Symbol:
        return self._symbol("construct", meta, children)

    def capability_decl(self, meta: Any, children: Sequence[Any]) -> S.Symbol:
        return self._symbol("capability", meta, children)

    def _block(self, kind: str, meta: Any, children: Sequence[Any]) -> S.Block:
        name = children[0]
        return S.Block(kind, str(name), self.tok_span(name), tuple(children[1:]),
                       self.span_of(meta))

    def library_decl(self, meta: Any, children: Sequence[Any]) -> S.Block:
        return self._block("library", meta, children)

    def app_decl(self, meta: Any, children: Sequence[Any]) -> S.Block:
        return self._block("app", meta, children)

    def policy_decl(self, meta: Any, children: Sequence[Any]) -> S.Block:
        return self._block("policy", meta, children)

    def start(self, meta: Any, children: Sequence[Any]) -> Sequence[Any]:
        return children


@functools.lru_cache(maxsize=1)
def _grammar_text() -> str:
    return grammar_text((paths.grammar_dir() / "unilang.lark").read_text(encoding="utf-8"))


#: The first letter of a decimal unit and the binary unit it is likely meant as.
_SI_UNITS = {"K": "KiB", "M": "MiB", "G": "GiB", "T": "TiB"}


def _after_zero(text: str, tok: Any) -> bool:
    """Whether ``tok`` follows a lone ``0`` with nothing between (``0X2``)."""
    pos = tok.start_pos
    return pos is not None and pos >= 1 and text[pos - 1] == "0" and (
        pos < 2 or not (text[pos - 2].isalnum() or text[pos - 2] in "_-"))


def _character_help(text: str, pos: int) -> str | None:
    """How to write what starts at ``pos``, for the slips that have a clear fix."""
    ch = text[pos] if pos < len(text) else ""
    if ch == "'":
        end = text.find("'", pos + 1)
        eol = text.find("\n", pos + 1)
        if end != -1 and (eol == -1 or end < eol) and '"' not in text[pos + 1:end]:
            return f'strings are written in double quotes: `"{text[pos + 1:end]}"`'
        return 'strings are written in double quotes: `"..."`'
    if ch and not ch.isascii() and unicodedata.decimal(ch, None) is not None:
        end = pos
        while end < len(text) and unicodedata.decimal(text[end], None) is not None:
            end += 1
        ascii_ = "".join(str(unicodedata.decimal(c)) for c in text[pos:end])
        return f"numbers are written with ASCII digits: `{ascii_}`"
    return None


class Parser:
    """The LALR parser, built once per process (see ``get_parser``)."""

    def __init__(self) -> None:
        from lark import Lark

        self.lark = Lark(_grammar_text(), parser="lalr", lexer="contextual",
                         propagate_positions=True, maybe_placeholders=False,
                         cache=False)  # no pickled tables: see unilang/cache.py
        self.words = dict(_TERMINAL_WORDS)
        for term in self.lark.terminals:
            pattern = term.pattern
            if term.name not in self.words and type(pattern).__name__ == "PatternStr":
                self.words[term.name] = f'"{pattern.value}"'

    def describe(self, terminals: set[str]) -> str:
        words = sorted({self.words.get(t, t.lower()) for t in terminals})
        quoted = [w for w in words if w.startswith('"')]
        other = [w for w in words if not w.startswith('"')]
        items = other + quoted
        if len(items) > 10:
            items = items[:10] + ["..."]
        if len(items) == 1:
            return items[0]
        return ", ".join(items[:-1]) + " or " + items[-1]

    def parse(self, source: SourceFile) -> tuple[S.Module | None, list[Diagnostic]]:
        from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

        errors: list[Diagnostic] = []
        builder = _Builder(source.name, errors)
        try:
            tree = self.lark.parse(source.text)
            decls = _Transform(builder).transform(tree)
        except UnexpectedToken as e:
            return None, [self._unexpected_token(source, e)]
        except UnexpectedCharacters as e:
            pos = e.pos_in_stream or 0
            ch = source.text[pos] if pos < len(source.text) else ""
            shown = ch if ch.isprintable() else f"\\u{{{ord(ch):x}}}"
            span = Span(source.name, e.line, e.column, e.line, e.column + 1)
            if ch == '"':
                # STRING did not match: the closing quote is missing on this line
                # (or the last one is escaped by a backslash).
                return None, [error("U0010", "unterminated string", span,
                                    help='a string ends with `"` on the same line; write a '
                                         'quote inside it as `\\"` and a newline as `\\n`')]
            expected = self.describe(set(e.allowed or ()))
            return None, [error("U0010", f"unexpected character `{shown}`", span,
                                notes=(f"expected {expected}",) if e.allowed else (),
                                help=_character_help(source.text, pos))]
        except UnexpectedInput:  # UnexpectedEOF and friends
            line = source.text.count("\n") + 1
            col = len(source.text) - (source.text.rfind("\n") + 1) + 1
            return None, [error("U0010", "unexpected end of file",
                                Span(source.name, line, col, line, col))]
        found = self.comments(source)
        if not found:
            return S.Module(source.name, tuple(decls)), errors
        placed, rest = attach(decls, found)
        return S.Module(source.name, placed, rest), errors

    def comments(self, source: SourceFile) -> list[S.Comment]:
        """The COMMENT tokens of a source the parser accepted, from lark's lexer."""
        if "#" not in source.text and "//" not in source.text:
            return []
        return [S.Comment(str(t), Span(source.name, t.line, t.column, t.end_line, t.end_column))
                for t in self.lark.lex(source.text, dont_ignore=True) if t.type == "COMMENT"]

    def _unexpected_token(self, source: SourceFile, e: Any) -> Diagnostic:
        tok = e.token
        accepted: set[str] = set(e.expected)
        try:
            if e.interactive_parser is not None:
                accepted = set(e.interactive_parser.accepts()) or accepted
        except Exception:  # noqa: BLE001 - fall back to lark's own list
            pass
        expected = self.describe(accepted)
        if tok.type == "$END":
            line = source.text.count("\n") + 1
            col = len(source.text) - (source.text.rfind("\n") + 1) + 1
            span = Span(source.name, line, col, line, col)
            return error("U0010", f"unexpected end of file, expected {expected}", span)
        span = Span(source.name, tok.line, tok.column, tok.end_line or tok.line,
                    tok.end_column or tok.column + 1)
        text = str(tok)
        if len(text) > 40:
            text = text[:37] + "..."
        found = self.words.get(tok.type, "")
        if found and not found.startswith('"'):
            found = found.split(" ", 1)[1] if found.startswith(("a ", "an ")) else found
            what = f"{found} `{text}`"
        else:
            what = f"`{text}`"
        help_ = None
        if "SEMICOLON" in accepted and tok.type in ("RBRACE", "NAME", "PARAM", "DEVICE",
                                                    "USE", "SET"):
            help_ = "every field, param, use and set ends with `;`"
        if tok.type == "NAME" and "UNIT" in accepted and len(str(tok)) > 1 and str(tok).lower() in {
                u.lower() for u in UNITS}:
            help_ = f"units are case-sensitive: {UNIT_LIST}"
        elif tok.type == "NAME" and "UNIT" in accepted and str(tok)[:1].upper() in _SI_UNITS \
                and str(tok)[1:].lower() in ("b", ""):
            # `64 MB`: the decimal spelling of a binary unit
            unit = _SI_UNITS[str(tok)[:1].upper()]
            help_ = f"`{tok}` is not a unit: did you mean `{unit}`? units: {UNIT_LIST}"
        elif tok.type == "NAME" and str(tok)[:1] in "xX" and _after_zero(source.text, tok):
            digits = str(tok)[1:]
            if digits and all(c in "0123456789abcdefABCDEF" for c in digits):
                help_ = f"a hexadecimal number starts with a lower-case `0x`: `0x{digits}`"
        if tok.type == "LSQB" and "LSQB" not in accepted:
            if "RSQB" in accepted:  # inside a list
                help_ = "lists hold names, numbers, sizes, strings and booleans; they do not nest"
            elif accepted & {"INT", "STRING"}:  # `set` and `param` take one value
                help_ = "this takes a single name, number, size, string or boolean, not a list"
        return error("U0010", f"unexpected {what}, expected {expected}", span, help=help_)


class _Transform:
    """Bottom-up transform of a lark tree without recursion on depth."""

    def __init__(self, builder: _Builder) -> None:
        self.b = builder

    def transform(self, tree: Any) -> Any:
        from lark import Tree

        # Post-order traversal with an explicit stack: depth is bounded by the
        # grammar anyway, but never trust that with the interpreter's stack.
        stack: list[tuple[Any, bool]] = [(tree, False)]
        results: list[Any] = []
        while stack:
            node, done = stack.pop()
            if not isinstance(node, Tree):
                results.append(node)
                continue
            if not done:
                stack.append((node, True))
                for child in reversed(node.children):
                    stack.append((child, False))
                continue
            n = len(node.children)
            children = results[len(results) - n:] if n else []
            del results[len(results) - n:]
            fn = getattr(self.b, str(node.data))
            results.append(fn(node.meta, children))
        return results[0]


@functools.lru_cache(maxsize=1)
def get_parser() -> Parser:
    return Parser()
