"""The syntax tree: what the parser produces, before any checking.

Every node carries the ``Span`` it came from, and its parts theirs (a field's
key and value, an import's target, a doc string; the closing ``;`` or ``}`` is
the last character of the node's span: ``end_span``).  Declaration bodies are
kept generic (a list of fields, params, devices, uses and sets); the checker
(``unilang.check``) validates them against each kind's schema and builds the
typed model in ``unilang.model``.

Comments are kept too, so that a formatter or a language server can work on the
tree: every comment of the file is in exactly one place (``Comments``, attached
by ``unilang.front.comments``): on the declaration or member it precedes
(``leading``), follows on the same line (``trailing``) or sits inside
(``inner``), or, when none is near, in ``Module.comments``.
"""

from __future__ import annotations

from typing import Any, Union

import attrs

from ..diagnostics import Span


# ---------------------------------------------------------------- comments

@attrs.frozen
class Comment:
    """A ``# ...`` or ``// ...`` comment: its text as written, marker included."""

    text: str
    span: Span


@attrs.frozen
class Comments:
    """The comments that belong to one declaration or member."""

    #: before it, from the end of the previous one (not on that one's last line)
    leading: tuple[Comment, ...] = ()
    #: after it, on its last line
    trailing: tuple[Comment, ...] = ()
    #: between its first and last token, and not in one of its members (or, for a
    #: block or a device, after its last member)
    inner: tuple[Comment, ...] = ()

    def all(self) -> tuple[Comment, ...]:
        return self.leading + self.inner + self.trailing


def end_span(span: Span) -> Span:
    """The last character of ``span``: the ``;`` or ``}`` that closes a node."""
    return Span(span.file, span.end_line, span.end_column - 1, span.end_line, span.end_column)


# ---------------------------------------------------------------- values

#: Integer literals of this magnitude or more are out of range everywhere;
#: the parsers keep them as +-INT_LIMIT instead of converting every digit.
INT_LIMIT = 1 << 64

@attrs.frozen
class Int:
    value: int
    span: Span
    type_name = "integer"


@attrs.frozen
class Size:
    """A size with a unit; ``value`` is in bytes."""

    value: int
    text: str
    span: Span
    type_name = "size"


@attrs.frozen
class Str:
    value: str
    span: Span
    type_name = "string"


@attrs.frozen
class Bool:
    value: bool
    span: Span
    type_name = "boolean"


@attrs.frozen
class Name:
    """A (possibly dotted) name: ``console``, ``mem.alloc``, ``uart16550``."""

    value: str
    span: Span
    type_name = "name"


Scalar = Union[Int, Size, Str, Bool, Name]


@attrs.frozen
class List:
    items: tuple[Scalar, ...]
    span: Span
    type_name = "list"


Value = Union[Scalar, List]


def render_value(v: Value) -> str:
    """The value as it would be written in a spec."""
    if isinstance(v, List):
        return "[" + ", ".join(render_value(i) for i in v.items) + "]"
    if isinstance(v, Str):
        return '"' + v.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, Bool):
        return "true" if v.value else "false"
    if isinstance(v, Size):
        return v.text
    if isinstance(v, Int) and abs(v.value) >= INT_LIMIT:
        return "2^64 or more" if v.value > 0 else "-2^64 or less"
    return str(v.value)


# ---------------------------------------------------------------- members

@attrs.frozen
class Field:
    key: str
    key_span: Span
    value: Value
    span: Span
    on: tuple[Name, ...] | None = None
    comments: Comments | None = None


@attrs.frozen
class TypeExpr:
    name: str
    span: Span
    members: tuple[Name, ...] = ()  # for enum(...)


@attrs.frozen
class Param:
    name: str
    name_span: Span
    type: TypeExpr
    default: Scalar | None
    low: Scalar | None
    high: Scalar | None
    doc: str | None
    span: Span
    #: ``divides N``: every value must be a positive divisor of N.
    divides: Scalar | None = None
    comments: Comments | None = None
    doc_span: Span | None = None


@attrs.frozen
class Device:
    name: str
    name_span: Span
    fields: tuple[Field, ...]
    span: Span
    comments: Comments | None = None


@attrs.frozen
class Use:
    library: str
    library_span: Span
    construct: Name
    span: Span
    comments: Comments | None = None


@attrs.frozen
class Set:
    target: Name
    value: Scalar
    span: Span
    comments: Comments | None = None
    #: ``set LIB.PARAM = VALUE on BACKENDS;``: the backends it applies to (None: all)
    on: tuple[Name, ...] | None = None


Member = Union[Field, Param, Device, Use, Set]


# ---------------------------------------------------------------- declarations

@attrs.frozen
class Import:
    target: str
    is_path: bool
    span: Span
    #: the dotted name, or the string with its quotes
    target_span: Span | None = None
    comments: Comments | None = None


@attrs.frozen
class Block:
    """``library``, ``app`` or ``policy`` with its members."""

    kind: str
    name: str
    name_span: Span
    members: tuple[Member, ...]
    span: Span
    comments: Comments | None = None


class LazyBlock(Block):
    """A library block whose members are built when they are read.

    The fast parser's bulk path (``unilang.front.bulk``) matches a plain
    library block whole and, when the loader asks for it (`check`, `build`),
    keeps only its head: its name and offsets.  Its spans are worked out from
    the offsets when they are read (most never are: the checker reads the
    name's span once), and ``members`` is built from the source each time it is
    read, the same nodes the full parse builds, and nothing holds them but the
    reader.  On a world of many libraries the syntax tree is most of a check's
    memory (about 3.6 KiB a library); the members are read once, by the
    checker, which keeps only what the model needs (names and their spans).
    ``full()`` is the ordinary ``Block``; comparisons and ``attrs.evolve``
    need that one."""

    __slots__ = ("_source", "_at", "_name_at", "_end", "names_files", "_plain")

    # the head every lazy block shares (class attributes over Block's slots)
    kind = "library"  # type: ignore[assignment]
    comments = None  # type: ignore[assignment]
    _source: Any
    #: offsets in the source: where the block starts, where its name starts, where it ends
    _at: int
    _name_at: int
    _end: int
    #: false when no member's key names files (``sources``, ``includes``,
    #: ``files``): readers looking for those skip the block
    names_files: bool
    #: the loader's match of a block of the commonest shape, until ``plain``
    #: hands it over (None for a block of any other shape, and after that)
    _plain: Any

    @classmethod
    def make(cls, source: Any, at: int, name: str, name_at: int, end: int,
             names_files: bool, plain: Any = None) -> "LazyBlock":
        """``source`` builds the block from offset ``at`` to ``end`` (``unilang.front.bulk.Bulk``)."""
        block = object.__new__(cls)
        setattr_ = object.__setattr__  # frozen: as attrs' own __init__ does
        setattr_(block, "name", name)
        setattr_(block, "_source", source)
        setattr_(block, "_at", at)
        setattr_(block, "_name_at", name_at)
        setattr_(block, "_end", end)
        setattr_(block, "names_files", names_files)
        setattr_(block, "_plain", plain)
        return block

    @property  # type: ignore[override]
    def name_span(self) -> Span:
        return self._source.tok(self._name_at, self._name_at + len(self.name))  # type: ignore[no-any-return]

    @property  # type: ignore[override]
    def span(self) -> Span:
        return self._source.span(self._at, self._end - 1, self._end)  # type: ignore[no-any-return]

    def full(self) -> Block:
        found = self._source.decl(self._at)
        if found is None or not isinstance(found[0], Block):  # pragma: no cover
            raise AssertionError(f"the library block at {self.span.location} did not match again")
        return found[0]  # type: ignore[no-any-return]

    @property  # type: ignore[override]
    def members(self) -> tuple[Member, ...]:
        return self.full().members

    def plain(self) -> Any:
        """The block's plain parts when it has the commonest shape
        (``unilang.front.bulk.Bulk.plain_library``), else None.

        The loader keeps such a block's match for this (about 200 bytes): the
        first call hands it over, so a checker, which asks once per block,
        frees them as it models the blocks (27 MiB at 100,000 libraries, at
        the peak of a check); a later call (another backend's checker) matches
        the block again."""
        m = self._plain
        if m is not None:
            object.__setattr__(self, "_plain", None)
        else:
            m = self._source.plain_match(self._at)
            if m is None:
                return None
        return self._source.plain_library(m)

    def param_at(self, at: int) -> "Param":
        """The param node of its ``param`` member at offset ``at`` (``plain``)."""
        return self._source.param_at(at)  # type: ignore[no-any-return]

    def plain_fields(self) -> list[tuple[str, Any]] | None:
        """Its members as plain values when they are all string or name-list
        fields (``unilang.front.bulk.Bulk.plain_fields``), else None."""
        return self._source.plain_fields(self._at)  # type: ignore[no-any-return]


@attrs.frozen
class Symbol:
    """``construct`` or ``capability``: a dotted name and a doc string."""

    kind: str
    name: str
    name_span: Span
    doc: str | None
    span: Span
    comments: Comments | None = None
    doc_span: Span | None = None


Decl = Union[Import, Block, Symbol]


@attrs.frozen
class Module:
    name: str
    decls: tuple[Decl, ...]
    #: comments near no declaration (at the end of the file, or in a file of comments)
    comments: tuple[Comment, ...] = ()
