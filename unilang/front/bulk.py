"""Whole declarations in a few regular-expression matches: the fast parser's
path for the plain declarations that large worlds are made of.

``unilang.front.fast`` tokenizes a declaration and parses its tokens, at a
Python-level step or two per token (about 30 tokens in a small library
block).  Here a declaration of the commonest shapes is matched a member at a
time instead, and its nodes are built from the match offsets:

* ``construct NAME;`` and ``capability NAME "doc";`` (dotted names allowed);
* ``library NAME { ... }`` whose members are fields with a string, a name, a
  decimal number or a list of names as value, and params of the form
  ``param NAME: TYPE [= INT] [in INT .. INT] ["doc"];``.

Anything else -- a comment or an escape inside the declaration, a unit, an
``on`` clause, another member kind, other whitespace between a dotted name's
parts -- is not matched, and the token path parses the declaration (and
reports or falls back to lark as before).  What is matched is exactly what the
token path would build: the same nodes, values and spans (the property tests
of ``tests/test_fastparse.py`` compare both against lark).  Names may not be
followed by a name character and numbers by anything a unit or another token
could start with, which the possessive quantifiers (``*+``, ``++``) make sure
of: no shorter reading of a token is ever tried.  Only single characters are
repeated possessively, never a group: Python before 3.11.5 matches a
possessive repeat of a group that can backtrack wrongly (CPython gh-106052;
Debian 12 has 3.11.2), and ``[x y]`` passed for a list of names.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from typing import Callable

from . import syntax as S
from ..diagnostics import Span
from .tokens import parse_int

_W = r"[ \t\f\r\n]"
_LEAD = rf"(?:{_W}++|(?:#|//)[^\n]*+)*"
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*+"
_DOTTED = rf"{_NAME}(?:\.{_NAME})*"
_INT = r"-?[0-9]++"
_STR = r'"[^"\\\n]*+"'

_SYMBOL = re.compile(rf"{_LEAD}(construct|capability){_W}++({_DOTTED})"
                     rf"(?:{_W}*+({_STR}))?{_W}*+;")
_LIBRARY = re.compile(rf"{_LEAD}(library){_W}++({_NAME}){_W}*+\{{")
_FIELD = re.compile(rf"{_W}*+({_NAME}){_W}*+={_W}*+"
                    rf"(?:({_STR})|\[([^\]\"#/\\]*+)\]|({_DOTTED})|({_INT})){_W}*+;")
_ITEM = re.compile(rf"{_W}*+({_DOTTED}){_W}*+(,)?")
_PARAM = re.compile(rf"{_W}*+(?:param){_W}++({_NAME}){_W}*+:{_W}*+({_NAME})"
                    rf"(?:{_W}*+={_W}*+({_INT}))?"
                    rf"(?:{_W}++in{_W}++({_INT}){_W}*+\.\.{_W}*+({_INT}))?"
                    rf"(?:{_W}*+({_STR}))?{_W}*+;")
_CLOSE = re.compile(rf"{_W}*+\}}")

# A whole block body in one match, for ``_DECL`` (``Bulk.run``): the members ``_FIELD``
# and ``_PARAM`` match, with the checks ``field`` and ``param`` make in Python
# written as lookaheads (no member word as a key, no `true.`/`false.` name, no
# enum type), and lists as ``items`` reads them.
_WORD_END = r"(?![A-Za-z0-9_\-])"
_VALUE_NAME = rf"(?!true\.|false\.){_DOTTED}"
_LIST = rf"\[(?:{_W}*+{_VALUE_NAME}{_W}*+,)*(?:{_W}*+{_VALUE_NAME})?{_W}*+\]"
_FIELD_WHOLE = (rf"{_W}*+(?!(?:param|device|use|set){_WORD_END}){_NAME}{_W}*+={_W}*+"
                rf"(?:{_STR}|{_LIST}|{_VALUE_NAME}|{_INT}){_W}*+;")
#: a param member up to its `;` (as ``param`` accepts it: no enum type)
_PARAM_SHAPE = (rf"param{_W}++{_NAME}{_W}*+:{_W}*+(?!enum{_WORD_END}){_NAME}"
                rf"(?:{_W}*+={_W}*+{_INT})?"
                rf"(?:{_W}++in{_W}++{_INT}{_W}*+\.\.{_W}*+{_INT})?"
                rf"(?:{_W}*+{_STR})?")
_PARAM_WHOLE = rf"{_W}*+{_PARAM_SHAPE}{_W}*+;"
#: a block's members and the blanks before its `}`
_MEMBERS = rf"(?:{_FIELD_WHOLE}|{_PARAM_WHOLE})*{_W}*+"
_BLANK = re.compile(rf"{_W}*+")

# ``_SYMBOL``, or a library block whose members ``_MEMBERS`` matches, in one match:
# the loader's common case (``Bulk.decl`` with ``lazy``).  Groups: 1-3 as in
# ``_SYMBOL``; 4 `library`, 5 the library's name, 6 its body (between the braces).
_DECL = re.compile(rf"{_LEAD}(?:(construct|capability){_W}++({_DOTTED})"
                   rf"(?:{_W}*+({_STR}))?{_W}*+;"
                   rf"|(library){_W}++({_NAME}){_W}*+\{{({_MEMBERS})\}})")

# The commonest library shape, whole (``Bulk.plain_library``): a `doc`
# string, `provides`, `requires` and `exercises` as lists written as
# `[a, b, c]` on one line, and params, in any order.  A key written twice
# keeps only its last groups; ``plain_library`` counts the members to see that.
# Every block it matches ``_DECL`` matches too.  Groups: 1 `library`, 2 the
# name, 3 the doc's text, 4-6 the lists' items, 7 the (last) param.
_PLAIN_ITEMS = rf"\[ *+((?:{_VALUE_NAME}(?:, {_VALUE_NAME})*)?) *+\]"
_PLAIN = re.compile(
    rf"{_LEAD}(library){_W}++({_NAME}){_W}*+\{{(?:{_W}*+(?:"
    rf'doc{_W}*+={_W}*+"([^"\\\n]*+)"'
    rf"|provides{_W}*+={_W}*+{_PLAIN_ITEMS}"
    rf"|requires{_W}*+={_W}*+{_PLAIN_ITEMS}"
    rf"|exercises{_W}*+={_W}*+{_PLAIN_ITEMS}"
    rf"|({_PARAM_SHAPE})"
    rf"){_W}*+;)*{_W}*+\}}")
#: ``_PLAIN``'s list groups, by key
_PLAIN_LISTS = (("provides", 4), ("requires", 5), ("exercises", 6))

#: words that make a member something other than a field
_MEMBER_WORDS = frozenset({"param", "device", "use", "set"})
#: keys whose values name files (``S.LazyBlock.names_files``)
FILE_KEYS = frozenset({"sources", "includes", "files"})

_tuple_new = tuple.__new__

#: ``Bulk.plain_param``: name, default, low, high, doc, span
PlainParam = tuple[str, int, int, int, "str | None", Span]


class Bulk:
    """Matches declarations of ``text`` (see the module's docstring)."""

    def __init__(self, text: str, file: str, line_starts: list[int], line_numbers: list[int],
                 interned: dict[str, str], quoted: list[tuple[int, int]],
                 intern: Callable[[str, str], str] | None = None) -> None:
        self.text = text
        self.file = file
        self.line_starts = line_starts
        self.line_numbers = line_numbers
        self.intern: Callable[[str, str], str] = intern or interned.setdefault
        self.quoted = quoted

    def span(self, start: int, last_start: int, end: int) -> Span:
        """From ``start`` to ``end``; ``last_start`` is where the last token starts
        (a token does not span lines), as ``FastParser.span`` counts."""
        ls = self.line_starts
        line = self.line_numbers[bisect_right(ls, start)]
        col = start - ls[line - 1] + 1
        if line == len(ls) or last_start < ls[line]:  # it ends on the line it starts on
            return _tuple_new(Span, (self.file, line, col, line, col + end - start))
        end_line = self.line_numbers[bisect_right(ls, last_start, line - 1)]
        return _tuple_new(Span, (self.file, line, col, end_line, end - ls[end_line - 1] + 1))

    def tok(self, start: int, end: int) -> Span:
        """A one-token span."""
        ls = self.line_starts
        line = self.line_numbers[bisect_right(ls, start)]
        col = start - ls[line - 1] + 1
        return _tuple_new(Span, (self.file, line, col, line, col + end - start))

    def one_line(self, start: int, end: int) -> tuple[int, int] | None:
        """When the text from ``start`` to ``end`` is on one line (most
        declarations and members are): that line, and the offset a column is
        counted from (a span's columns are offsets minus it); else None."""
        if self.text.find("\n", start, end) >= 0:
            return None
        ls = self.line_starts
        line = self.line_numbers[bisect_right(ls, start)]
        return line, ls[line - 1] - 1

    def string(self, start: int, end: int) -> str:
        value = self.text[start + 1:end - 1]
        if "#" in value or "//" in value:
            self.quoted.append((start, end))  # see FastParser.comments
        return value

    def name(self, start: int, end: int) -> S.Scalar | None:
        """A name or ``true``/``false`` as a scalar; None where the token path bails."""
        value = self.text[start:end]
        if value == "true" or value == "false":
            return S.Bool(value == "true", self.tok(start, end))
        if value.startswith(("true.", "false.")):
            return None  # a boolean followed by `.`
        return S.Name(self.intern(value, value), self.tok(start, end))

    # ------------------------------------------------------------ declarations
    def again(self) -> "Bulk":
        """A matcher over the same text for ``S.LazyBlock``'s members, later: the
        strings it meets are not noted again for the comment scan."""
        # its line starts as machine integers (8 bytes a line, not 36): it lives as
        # long as the tree, and bisects a few times a block
        return Bulk(self.text, self.file, array("q", self.line_starts),  # type: ignore[arg-type]
                    self.line_numbers, {}, [], self.intern)

    def _symbol(self, m: re.Match[str]) -> S.Symbol:
        """The construct or capability ``m`` matched (``_SYMBOL``, or ``_DECL``'s
        groups 1-3)."""
        text = self.text
        kind = m.group(1)
        start = m.start(1)
        name_at, name_end = m.span(2)
        name = text[name_at:name_end]
        end = m.end()
        doc = doc_span = None
        where = self.one_line(start, end)
        if where is not None:
            line, base = where
            file = self.file
            if m.start(3) >= 0:
                doc_at, doc_end = m.span(3)
                doc = self.string(doc_at, doc_end)
                doc_span = _tuple_new(Span, (file, line, doc_at - base, line, doc_end - base))
            name_span = _tuple_new(Span, (file, line, name_at - base, line, name_end - base))
            span = _tuple_new(Span, (file, line, start - base, line, end - base))
        else:
            if m.start(3) >= 0:
                doc = self.string(m.start(3), m.end(3))
                doc_span = self.tok(m.start(3), m.end(3))
            name_span = self.tok(name_at, name_end)
            span = self.span(start, end - 1, end)
        # positional, in the order of ``S.Symbol``'s fields
        return S.Symbol(kind, self.intern(name, name), name_span, doc, span, None, doc_span)

    def run(self, pos: int, lazy: "Bulk", out: list[S.Decl]) -> int:
        """``decl`` with ``lazy`` for as many declarations after ``pos`` as are
        symbols or plain library blocks in one match (``_DECL``: a large world is
        made of them), each added to ``out``; the offset where the first other one
        starts (or the text ends)."""
        text = self.text
        match = _DECL.match
        plain = _PLAIN.match
        intern = self.intern
        make = S.LazyBlock.make
        find = text.find
        while True:
            m = plain(text, pos)
            if m is not None:
                start = m.start(1)
                end = m.end()
                if find("#", start, end) >= 0 or find("/", start, end) >= 0:
                    return pos  # a string to note, as below (``_DECL`` matches it too)
                # the commonest shape: kept with its match, which the checker
                # reads (``plain_library``); no key of it names files
                name = m.group(2)
                out.append(make(lazy, start, intern(name, name), m.start(2), end, False, m))
                pos = end
                continue
            m = match(text, pos)
            if m is None:
                return pos
            if m.start(4) < 0:
                out.append(self._symbol(m))
            else:
                body = m.group(6)
                if "#" in body or "/" in body:  # a string to note for the comment scan
                    return pos
                name = m.group(5)
                out.append(make(lazy, m.start(4), intern(name, name), m.start(5), m.end(),
                                "sources" in body or "includes" in body or "files" in body))
            pos = m.end()

    def decl(self, pos: int, lazy: "Bulk | None" = None) -> tuple[S.Decl, int] | None:
        """The declaration after ``pos`` (blanks and comments before it skipped) and
        the offset after it, or None when it is not one of the plain shapes.

        With ``lazy`` (the matcher from ``again``), a library block's members are
        matched but not built: the block is an ``S.LazyBlock`` that ``lazy``
        builds them for when they are asked for."""
        text = self.text
        m = _SYMBOL.match(text, pos)
        if m is not None:
            return self._symbol(m), m.end()
        m = _LIBRARY.match(text, pos)
        if m is None:
            return None
        block_start = m.start(1)
        name = text[m.start(2):m.end(2)]
        name_span = self.tok(m.start(2), m.end(2))
        p = m.end()
        if lazy is not None:
            return self.lazy_block(m, lazy)
        members: list[S.Member] = []
        while True:
            f = _FIELD.match(text, p)
            if f is not None:
                member = self.field(f)
                if member is None:
                    return None
                members.append(member)
                p = f.end()
                continue
            f = _PARAM.match(text, p)
            if f is not None:
                param = self.param(f)
                if param is None:
                    return None
                members.append(param)
                p = f.end()
                continue
            f = _CLOSE.match(text, p)
            if f is None:
                return None
            end = f.end()
            return S.Block("library", self.intern(name, name), name_span, tuple(members),
                           self.span(block_start, end - 1, end)), end

    def lazy_block(self, m: re.Match[str], lazy: "Bulk") -> tuple[S.Decl, int] | None:
        """``decl``'s library block as an ``S.LazyBlock``: each member is matched and
        checked as ``field`` and ``param`` would (``field_ok``, ``items_ok``), and
        nothing is built but the block's head.  (The blocks ``run`` takes whole
        never come here: what does has a comment character in it, or members
        ``_MEMBERS`` does not take.)"""
        text = self.text
        p = m.end()
        names_files = False
        while True:
            f = _FIELD.match(text, p)
            if f is not None:
                if not self.field_ok(f):
                    return None
                if text[f.start(1):f.end(1)] in FILE_KEYS:
                    names_files = True
                p = f.end()
                continue
            f = _PARAM.match(text, p)
            if f is not None:
                if text[f.start(2):f.end(2)] == "enum":
                    return None  # as in ``param``
                if f.start(6) >= 0:
                    self.note_string(*f.span(6))
                p = f.end()
                continue
            f = _CLOSE.match(text, p)
            if f is None:
                return None
            end = f.end()
            block_start = m.start(1)
            name = text[m.start(2):m.end(2)]
            return S.LazyBlock.make(lazy, block_start, self.intern(name, name), m.start(2),
                                    end, names_files), end

    def plain_fields(self, at: int) -> list[tuple[str, str | list[tuple[str, Span]]]] | None:
        """The members of the library block at ``at`` (``S.LazyBlock``), when every
        one is a field whose value is a string or a list of names: (key, the
        string) or (key, [(name, its span), ...]), as ``decl`` would build them
        but without the nodes; None for anything else (a param, another value,
        `true` or `false` in a list)."""
        text = self.text
        m = _LIBRARY.match(text, at)
        if m is None:  # pragma: no cover - it matched when the block was parsed
            return None
        p = m.end()
        out: list[tuple[str, str | list[tuple[str, Span]]]] = []
        intern = self.intern
        ls = self.line_starts
        last = len(ls)
        line = bisect_right(ls, at)  # the block's line; each item's counted on from it
        file = self.file
        while True:
            f = _FIELD.match(text, p)
            if f is None:
                return out if _CLOSE.match(text, p) is not None else None
            key = text[f.start(1):f.end(1)]
            if f.start(2) >= 0:
                out.append((intern(key, key), text[f.start(2) + 1:f.end(2) - 1]))
            elif f.start(3) >= 0:
                items: list[tuple[str, Span]] = []
                for item in _ITEM.finditer(text, f.start(3), f.end(3)):
                    s, e = item.span(1)
                    name = text[s:e]
                    if name == "true" or name == "false":
                        return None  # a boolean, not a name
                    # the item's line, counted on from the block's (a few lines
                    # at most): what ``tok``'s search finds
                    while line < last and ls[line] <= s:
                        line += 1
                    col = s - ls[line - 1] + 1
                    n = self.line_numbers[line]
                    items.append((intern(name, name),
                                  _tuple_new(Span, (file, n, col, n, col + e - s))))
                out.append((intern(key, key), items))
            else:
                return None
            p = f.end()

    def plain_match(self, at: int) -> re.Match[str] | None:
        """``_PLAIN``'s match of the library block at ``at``, if it has that shape."""
        return _PLAIN.match(self.text, at)

    def plain_library(self, m: re.Match[str]
                      ) -> tuple[str | None, list[tuple[str, list[str], list[Span]]],
                                 tuple[PlainParam | None, int] | None] | None:
        """The library block ``_PLAIN`` matched (``m``) when it has the commonest shape:
        a `doc` string, `provides`, `requires` and `exercises` as lists of names
        written `[a, b]` on one line, at most one param, each key once: its doc,
        its lists as (key, names, their spans), and its param as (``plain_param``,
        its offset for ``param_at``); None for anything else (``plain_fields`` and
        the full path take that).  No syntax node is built."""
        text = self.text
        at = m.start(1)
        end = m.end()
        # a key written twice matched twice but kept its last groups only: the
        # members found must be all the members there are (their `;`s)
        members = text.count(";", at, end)
        doc = m.group(3)
        if doc is not None:
            members -= 1 + doc.count(";")
        param = None
        if m.start(7) >= 0:
            members -= 1 + text.count(";", m.start(7), m.end(7))
            found = _PARAM.match(text, m.start(7))
            if found is None:  # pragma: no cover - _PLAIN's param is one _PARAM matches
                return None
            param = (self.plain_param(found), m.start(7))
        lists: list[tuple[str, list[str], list[Span]]] = []
        intern = self.intern
        file = self.file
        ls = self.line_starts
        # the block's line, once; each list's line counted on from it
        first = bisect_right(ls, at)
        for key, group in _PLAIN_LISTS:
            start = m.start(group)
            if start < 0:
                continue
            members -= 1
            items = m.group(group)
            if not items:
                lists.append((key, [], []))
                continue
            parts = items.split(", ")
            if "true" in parts or "false" in parts:
                return None  # booleans, not names
            names = list(map(intern, parts, parts))
            line = self.line_numbers[first + text.count("\n", at, start)]  # the list: one line
            base = ls[line - 1] - 1
            spans = []
            for name in names:
                stop = start + len(name)
                spans.append(_tuple_new(Span, (file, line, start - base, line, stop - base)))
                start = stop + 2
            lists.append((key, names, spans))
        if members:
            return None
        return doc, lists, param

    def plain_param(self, f: re.Match[str]) -> PlainParam | None:
        """The param ``f`` (``_PARAM``) when it is an `int` with a default and a
        range, on one line: its name, default, low and high bound, doc and span,
        without syntax nodes; None for any other (``param_at`` builds that one)."""
        text = self.text
        if f.start(4) < 0 or f.start(3) < 0 or text[f.start(2):f.end(2)] != "int":
            return None
        end = f.end()
        first = f.start() + len(_BLANK.match(text, f.start()).group(0))  # type: ignore[union-attr]
        where = self.one_line(first, end)
        if where is None:
            return None
        line, base = where
        doc = self.string(*f.span(6)) if f.start(6) >= 0 else None
        name = text[f.start(1):f.end(1)]
        return (self.intern(name, name), parse_int(text[f.start(3):f.end(3)]),
                parse_int(text[f.start(4):f.end(4)]), parse_int(text[f.start(5):f.end(5)]),
                doc, _tuple_new(Span, (self.file, line, first - base, line, end - base)))

    def param_at(self, at: int) -> S.Param:
        """The param node of the ``param`` member at ``at`` (``plain_library``)."""
        found = _PARAM.match(self.text, at)
        param = self.param(found) if found is not None else None
        if param is None:  # pragma: no cover - plain_library found it there
            raise AssertionError(f"the param at offset {at} did not match again")
        return param

    def note_string(self, start: int, end: int) -> None:
        if "#" in self.text[start:end] or "//" in self.text[start:end]:
            self.quoted.append((start, end))  # see FastParser.comments

    def field_ok(self, f: re.Match[str]) -> bool:
        """Whether ``field`` accepts the field ``f`` (without building it)."""
        text = self.text
        if text[f.start(1):f.end(1)] in _MEMBER_WORDS:
            return False
        if f.start(2) >= 0:
            self.note_string(*f.span(2))
            return True
        if f.start(3) >= 0:
            return self.items_ok(f.start(3) - 1, f.end(3))
        if f.start(4) >= 0:
            return not text.startswith(("true.", "false."), f.start(4))  # as ``name``
        return True

    def items_ok(self, open_at: int, close_at: int) -> bool:
        """Whether ``items`` accepts the list from ``open_at`` to ``close_at``."""
        text = self.text
        p = open_at + 1
        match = _ITEM.match
        while True:
            m = match(text, p, close_at)
            if m is None:
                return _BLANK.match(text, p, close_at).end() == close_at  # type: ignore[union-attr]
            if text.startswith(("true.", "false."), m.start(1)):
                return False
            p = m.end()
            if m.start(2) < 0:  # no comma: the last item
                return p == close_at

    # ------------------------------------------------------------ members
    def field(self, f: re.Match[str]) -> S.Field | None:
        text = self.text
        ks, ke = f.span(1)
        key = text[ks:ke]
        if key in _MEMBER_WORDS:
            return None
        # the line the key is on: most fields are written on one line, and
        # their tokens' spans are made here without a search each
        ls = self.line_starts
        line = self.line_numbers[bisect_right(ls, ks)]
        base = ls[line - 1] - 1
        nxt = ls[line] if line < len(ls) else len(text) + 1
        file = self.file
        value: S.Value | None
        if f.start(2) >= 0:
            vs, ve = f.span(2)
            value = S.Str(self.string(vs, ve),
                          _tuple_new(Span, (file, line, vs - base, line, ve - base))
                          if ve <= nxt else self.tok(vs, ve))
        elif f.start(3) >= 0:
            value = self.items(f.start(3) - 1, f.end(3), line, base, nxt)
        elif f.start(4) >= 0:
            value = self.name(f.start(4), f.end(4))
        else:
            vs, ve = f.span(5)
            value = S.Int(parse_int(text[vs:ve]), self.tok(vs, ve))
        if value is None:
            return None
        end = f.end()
        return S.Field(self.intern(key, key),
                       _tuple_new(Span, (file, line, ks - base, line, ke - base)), value,
                       _tuple_new(Span, (file, line, ks - base, line, end - base))
                       if end <= nxt else self.span(ks, end - 1, end), None)

    def items(self, open_at: int, close_at: int, line: int, base: int, nxt: int
              ) -> S.List | None:
        """``[`` at ``open_at``, names (or booleans) separated by commas, ``]`` at
        ``close_at``; ``line`` is the line of the field's key, which starts at
        ``base + 1`` and ends before ``nxt``."""
        text = self.text
        file = self.file
        intern = self.intern
        out: list[S.Scalar] = []
        p = open_at + 1
        match = _ITEM.match
        while True:
            m = match(text, p, close_at)
            if m is None:
                if _BLANK.match(text, p, close_at).end() != close_at:  # type: ignore[union-attr]
                    return None
                break
            s, e = m.span(1)
            value = text[s:e]
            item: S.Scalar | None
            if e > nxt or value.startswith(("true", "false")):
                item = self.name(s, e)  # on a later line, or maybe a boolean
                if item is None:
                    return None
            else:
                item = S.Name(intern(value, value), _tuple_new(Span, (file, line, s - base,
                                                                       line, e - base)))
            out.append(item)
            p = m.end()
            if m.start(2) < 0:  # no comma: the last item
                if p != close_at:
                    return None
                break
        if close_at < nxt:
            return S.List(tuple(out), _tuple_new(Span, (file, line, open_at - base, line,
                                                        close_at + 1 - base)))
        return S.List(tuple(out), self.span(open_at, close_at, close_at + 1))

    def param(self, f: re.Match[str]) -> S.Param | None:
        text = self.text
        ts, te = f.span(2)
        type_name = text[ts:te]
        if type_name == "enum":
            return None
        end = f.end()
        first = f.start() + len(_BLANK.match(text, f.start()).group(0))  # type: ignore[union-attr]
        tok: Callable[[int, int], Span] = self.tok
        where = self.one_line(first, end)
        if where is not None:
            line, base = where
            file = self.file

            def tok(start: int, stop: int) -> Span:
                return _tuple_new(Span, (file, line, start - base, line, stop - base))  # type: ignore[no-any-return]
        ns, ne = f.span(1)
        default = low = high = None
        if f.start(3) >= 0:
            default = S.Int(parse_int(text[f.start(3):f.end(3)]), tok(*f.span(3)))
        if f.start(4) >= 0:
            low = S.Int(parse_int(text[f.start(4):f.end(4)]), tok(*f.span(4)))
            high = S.Int(parse_int(text[f.start(5):f.end(5)]), tok(*f.span(5)))
        doc = doc_span = None
        if f.start(6) >= 0:
            ds, de = f.span(6)
            doc = self.string(ds, de)
            doc_span = tok(ds, de)
        name = text[ns:ne]
        return S.Param(self.intern(name, name), tok(ns, ne),
                       S.TypeExpr(self.intern(type_name, type_name), tok(ts, te)),
                       default, low, high, doc, self.span(first, end - 1, end), None,
                       doc_span=doc_span)

