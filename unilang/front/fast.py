"""A fast path for parsing well-formed sources.

lark's LALR parser (``unilang.front.lark``) is the reference: the grammar in
``grammar/unilang.lark`` (with the terminals of ``unilang.front.tokens``, which
this module reads too) defines the language and lark produces every syntax
diagnostic.  For large inputs it is slow (tens of microseconds a token), so
this module parses the same language with one regular expression for the
tokens and a small recursive-descent parser, building exactly the nodes and
spans that the lark path builds.  It gives up (returns None) at the first
token it does not expect, and the caller re-parses with lark, which then
either reports the error or, if the fast path was merely more cautious than
the grammar, produces the tree.  A property test checks that whenever this
path succeeds its tree equals lark's.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Iterator

from . import syntax as S
from ..diagnostics import Diagnostic, Span
from ..units import UNITS
from .bulk import Bulk
from .comments import attach
from .tokens import decode_string, fast_token_regex, parse_int, size_text

# The terminals of unilang.front.tokens, as lark tries them; each match also
# swallows the whitespace and comments before the token.
_TOKEN = fast_token_regex()
_tuple_new = tuple.__new__
_plus_one = (1).__add__

_BLOCK_KINDS = ("library", "app", "policy")
_MEMBER_KEYWORDS = ("param", "device", "use", "set")


class _Bail(Exception):
    """The input is not something the fast path handles; use lark."""


def _chunk(text: str, pos: int, names: dict[str, str], quoted: list[tuple[int, int]]
           ) -> tuple[list[str], list[str], list[int], int] | None:
    """Kinds, texts and start offsets of the tokens from ``pos`` through the next
    ``;`` outside braces or ``}`` that closes them (where a declaration ends),
    then ``$CHUNK``; or through the end of the text, then ``$END``.  Also the
    offset after the last token, and None on a character lark rejects.

    One declaration's tokens at a time: the whole file's token lists (three
    list slots, a string and an int a token) were most of the parser's peak
    memory.  Names are shared through ``names`` (a library's construct is
    written where it is declared, provided and required); strings that hold a
    comment marker are noted in ``quoted`` for ``FastParser.comments``."""
    kinds: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    match = _TOKEN.match
    depth = 0
    while True:
        m = match(text, pos)
        if m is None:
            return None
        kind = m.lastgroup
        start, pos = m.span(kind)
        if kind == "name":
            value = text[start:pos]
            value = names.setdefault(value, value)
            kinds.append("name")
        elif kind == "p":
            value = text[start:pos]
            kinds.append(value)
            if value == "{":
                depth += 1
            elif value == "}":
                depth -= 1
                if depth == 0:
                    texts.append(value)
                    starts.append(start)
                    break
            elif value == ";" and depth == 0:
                texts.append(value)
                starts.append(start)
                break
        elif kind == "end":
            kinds.append("$END")
            texts.append("")
            starts.append(start)
            return kinds, texts, starts, pos
        else:
            value = text[start:pos]
            kinds.append(kind)  # type: ignore[arg-type]
            if kind == "str" and ("#" in value or "//" in value):
                quoted.append((start, pos))
        texts.append(value)
        starts.append(start)
    kinds.append("$CHUNK")
    texts.append("")
    starts.append(pos)
    return kinds, texts, starts, pos


class FastParser:
    def __init__(self, text: str, file: str, errors: list[Diagnostic],
                 lazy: bool = False) -> None:
        #: library blocks the bulk path matches are ``S.LazyBlock``s
        self.lazy = lazy
        self.file = file
        self.text = text
        self.errors = errors
        self.interned: dict[str, str] = {}
        #: (start, end) of every string token that holds `#` or `//`
        self.quoted: list[tuple[int, int]] = []
        # the current declaration's tokens (see _chunk); the first call of
        # next_chunk replaces this empty chunk
        self.kinds, self.texts, self.starts = ["$CHUNK"], [""], [0]
        self.pos = 0  # where the next chunk starts
        # offsets where lines start, for turning token offsets into line:column
        # (each line's length plus its newline, summed: no Python step per line)
        self.line_starts = list(accumulate(map(_plus_one, map(len, text.split("\n"))),
                                           initial=0))
        self.line_starts.pop()  # where a line after the last would start
        # one int object per line number, shared by every span on that line
        # (bisect returns a new int each time: 28 bytes a span above line 256)
        self.line_numbers = list(range(len(self.line_starts) + 1))
        self.i = 0

    def next_chunk(self) -> None:
        """Tokenize the next declaration (see ``_chunk``)."""
        found = _chunk(self.text, self.pos, self.interned, self.quoted)
        if found is None:
            raise _Bail
        self.kinds, self.texts, self.starts, self.pos = found
        self.i = 0

    # ------------------------------------------------------------ helpers
    def where(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def span(self, first: int, last: int) -> Span:
        """From the start of token ``first`` to the end of token ``last``."""
        ls = self.line_starts
        start = self.starts[first]
        line = self.line_numbers[bisect_right(ls, start)]
        col = start - ls[line - 1] + 1
        # _tuple_new(Span, ...) is Span(...) without the generated Python-level
        # __new__: a third of the cost, for the ~18 spans of every library
        if first == last:
            return _tuple_new(Span, (self.file, line, col, line, col + len(self.texts[first])))
        end = self.starts[last]
        end_line = self.line_numbers[bisect_right(ls, end, line - 1)]
        return _tuple_new(Span, (self.file, line, col, end_line,
                                 end - ls[end_line - 1] + 1 + len(self.texts[last])))

    def expect(self, kind: str) -> int:
        i = self.i
        if self.kinds[i] != kind:
            raise _Bail
        self.i = i + 1
        return i

    def keyword(self, word: str) -> int:
        i = self.i
        if self.kinds[i] != "name" or self.texts[i] != word:
            raise _Bail
        self.i = i + 1
        return i

    def is_word(self, word: str) -> bool:
        return self.kinds[self.i] == "name" and self.texts[self.i] == word

    def decode(self, i: int) -> str:
        line, col = self.where(self.starts[i])
        return decode_string(self.texts[i], self.file, line, col, self.errors)

    def optional_str(self) -> tuple[str | None, Span | None]:
        """A doc string and its span, if one comes next."""
        i = self.i
        if self.kinds[i] != "str":
            return None, None
        self.i = i + 1
        return self.decode(i), self.span(i, i)

    # ------------------------------------------------------------ values
    def dotted(self) -> S.Name:
        i = self.i
        kinds = self.kinds
        if kinds[i] == "name" and kinds[i + 1] != ".":  # the common case: one name
            self.i = i + 1
            return S.Name(self.texts[i], self.span(i, i))
        first = self.expect("name")
        last = first
        parts = [self.texts[first]]
        kinds = self.kinds
        while kinds[self.i] == "." and kinds[self.i + 1] == "name":
            last = self.i + 1
            parts.append(self.texts[last])
            self.i += 2
        if kinds[self.i] == ".":
            raise _Bail
        return S.Name(".".join(parts), self.span(first, last))

    def scalar(self) -> S.Scalar:
        i = self.i
        kind = self.kinds[i]
        if kind == "int":
            self.i = i + 1
            value = parse_int(self.texts[i])
            unit = UNITS.get(self.texts[i + 1]) if self.kinds[i + 1] == "name" else None
            if unit is not None:
                self.i = i + 2
                return S.Size(value * unit, size_text(self.texts[i], self.texts[i + 1]),
                              self.span(i, i + 1))
            return S.Int(value, self.span(i, i))
        if kind == "str":
            self.i = i + 1
            return S.Str(self.decode(i), self.span(i, i))
        if kind == "name":
            text = self.texts[i]
            if text == "true" or text == "false":
                self.i = i + 1
                return S.Bool(text == "true", self.span(i, i))
            return self.dotted()
        raise _Bail

    def value(self) -> S.Value:
        if self.kinds[self.i] != "[":
            return self.scalar()
        first = self.i
        self.i += 1
        items: list[S.Scalar] = []
        while self.kinds[self.i] != "]":
            items.append(self.scalar())
            if self.kinds[self.i] == ",":
                self.i += 1
            elif self.kinds[self.i] != "]":
                raise _Bail
        last = self.expect("]")
        return S.List(tuple(items), self.span(first, last))

    # ------------------------------------------------------------ members
    def names(self, close: str) -> tuple[S.Name, ...]:
        """``NAME ("," NAME)* ","?`` up to (not including) ``close``."""
        out = []
        while True:
            n = self.expect("name")
            out.append(S.Name(self.texts[n], self.span(n, n)))
            if self.kinds[self.i] != ",":
                return tuple(out)
            self.i += 1
            if self.kinds[self.i] == close:
                return tuple(out)

    def on_clause(self) -> tuple[S.Name, ...] | None:
        """``on NAME`` or ``on [NAME, ...]``, if it comes next."""
        if not self.is_word("on"):
            return None
        self.i += 1
        if self.kinds[self.i] == "[":
            self.i += 1
            on = self.names("]")
            self.expect("]")
            return on
        n = self.expect("name")
        return (S.Name(self.texts[n], self.span(n, n)),)

    def field(self) -> S.Field:
        key = self.expect("name")
        on = self.on_clause()
        self.expect("=")
        value = self.value()
        last = self.expect(";")
        return S.Field(self.texts[key], self.span(key, key), value, self.span(key, last), on)

    def param(self) -> S.Param:
        first = self.keyword("param")
        name = self.expect("name")
        self.expect(":")
        if self.is_word("enum"):
            t0 = self.i
            self.i += 1
            self.expect("(")
            members = self.names(")")
            t1 = self.expect(")")
            type_ = S.TypeExpr("enum", self.span(t0, t1), members)
        else:
            t = self.expect("name")
            type_ = S.TypeExpr(self.texts[t], self.span(t, t))
        default = low = high = None
        if self.kinds[self.i] == "=":
            self.i += 1
            default = self.scalar()
        if self.is_word("in"):
            self.i += 1
            low = self.scalar()
            self.expect("..")
            high = self.scalar()
        divides = None
        if self.is_word("divides"):
            self.i += 1
            divides = self.scalar()
        doc, doc_span = self.optional_str()
        last = self.expect(";")
        return S.Param(self.texts[name], self.span(name, name), type_, default, low, high, doc,
                       self.span(first, last), divides, doc_span=doc_span)

    def device(self) -> S.Device:
        first = self.keyword("device")
        name = self.expect("name")
        self.expect("{")
        fields = []
        while self.kinds[self.i] != "}":
            fields.append(self.field())
        last = self.expect("}")
        return S.Device(self.texts[name], self.span(name, name), tuple(fields),
                        self.span(first, last))

    def member(self) -> S.Member:
        if self.kinds[self.i] == "name":
            word = self.texts[self.i]
            if word == "param":
                return self.param()
            if word == "device":
                return self.device()
            if word == "use":
                first = self.i
                self.i += 1
                lib = self.expect("name")
                self.keyword("for")
                construct = self.dotted()
                last = self.expect(";")
                return S.Use(self.texts[lib], self.span(lib, lib), construct,
                             self.span(first, last))
            if word == "set":
                first = self.i
                self.i += 1
                target = self.dotted()
                self.expect("=")
                value = self.scalar()
                on = self.on_clause()
                last = self.expect(";")
                return S.Set(target, value, self.span(first, last), on=on)
        return self.field()

    # ------------------------------------------------------------ declarations
    def decl(self) -> S.Decl:
        first = self.expect("name")
        word = self.texts[first]
        if word == "import":
            if self.kinds[self.i] == "str":
                at = self.i
                target = self.decode(at)
                self.i += 1
                last = self.expect(";")
                return S.Import(target, True, self.span(first, last), self.span(at, at))
            name = self.dotted()
            last = self.expect(";")
            return S.Import(name.value, False, self.span(first, last), name.span)
        if word == "construct" or word == "capability":
            name = self.dotted()
            doc, doc_span = self.optional_str()
            last = self.expect(";")
            return S.Symbol(word, name.value, name.span, doc, self.span(first, last),
                            doc_span=doc_span)
        if word in _BLOCK_KINDS:
            at = self.expect("name")
            self.expect("{")
            members = []
            while self.kinds[self.i] != "}":
                members.append(self.member())
            last = self.expect("}")
            return S.Block(word, self.texts[at], self.span(at, at), tuple(members),
                           self.span(first, last))
        raise _Bail

    def module(self) -> S.Module:
        decls = []
        bulk = Bulk(self.text, self.file, self.line_starts, self.line_numbers, self.interned,
                    self.quoted)
        lazy = bulk.again() if self.lazy else None
        while True:
            kind = self.kinds[self.i]
            if kind == "$CHUNK":
                if lazy is not None:  # the plain declarations, as many as there are
                    self.pos = bulk.run(self.pos, lazy, decls)
                self.decl_start = self.pos
                found = bulk.decl(self.pos, lazy)
                if found is not None:  # a plain declaration, matched whole
                    decls.append(found[0])
                    self.pos = found[1]
                    continue
                self.next_chunk()
                continue
            if kind == "$END":
                break
            self.decl_start = self.starts[self.i]
            decls.append(self.decl())
        found = self.comments()
        if not found:
            return S.Module(self.file, tuple(decls))
        placed, rest = attach(decls, found)
        return S.Module(self.file, placed, rest)

    def comments(self) -> list[S.Comment]:
        """The comments of the text: each ``#`` or ``//`` that no token holds (a
        string) and no comment before it on its line holds starts one."""
        text = self.text
        quoted = self.quoted
        out: list[S.Comment] = []
        skip = 0
        for at in _comment_starts(text):
            if at < skip:
                continue
            k = bisect_right(quoted, (at, len(text))) - 1
            if k >= 0 and at < quoted[k][1]:
                continue  # in a string
            end = text.find("\n", at)
            skip = end = len(text) if end < 0 else end
            line, col = self.where(at)
            out.append(S.Comment(text[at:end], Span(self.file, line, col, line,
                                                    col + end - at)))
        return out


def _comment_starts(text: str) -> Iterator[int]:
    """Where ``#`` and ``//`` occur in ``text``, left to right and not
    overlapping, as ``re.finditer("#|//")`` finds them; with ``str.find``,
    which skips to the next candidate at C speed (the regular expression
    stepped through a 14 MB world at a fifth of that speed)."""
    hash_at = text.find("#")
    slash_at = text.find("//")
    while hash_at >= 0 or slash_at >= 0:
        if slash_at < 0 or 0 <= hash_at < slash_at:
            yield hash_at
            hash_at = text.find("#", hash_at + 1)
        else:
            yield slash_at
            slash_at = text.find("//", slash_at + 2)


def parse_fast(text: str, file: str, errors: list[Diagnostic]) -> S.Module | None:
    """The module, or None when lark must parse it; invalid string escapes are
    added to ``errors``."""
    result = parse_fast_or_offset(text, file, errors)
    return None if isinstance(result, int) else result


def parse_fast_or_offset(text: str, file: str, errors: list[Diagnostic],
                         lazy: bool = False) -> S.Module | int:
    """The module, or the offset of the first declaration the fast
    path could not parse.  Declarations are independent in the grammar, so lark
    can start there: everything before it parsed, and lark accepts it too."""
    try:
        parser = FastParser(text, file, errors, lazy)
    except _Bail:
        return 0
    parser.decl_start = 0
    try:
        return parser.module()
    except (_Bail, IndexError):
        return parser.decl_start
