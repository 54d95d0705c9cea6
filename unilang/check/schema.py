"""The schema of each block kind: its keys and their typed values, checked by one
dispatch (``Schema.type_ok``), and the checks of plain values (ranges, strings)."""

from __future__ import annotations

import re
from typing import Iterable, Union

import attrs

from ..front import syntax as S
from ..diagnostics import Label, one_of
from ..units import fmt_size
from .base import Base, found, is_huge, suggestion


@attrs.frozen
class Scalar:
    """A key whose value is one literal of a syntax class (``S.Str``, ``S.Int`` ...)."""

    node: type
    words: str  # "a string": how messages name what is expected
    #: The values an int or size key allows, inclusive (see ``Schema.number``).
    low: int | None = None
    high: int | None = None

    def within(self, low: int, high: int) -> Scalar:
        return attrs.evolve(self, low=low, high=high)


@attrs.frozen
class ListOf:
    """A key whose value is a list of literals of one syntax class."""

    item: type
    words: str
    plural: str  # "names": how messages name the items


@attrs.frozen
class Enum:
    """A key whose value is one of a few names."""

    members: tuple[str, ...]

    @property
    def words(self) -> str:
        return "one of " + ", ".join(self.members)


#: The type of a key's value in a block's schema.
KeyType = Union[Scalar, ListOf, Enum]

MAX_MEMORY = 1 << 40
MAX_VCPUS = 256

STR = Scalar(S.Str, "a string")
INT = Scalar(S.Int, "an integer")
SIZE = Scalar(S.Size, "a size (e.g. 64 MiB)")
BOOL = Scalar(S.Bool, "a boolean")
NAME = Scalar(S.Name, "a name")
NAMES = ListOf(S.Name, "a list of names", "names")
STRS = ListOf(S.Str, "a list of strings", "strings")
DEVICE_KIND = Enum(("net", "block"))

LIBRARY_KEYS: dict[str, KeyType] = {
    "doc": STR, "provides": NAMES, "requires": NAMES, "sources": STRS, "includes": STRS,
    "backends": NAMES, "exercises": NAMES, "conflicts": NAMES, "init": NAME,
    "min_memory": SIZE.within(0, MAX_MEMORY), "max_vcpus": INT.within(1, MAX_VCPUS),
    "default": BOOL, "rank": INT.within(0, 1000), "listens": STRS, "sends": BOOL,
}
APP_KEYS: dict[str, KeyType] = {
    "doc": STR, "sources": STRS, "includes": STRS, "entry": NAME, "requires": NAMES,
    "memory": SIZE.within(1 << 20, MAX_MEMORY), "vcpus": INT.within(1, MAX_VCPUS),
    "cmdline": STR, "policies": NAMES, "files": STRS, "listens": STRS,
}
POLICY_KEYS: dict[str, KeyType] = {
    "doc": STR, "include": NAMES, "deny": NAMES, "allow": NAMES, "forbid": NAMES,
    "require": NAMES, "max_memory": SIZE.within(0, MAX_MEMORY),
    "max_vcpus": INT.within(1, MAX_VCPUS), "max_image_size": SIZE.within(0, MAX_MEMORY),
    "listen": STRS, "peers": STRS, "send": BOOL,
}
DEVICE_KEYS: dict[str, dict[str, KeyType]] = {
    "net": {"kind": DEVICE_KIND, "mac": STR, "bridge": STR, "tap": STR},
    "block": {"kind": DEVICE_KIND, "path": STR, "format": Enum(("raw", "qcow2")),
              "readonly": BOOL},
}


@attrs.define
class _Fields:
    """The fields of one block, validated against a schema."""

    values: dict[str, S.Field] = attrs.field(factory=dict)
    requires: list[S.Field] = attrs.field(factory=list)


class Schema(Base):
    """A block's fields against its schema, and plain values (numbers, strings)."""

    def fields(self, block_kind: str, name: str, members: Iterable[S.Member],
               schema: dict[str, KeyType]) -> _Fields:
        out = _Fields()
        for m in members:
            if not isinstance(m, S.Field):
                continue
            if m.key not in schema:
                self.err("U0032", f"unknown key `{m.key}` in {block_kind} `{name}`", m.key_span,
                         help=suggestion(m.key, schema),
                         notes=(f"expected one of {one_of(schema)}",))
                continue
            if m.on is not None and not (block_kind == "library" and m.key == "requires"):
                self.err("U0043", f"`{m.key} on ...` is not allowed here", m.on[0].span,
                         help="only a library's `requires` can be limited to some backends")
                continue
            if not self.type_ok(m.value, schema[m.key], m.key):
                continue
            if block_kind == "library" and m.key == "requires":
                out.requires.append(m)
                continue
            if m.key in out.values:
                self.err("U0033", f"key `{m.key}` is given more than once in {block_kind} "
                         f"`{name}`", m.key_span,
                         labels=(Label(out.values[m.key].key_span, "first given here"),))
                continue
            out.values[m.key] = m
        return out

    def type_ok(self, v: S.Value, typ: KeyType, key: str) -> bool:
        # the common, well-typed cases first: this runs for every field of every block
        if isinstance(typ, Scalar):
            if type(v) is typ.node:
                return True
        elif isinstance(typ, ListOf):
            if isinstance(v, S.List):
                bad = next((i for i in v.items if type(i) is not typ.item), None)
                if bad is None:
                    return True
                self.err("U0034", f"`{key}` is a list of {typ.plural}, but this item is "
                         f"{found(bad)}", bad.span)
                return False
        elif isinstance(v, S.Name):
            if v.value in typ.members:
                return True
            self.err("U0034", f"`{key}` must be one of {', '.join(typ.members)}, not "
                     f"`{v.value}`", v.span, help=suggestion(v.value, typ.members))
            return False
        self.err("U0034", f"`{key}` expects {typ.words}, found {found(v)}", v.span,
                 help=_hint(v, typ))
        return False

    def number(self, f: S.Field | None, schema: dict[str, KeyType]) -> int | None:
        """A checked int or size field's value, if it lies in its key's range."""
        if f is None:
            return None
        typ = schema[f.key]
        assert isinstance(typ, Scalar) and typ.low is not None and typ.high is not None
        low, high, what = typ.low, typ.high, f.key
        v = f.value
        assert isinstance(v, (S.Int, S.Size))
        if not low <= v.value <= high:
            lo = fmt_size(low) if isinstance(v, S.Size) else str(low)
            hi = fmt_size(high) if isinstance(v, S.Size) else str(high)
            message = (f"{what} is out of range: it is {S.render_value(v)}" if is_huge(v)
                       else f"{what} {S.render_value(v)} is out of range")
            self.err("U0035", message, v.span, notes=(f"allowed: {lo} to {hi}",))
            return None
        return v.value

    def safe_string(self, s: S.Str, what: str, limit: int = 1024) -> str | None:
        bad = next((c for c in s.value if ord(c) < 0x20 or ord(c) == 0x7F), None)
        if bad is not None:
            self.err("U0044", f"{what} contains the control character {bad!r}", s.span,
                     help="control characters (newlines, tabs, escape...) cannot be written "
                          "safely into the generated configuration files")
            return None
        bad = next((c for c in s.value if c in "\ufffe\uffff" or "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            self.err("U0044", f"{what} contains U+{ord(bad):04X}, which XML 1.0 cannot carry",
                     s.span, help="libvirt.xml could not be read back; remove the character")
            return None
        if len(s.value.encode("utf-8", "surrogatepass")) > limit:
            self.err("U0044", f"{what} is longer than {limit} bytes", s.span)
            return None
        return s.value


#: a dotted name (compiled on first use, by ``re``'s cache: only a slip asks)
_NAME_RE = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"


def _hint(v: S.Value, typ: KeyType) -> str | None:
    """How to write ``v`` as a ``typ``, when it looks like a common slip."""
    if isinstance(typ, ListOf):
        if typ.item is S.Name and isinstance(v, S.Str):
            if re.fullmatch(_NAME_RE, v.value):  # `requires = "console.lines"`
                return f"write a list of names, without quotes: `[{v.value}]`"
            return None  # quoting it in a list would still be an error
        if typ.item is S.Str and isinstance(v, S.Name):
            return f'write a list of quoted strings: `["{v.value}"]`'
        return f"write a list: `[{S.render_value(v)}]`"
    if isinstance(typ, Enum):
        if isinstance(v, S.Str) and v.value in typ.members:
            return f"write the name without quotes: `{v.value}`"
        return None
    if typ.node is S.Size and isinstance(v, S.Int) and not is_huge(v):
        return f"sizes need a unit: `{v.value} MiB`, `{v.value} KiB` or `{v.value} B`"
    if typ.node is S.Int and isinstance(v, S.Str) and v.value.strip().isdigit():
        return f"write the number without quotes: `{v.value.strip()}`"
    if typ.node is S.Str and isinstance(v, S.Name):
        return f'strings are quoted: `"{v.value}"`'
    return None
