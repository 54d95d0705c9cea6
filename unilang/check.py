"""The checker: syntax trees of all loaded modules -> the typed ``Program``.

It validates every declaration against its kind's schema (keys, types,
ranges), collects definitions across modules (duplicates), and resolves
every name (constructs, capabilities, libraries, policies, backends),
suggesting the closest match for a misspelling.  All problems are
collected; nothing stops at the first.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import attrs

from . import cnames
from . import model as M
from . import syntax as S
from .diagnostics import Label, Sink, Span, did_you_mean, error, one_of
from .loader import NAME_MAX, LoadedModule, ModuleInfo
from .units import fmt_size

#: Names that reach generated files (app, library, device) are NAME tokens
#: ([A-Za-z_][A-Za-z0-9_-]*) and at most this long.
MAX_NAME = 64
SOURCE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*\Z")
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
SAFE_WORD = re.compile(r"[A-Za-z0-9_.\-]+\Z")



@attrs.frozen
class Scalar:
    """A key whose value is one literal of a syntax class (``S.Str``, ``S.Int`` ...)."""

    node: type
    words: str  # "a string": how messages name what is expected


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

STR = Scalar(S.Str, "a string")
INT = Scalar(S.Int, "an integer")
SIZE = Scalar(S.Size, "a size (e.g. 64 MiB)")
BOOL = Scalar(S.Bool, "a boolean")
NAME = Scalar(S.Name, "a name")
NAMES = ListOf(S.Name, "a list of names", "names")
STRS = ListOf(S.Str, "a list of strings", "strings")
DEVICE_KIND = Enum(("net", "block"))

LIBRARY_KEYS: dict[str, KeyType] = {
    "doc": STR, "provides": NAMES, "requires": NAMES, "sources": STRS,
    "backends": NAMES, "exercises": NAMES, "conflicts": NAMES, "init": NAME,
    "min_memory": SIZE, "max_vcpus": INT, "default": BOOL, "rank": INT,
}
APP_KEYS: dict[str, KeyType] = {
    "doc": STR, "sources": STRS, "entry": NAME, "requires": NAMES,
    "memory": SIZE, "vcpus": INT, "cmdline": STR, "policies": NAMES,
}
POLICY_KEYS: dict[str, KeyType] = {
    "doc": STR, "include": NAMES, "deny": NAMES, "allow": NAMES, "forbid": NAMES,
    "require": NAMES, "max_memory": SIZE, "max_vcpus": INT, "max_image_size": SIZE,
}
DEVICE_KEYS: dict[str, dict[str, KeyType]] = {
    "net": {"kind": DEVICE_KIND, "mac": STR, "bridge": STR},
    "block": {"kind": DEVICE_KIND, "path": STR, "format": Enum(("raw", "qcow2")),
              "readonly": BOOL},
}
PARAM_TYPES = ("int", "size", "bool", "string")

DEFAULT_MEMORY = 32 << 20
MAX_MEMORY = 1 << 40
MAX_VCPUS = 256
MAX_CMDLINE = 2048
#: What the generated C macros of int and size parameters can hold
#: (``(VLL)`` and ``(VULL)``; -2**63 itself is not a valid C literal).
C_RANGES = {"int": (-(1 << 63) + 1, (1 << 63) - 1), "size": (0, (1 << 64) - 1)}

def _found(v: S.Value) -> str:
    return {"integer": "an integer", "size": "a size", "string": "a string",
            "boolean": "a boolean", "name": "a name", "list": "a list"}[v.type_name]


@attrs.define
class _Fields:
    """The fields of one block, validated against a schema."""

    values: dict[str, S.Field] = attrs.field(factory=dict)
    requires: list[S.Field] = attrs.field(factory=list)


class Checker:
    def __init__(self, modules: list[LoadedModule], backend: str, sink: Sink,
                 foreign: frozenset[str] = frozenset()) -> None:
        self.modules = modules
        #: Libraries that only other backends declare: `use` and `set` naming
        #: them apply on those backends and are skipped on this one.
        self.foreign = foreign
        self.backend = backend
        from .backend import names

        self.known_backends = names()
        self.sink = sink
        self.constructs: dict[str, M.Construct] = {}
        self.capabilities: dict[str, M.Capability] = {}
        self.library_blocks: dict[str, tuple[S.Block, LoadedModule]] = {}
        self.policy_blocks: dict[str, tuple[S.Block, LoadedModule]] = {}
        self.app_blocks: list[tuple[S.Block, LoadedModule]] = []

    # ------------------------------------------------------------ helpers
    def err(self, code: str, message: str, span: Span | None, **kw: Any) -> None:
        self.sink.add(error(code, message, span, **kw))

    def unknown(self, what: str, name: str, span: Span, known: Iterable[str],
                extra_help: str | None = None) -> None:
        known = list(known)
        guess = did_you_mean(name, known)
        help_ = f"did you mean `{guess}`?" if guess else extra_help
        notes: tuple[str, ...] = ()
        if not guess and known and len(known) <= 12:
            notes = (f"known {what}s: {one_of(known)}",)
        self.err("U0031", f"unknown {what} `{name}`", span, help=help_, notes=notes)

    def duplicate(self, kind: str, name: str, span: Span, first: Span) -> None:
        self.err("U0030", f"{kind} `{name}` is defined more than once", span,
                 labels=(Label(first, "first defined here"),),
                 help="rename one of them or remove the duplicate")

    def check_name(self, kind: str, name: str, span: Span) -> None:
        if len(name) > MAX_NAME:
            self.err("U0038", f"{kind} name is {len(name)} characters long; the limit is "
                     f"{MAX_NAME}", span)

    # ------------------------------------------------------------ pass 1: collect
    def collect(self) -> None:
        root = self.modules[0] if self.modules else None
        for mod in self.modules:
            for decl in mod.tree.decls:
                if isinstance(decl, S.Symbol):
                    prev = (self.constructs if decl.kind == "construct"
                            else self.capabilities).get(decl.name)
                    if prev is not None:
                        self.duplicate(decl.kind, decl.name, decl.name_span, prev.span)
                        continue
                    if decl.kind == "construct":
                        self.constructs[decl.name] = M.Construct(
                            decl.name, decl.doc, decl.name_span, mod.info.name)
                    else:
                        self.capabilities[decl.name] = M.Capability(
                            decl.name, decl.doc, decl.name_span, mod.info.name)
                elif isinstance(decl, S.Block):
                    self.check_name(decl.kind, decl.name, decl.name_span)
                    if decl.kind == "app":
                        if mod is not root:
                            self.err("U0039", f"app `{decl.name}` is declared in an imported "
                                     "module", decl.name_span,
                                     help="only the spec given on the command line declares the app")
                            continue
                        if self.app_blocks:
                            self.duplicate("app", decl.name, decl.name_span,
                                           self.app_blocks[0][0].name_span)
                            continue
                        self.app_blocks.append((decl, mod))
                        continue
                    blocks = self.library_blocks if decl.kind == "library" else self.policy_blocks
                    if decl.name in blocks:
                        self.duplicate(decl.kind, decl.name, decl.name_span,
                                       blocks[decl.name][0].name_span)
                        continue
                    blocks[decl.name] = (decl, mod)
        if root is not None and not self.app_blocks:
            self.err("U0039", f"`{root.info.name}` declares no app",
                     Span(root.info.name, 1, 1, 1, 1),
                     help="a spec needs one `app NAME { ... }` block")

    # ------------------------------------------------------------ fields
    def fields(self, block_kind: str, name: str, members: Iterable[S.Member],
               schema: dict[str, KeyType]) -> _Fields:
        out = _Fields()
        for m in members:
            if not isinstance(m, S.Field):
                continue
            if m.key not in schema:
                guess = did_you_mean(m.key, schema)
                self.err("U0032", f"unknown key `{m.key}` in {block_kind} `{name}`", m.key_span,
                         help=f"did you mean `{guess}`?" if guess else None,
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
                         f"{_found(bad)}", bad.span)
                return False
        elif isinstance(v, S.Name):
            if v.value in typ.members:
                return True
            guess = did_you_mean(v.value, typ.members)
            self.err("U0034", f"`{key}` must be one of {', '.join(typ.members)}, not "
                     f"`{v.value}`", v.span, help=f"did you mean `{guess}`?" if guess else None)
            return False
        help_ = None
        if isinstance(typ, ListOf):
            help_ = f"write a list: `[{S.render_value(v)}]`"
        elif typ is SIZE and isinstance(v, S.Int) and not _huge(v):
            help_ = f"sizes need a unit: `{v.value} MiB`, `{v.value} KiB` or `{v.value} B`"
        elif typ is INT and isinstance(v, S.Str) and v.value.strip().isdigit():
            help_ = f"write the number without quotes: `{v.value.strip()}`"
        elif typ is STR and isinstance(v, S.Name):
            help_ = f'strings are quoted: `"{v.value}"`'
        self.err("U0034", f"`{key}` expects {typ.words}, found {_found(v)}", v.span, help=help_)
        return False

    # ------------------------------------------------------------ references
    def construct_ref(self, n: S.Name) -> M.Ref | None:
        if n.value not in self.constructs:
            self.unknown("construct", n.value, n.span, self.constructs)
            return None
        return M.Ref(n.value, n.span)

    def capability_ref(self, n: S.Name) -> M.Ref | None:
        if n.value not in self.capabilities:
            self.unknown("capability", n.value, n.span, self.capabilities)
            return None
        return M.Ref(n.value, n.span)

    def library_ref(self, n: S.Name | tuple[str, Span]) -> M.Ref | None:
        name, span = (n.value, n.span) if isinstance(n, S.Name) else n
        if name not in self.library_blocks:
            self.unknown("library", name, span, self.library_blocks)
            return None
        return M.Ref(name, span)

    def policy_ref(self, n: S.Name) -> M.Ref | None:
        if n.value not in self.policy_blocks:
            self.unknown("policy", n.value, n.span, self.policy_blocks)
            return None
        return M.Ref(n.value, n.span)

    def backend_ref(self, n: S.Name) -> str | None:
        if n.value not in self.known_backends:
            guess = did_you_mean(n.value, self.known_backends)
            self.err("U0037", f"unknown backend `{n.value}`", n.span,
                     help=f"did you mean `{guess}`?" if guess else None,
                     notes=(f"expected one of {one_of(self.known_backends)}",))
            return None
        return n.value

    def refs(self, f: S.Field | None, resolve: Callable[[S.Name], M.Ref | None],
             what: str = "") -> tuple[M.Ref, ...]:
        if f is None:
            return ()
        assert isinstance(f.value, S.List)
        out: list[M.Ref] = []
        seen: dict[str, Span] = {}
        for item in f.value.items:
            assert isinstance(item, S.Name)
            if item.value in seen:
                self.err("U0033", f"`{item.value}` is listed more than once in `{f.key}`",
                         item.span, labels=(Label(seen[item.value], "first listed here"),))
                continue
            seen[item.value] = item.span
            r = resolve(item)
            if r is not None:
                out.append(r)
        return tuple(out)

    def sources(self, f: S.Field | None, info: ModuleInfo) -> tuple[M.SourceRef, ...]:
        directory = info.path.parent
        if f is None:
            return ()
        assert isinstance(f.value, S.List)
        out = []
        #: (device, inode) of each file listed so far: catches a file listed twice,
        #: also under another name (a symbolic or hard link), before ninja does
        seen: dict[tuple[int, int], M.SourceRef] = {}
        for item in f.value.items:
            assert isinstance(item, S.Str)
            p = item.value
            if not SOURCE_PATH.match(p) or any(part == ".." for part in p.split("/")):
                self.err("U0041", f"source path `{p}` is not allowed", item.span,
                         notes=("source paths are relative to the declaring file, use only "
                                "letters, digits, `_`, `-`, `.` and `/`, and may not contain `..`",))
                continue
            file = directory / p
            if not p.endswith((".c", ".S", ".s")):
                self.err("U0041", f"source `{p}` is not a C (.c) or assembly (.S, .s) file",
                         item.span)
                continue
            problem = source_problem(file, p, info)
            if problem is not None:
                self.err("U0041", problem[0], item.span, notes=problem[1])
                continue
            ref = M.SourceRef(p, file, item.span)
            try:
                st = file.stat()
            except OSError:
                st = None  # vanished since is_file(): the build reports it
            if st is not None:
                first = seen.setdefault((st.st_dev, st.st_ino), ref)
                if first is not ref:
                    again = ("is listed more than once" if first.path == p
                             else f"is the same file as `{first.path}`, which is listed already")
                    self.err("U0033", f"source `{p}` {again} in `{f.key}`", item.span,
                             labels=(Label(first.span, "first listed here"),),
                             help="list each source file once")
                    continue
            out.append(ref)
        # the build copies the headers beside each source: they obey the same rules
        for d, first in {(directory / s.path).parent: s for s in reversed(out)}.items():
            for message in header_problems(d, first.path, info):
                self.err("U0041", message, first.span,
                         help="the build copies every `*.h` beside a source; move or "
                              "remove this one")
        return tuple(out)

    def c_ident(self, f: S.Field | None, what: str) -> M.Ref | None:
        if f is None:
            return None
        assert isinstance(f.value, S.Name)
        if not cnames.C_IDENT.match(f.value.value):
            self.err("U0038", f"{what} `{f.value.value}` is not a C identifier", f.value.span,
                     help="use letters, digits and `_`, not starting with a digit")
            return None
        return M.Ref(f.value.value, f.value.span)

    def size_in(self, f: S.Field | None, low: int, high: int, what: str) -> int | None:
        if f is None:
            return None
        v = f.value
        assert isinstance(v, (S.Int, S.Size))
        if not low <= v.value <= high:
            lo = fmt_size(low) if isinstance(v, S.Size) else str(low)
            hi = fmt_size(high) if isinstance(v, S.Size) else str(high)
            message = (f"{what} is out of range: it is {S.render_value(v)}" if _huge(v)
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

    # ------------------------------------------------------------ pass 2: build
    def requirements(self, fields: list[S.Field]) -> tuple[M.Requirement, ...]:
        out: list[M.Requirement] = []
        for f in fields:
            backends: frozenset[str] | None = None
            if f.on is not None:
                bs = [self.backend_ref(b) for b in f.on]
                backends = frozenset(b for b in bs if b)
            for r in self.refs(f, self.construct_ref):
                out.append(M.Requirement(r, backends))
        return tuple(out)

    def param(self, lib: str, p: S.Param) -> M.ParamDecl | None:
        t = p.type
        if t.name == "enum":
            names = [m.value for m in t.members]
            dup = next((m for i, m in enumerate(t.members) if m.value in names[:i]), None)
            if dup is not None:
                self.err("U0042", f"enum member `{dup.value}` is listed twice", dup.span)
                return None
            ptype = M.ParamType("enum", tuple(names))
        elif t.name in PARAM_TYPES:
            ptype = M.ParamType(t.name)
        else:
            guess = did_you_mean(t.name, PARAM_TYPES + ("enum",))
            self.err("U0042", f"unknown parameter type `{t.name}`", t.span,
                     help=f"did you mean `{guess}`?" if guess else None,
                     notes=("expected one of int, size, bool, string, enum(...)",))
            return None
        low = high = None
        if p.low is not None or p.high is not None:
            assert p.low is not None and p.high is not None  # a range has both bounds
            if ptype.kind not in ("int", "size"):
                self.err("U0042", f"a range is only allowed for int and size parameters, "
                         f"not {ptype.describe()}", p.low.span)
                return None
            lo = self.param_value(ptype, p.low, f"lower bound of `{lib}.{p.name}`", decl=True)
            hi = self.param_value(ptype, p.high, f"upper bound of `{lib}.{p.name}`", decl=True)
            if lo is None or hi is None:
                return None
            assert isinstance(lo, int) and isinstance(hi, int)
            if lo > hi:
                self.err("U0042", f"empty range for `{lib}.{p.name}`: {S.render_value(p.low)} is "
                         f"above {S.render_value(p.high)}", p.low.span)
                return None
            low, high = lo, hi
        divides = None
        if p.divides is not None:
            if ptype.kind not in ("int", "size"):
                self.err("U0042", f"`divides` is only allowed for int and size parameters, "
                         f"not {ptype.describe()}", p.divides.span)
                return None
            n = self.param_value(ptype, p.divides, f"`divides` of `{lib}.{p.name}`", decl=True)
            if n is None:
                return None
            assert isinstance(n, int)
            if n <= 0:
                self.err("U0042", f"`divides` of `{lib}.{p.name}` must be positive, not "
                         f"{S.render_value(p.divides)}", p.divides.span)
                return None
            divides = M.Limit(n, p.divides.span)
        default = None
        if p.default is None:
            self.err("U0042", f"parameter `{lib}.{p.name}` has no default", p.name_span,
                     help=f"give one: `param {p.name}: {ptype.describe()} = ...;`")
            return None
        default = self.param_value(ptype, p.default, f"default of `{lib}.{p.name}`", decl=True)
        if default is None:
            return None
        decl = M.ParamDecl(p.name, ptype, default, low, high, p.doc, p.span, divides)
        if not self.in_range(decl, default, p.default.span, f"default of `{lib}.{p.name}`",
                             decl_error=True):
            return None
        return decl

    def param_value(self, t: M.ParamType, v: S.Scalar, what: str,
                    decl: bool = False) -> M.PValue | None:
        """``decl``: a value in a `param` declaration, whose errors are U0042."""
        kinds = {"int": S.Int, "size": S.Size, "bool": S.Bool, "string": S.Str, "enum": S.Name}
        want = kinds[t.kind]
        if not isinstance(v, want):
            help_ = None
            if t.kind == "size" and isinstance(v, S.Int):
                help_ = f"sizes need a unit: `{v.value} KiB`, `{v.value} MiB` or `{v.value} B`"
            elif t.kind == "int" and isinstance(v, S.Str) and v.value.strip().lstrip("-").isdigit():
                help_ = f"write the number without quotes: `{v.value.strip()}`"
            elif t.kind == "string" and isinstance(v, S.Name):
                help_ = f'strings are quoted: `"{v.value}"`'
            self.err("U0042" if decl else "U0034", f"{what} must be {_article(t)}, found {_found(v)}", v.span,
                     help=help_)
            return None
        if t.kind == "enum":
            assert isinstance(v, S.Name)
            if v.value not in t.members:
                guess = did_you_mean(v.value, t.members)
                self.err("U0042" if decl else "U0034", f"{what}: `{v.value}` is not one of {', '.join(t.members)}",
                         v.span, help=f"did you mean `{guess}`?" if guess else None)
                return None
            return v.value
        if isinstance(v, S.Str):
            return self.safe_string(v, what)
        if isinstance(v, S.Bool):
            return v.value
        assert isinstance(v, (S.Int, S.Size))
        if t.kind == "size" and v.value < 0:
            self.err("U0042" if decl else "U0035", f"{what} is a negative size", v.span)
            return None
        if not C_RANGES[t.kind][0] <= v.value <= C_RANGES[t.kind][1]:
            lo, hi = C_RANGES[t.kind]
            fmt = fmt_size if t.kind == "size" else str
            self.err("U0042" if decl else "U0035", f"{what} is out of range: it is {S.render_value(v)}",
                     v.span, notes=(f"allowed: {fmt(lo)} to {fmt(hi)} (the generated C macro is "
                                    f"a 64-bit {'unsigned ' if t.kind == 'size' else ''}integer)",))
            return None
        return v.value

    def in_range(self, decl: M.ParamDecl, value: M.PValue, span: Span, what: str,
                 decl_error: bool = False) -> bool:
        """The value lies in the declared range and divides the declared `divides`."""
        if isinstance(value, (bool, str)):
            return True
        fmt = fmt_size if decl.type.kind == "size" else str
        code = "U0042" if decl_error else "U0035"
        if decl.low is not None and decl.high is not None and not decl.low <= value <= decl.high:
            self.err(code, f"{what} is {fmt(value)}, outside the range {fmt(decl.low)} .. "
                     f"{fmt(decl.high)}", span)
            return False
        d = decl.divides
        if d is None or (value > 0 and d.value % value == 0):
            return True
        which = "does not divide" if value > 0 else "is not a positive divisor of"
        near = _nearest_divisors(d.value, value, decl.low, decl.high)
        help_ = None
        if near:
            help_ = (f"the nearest allowed value{'s are' if len(near) > 1 else ' is'} "
                     + " and ".join(fmt(n) for n in near))
        self.err(code, f"{what} is {fmt(value)}, which {which} {fmt(d.value)}", span,
                 labels=(Label(d.span, f"`{decl.name}` is declared to divide {fmt(d.value)}"),),
                 help=help_)
        return False

    def library(self, block: S.Block, mod: LoadedModule) -> M.Library:
        f = self.fields("library", block.name, block.members, LIBRARY_KEYS)
        v = f.values
        for m in block.members:
            if isinstance(m, (S.Device, S.Use, S.Set)):
                kind = type(m).__name__.lower()
                self.err("U0032", f"`{kind}` is not allowed in a library", m.span,
                         help="devices, provider choices and overrides belong in the app")
        params: list[M.ParamDecl] = []
        seen: dict[str, Span] = {}
        for m in block.members:
            if isinstance(m, S.Param):
                if m.name in seen:
                    self.err("U0030", f"parameter `{block.name}.{m.name}` is declared more than "
                             "once", m.name_span, labels=(Label(seen[m.name], "first declared here"),))
                    continue
                seen[m.name] = m.name_span
                self.check_name("parameter", m.name, m.name_span)
                if not cnames.C_IDENT.match(m.name):
                    self.err("U0038", f"parameter name `{m.name}` is not a C identifier",
                             m.name_span, help="parameters become C macros; use letters, "
                             "digits and `_`")
                    continue
                d = self.param(block.name, m)
                if d is not None:
                    params.append(d)
        backends: list[str] = []
        if "backends" in v:
            for n in _names(v["backends"]):
                b = self.backend_ref(n)
                if b and b in backends:
                    self.err("U0033", f"`{b}` is listed more than once in `backends`", n.span)
                elif b:
                    backends.append(b)
        doc = _text(v.get("doc"))
        conflicts = self.refs(v.get("conflicts"), self.library_ref)
        for c in conflicts:
            if c.name == block.name:
                self.err("U0034", f"library `{block.name}` cannot conflict with itself", c.span)
        rank = self.size_in(v.get("rank"), 0, 1000, "rank") if "rank" in v else 0
        max_vcpus = self.size_in(v.get("max_vcpus"), 1, MAX_VCPUS, "max_vcpus")
        min_memory = self.size_in(v.get("min_memory"), 0, MAX_MEMORY, "min_memory") or 0
        return M.Library(
            name=block.name, span=block.name_span, module=mod.info.name, doc=doc,
            provides=self.refs(v.get("provides"), self.construct_ref),
            requires=self.requirements(f.requires),
            sources=self.sources(v.get("sources"), mod.info),
            backends=tuple(backends),
            exercises=self.refs(v.get("exercises"), self.capability_ref),
            params=tuple(params),
            conflicts=conflicts,
            init=self.c_ident(v.get("init"), "init function"),
            min_memory=min_memory,
            max_vcpus=max_vcpus,
            default=_flag(v.get("default")),
            rank=rank or 0,
            directory=mod.info.path.parent,
        )

    def policy(self, block: S.Block, mod: LoadedModule) -> M.Policy:
        f = self.fields("policy", block.name, block.members, POLICY_KEYS)
        v = f.values
        for m in block.members:
            if not isinstance(m, S.Field):
                kind = type(m).__name__.lower()
                self.err("U0032", f"`{kind}` is not allowed in a policy", m.span,
                         notes=(f"a policy has the keys {one_of(POLICY_KEYS)}",))
        rules = [M.Rule(r, False) for r in self.refs(v.get("deny"), self.capability_ref)]
        allow = self.refs(v.get("allow"), self.capability_ref)
        denied = {r.capability.name: r.capability.span for r in rules}
        for a in allow:
            if a.name in denied:
                self.err("U0033", f"policy `{block.name}` both denies and allows `{a.name}`",
                         a.span, labels=(Label(denied[a.name], "denied here"),))
                continue
            rules.append(M.Rule(a, True))

        def limit(key: str, low: int, high: int) -> M.Limit | None:
            val = self.size_in(v.get(key), low, high, key)
            return M.Limit(val, v[key].value.span) if val is not None else None

        includes = self.refs(v.get("include"), self.policy_ref)
        for inc in includes:
            if inc.name == block.name:
                self.err("U0046", f"policy `{block.name}` includes itself", inc.span)
        return M.Policy(
            name=block.name, span=block.name_span, module=mod.info.name,
            doc=_text(v.get("doc")),
            includes=tuple(i for i in includes if i.name != block.name),
            rules=tuple(rules),
            forbid=self.refs(v.get("forbid"), self.library_ref),
            require=self.refs(v.get("require"), self.construct_ref),
            max_memory=limit("max_memory", 0, MAX_MEMORY),
            max_vcpus=limit("max_vcpus", 1, MAX_VCPUS),
            max_image_size=limit("max_image_size", 0, MAX_MEMORY),
        )

    def device(self, d: S.Device) -> M.Device | None:
        self.check_name("device", d.name, d.name_span)
        kind_field = next((f for f in d.fields if f.key == "kind"), None)
        if kind_field is None:
            self.err("U0040", f"device `{d.name}` has no `kind`", d.name_span,
                     help="add `kind = net;` or `kind = block;`")
            return None
        if not self.type_ok(kind_field.value, DEVICE_KIND, "kind"):
            return None
        assert isinstance(kind_field.value, S.Name)
        kind = kind_field.value.value
        f = self.fields(f"{kind} device", d.name, d.fields, DEVICE_KEYS[kind])
        props: list[tuple[str, M.PValue]] = []
        ok = True
        for key in sorted(f.values):
            if key == "kind":
                continue
            val = f.values[key].value
            if isinstance(val, S.Str):
                s = self.safe_string(val, f"`{key}` of device `{d.name}`")
                if s is None:
                    ok = False
                    continue
                if key == "mac" and not MAC.match(s):
                    self.err("U0045", f"`{s}` is not a MAC address", val.span,
                             help="write six lower-case hex pairs: `52:54:00:12:34:56`")
                    ok = False
                    continue
                if key == "bridge" and not SAFE_WORD.match(s):
                    self.err("U0045", f"bridge name `{s}` is not allowed", val.span,
                             notes=("bridge names use letters, digits, `_`, `-` and `.`",))
                    ok = False
                    continue
                if key == "path" and not SOURCE_PATH.match(s):
                    self.err("U0045", f"disk path `{s}` is not allowed", val.span,
                             notes=("disk paths are relative and use letters, digits, `_`, "
                                    "`-`, `.` and `/`",))
                    ok = False
                    continue
                props.append((key, s))
            else:
                assert not isinstance(val, S.List)  # no device key takes a list
                props.append((key, val.value))
        if kind == "block" and "path" not in f.values:
            self.err("U0040", f"block device `{d.name}` has no `path`", d.name_span)
            ok = False
        return M.Device(d.name, kind, tuple(props), d.span) if ok else None

    def app(self, block: S.Block, mod: LoadedModule, libraries: dict[str, M.Library]) -> M.App:
        f = self.fields("app", block.name, block.members, APP_KEYS)
        v = f.values
        for m in block.members:
            if isinstance(m, S.Param):
                self.err("U0032", "`param` is not allowed in an app", m.span,
                         help="parameters are declared by libraries; set them with "
                              "`set LIBRARY.PARAM = VALUE;`")
        if not any(isinstance(m, S.Field) and m.key == "sources" for m in block.members):
            self.err("U0040", f"app `{block.name}` has no `sources`", block.name_span,
                     help='add `sources = ["main.c"];`')
        devices: list[M.Device] = []
        dev_seen: dict[str, Span] = {}
        choices: list[M.Choice] = []
        choice_seen: dict[str, Span] = {}
        overrides: list[M.Override] = []
        override_seen: dict[str, Span] = {}
        for m in block.members:
            if isinstance(m, S.Device):
                if m.name in dev_seen:
                    self.duplicate("device", m.name, m.name_span, dev_seen[m.name])
                    continue
                dev_seen[m.name] = m.name_span
                d = self.device(m)
                if d is not None:
                    devices.append(d)
            elif isinstance(m, S.Use):
                if m.library in self.foreign and m.library not in self.library_blocks:
                    continue
                c = self.construct_ref(m.construct)
                lib = self.library_ref((m.library, m.library_span))
                if c is None or lib is None:
                    continue
                if c.name in choice_seen:
                    self.err("U0033", f"the provider of `{c.name}` is chosen more than once",
                             m.span, labels=(Label(choice_seen[c.name], "first chosen here"),))
                    continue
                choice_seen[c.name] = m.span
                provider = libraries.get(lib.name)
                if provider is not None and c.name not in {p.name for p in provider.provides}:
                    self.err("U0113", f"library `{lib.name}` does not provide `{c.name}`",
                             m.library_span, labels=(Label(provider.span, f"`{lib.name}` is declared here"),),
                             notes=(f"`{lib.name}` provides: "
                                    f"{one_of(p.name for p in provider.provides) or 'nothing'}",))
                    continue
                choices.append(M.Choice(c, lib, m.span))
            elif isinstance(m, S.Set):
                o = self.override(m, libraries)
                if o is None:
                    continue
                key = f"{o.library.name}.{o.param.name}"
                if key in override_seen:
                    self.err("U0033", f"`{key}` is set more than once", m.span,
                             labels=(Label(override_seen[key], "first set here"),))
                    continue
                override_seen[key] = m.span
                overrides.append(o)
        cmdline = ""
        if "cmdline" in v:
            text = v["cmdline"].value
            assert isinstance(text, S.Str)
            cmdline = self.safe_string(text, "cmdline", MAX_CMDLINE) or ""
        memory = self.size_in(v.get("memory"), 1 << 20, MAX_MEMORY, "memory")
        vcpus = self.size_in(v.get("vcpus"), 1, MAX_VCPUS, "vcpus")
        entry = self.c_ident(v.get("entry"), "entry") or M.Ref("main", block.name_span)
        return M.App(
            name=block.name, span=block.name_span, module=mod.info.name,
            doc=_text(v.get("doc")),
            sources=self.sources(v.get("sources"), mod.info),
            entry=entry,
            requires=tuple(M.Requirement(r) for r in self.refs(v.get("requires"), self.construct_ref)),
            memory=memory if memory is not None else DEFAULT_MEMORY,
            memory_span=v["memory"].value.span if "memory" in v else None,
            vcpus=vcpus if vcpus is not None else 1,
            vcpus_span=v["vcpus"].value.span if "vcpus" in v else None,
            cmdline=cmdline,
            devices=tuple(devices),
            overrides=tuple(overrides),
            choices=tuple(choices),
            policies=self.refs(v.get("policies"), self.policy_ref),
            directory=mod.info.path.parent,
        )

    def override(self, m: S.Set, libraries: dict[str, M.Library]) -> M.Override | None:
        parts = m.target.value.split(".")
        if len(parts) != 2:
            self.err("U0036", f"`set` needs LIBRARY.PARAM, not `{m.target.value}`", m.target.span,
                     help="for example `set heap.max_size = 4 MiB;`")
            return None
        lib_name, param_name = parts
        if lib_name in self.foreign and lib_name not in self.library_blocks:
            return None  # a library of another backend: the override applies there
        lib_span = Span(m.target.span.file, m.target.span.line, m.target.span.column,
                        m.target.span.line, m.target.span.column + len(lib_name))
        param_span = Span(m.target.span.file, m.target.span.line,
                          m.target.span.column + len(lib_name) + 1,
                          m.target.span.end_line, m.target.span.end_column)
        lib_ref = self.library_ref((lib_name, lib_span))
        if lib_ref is None:
            return None
        lib = libraries.get(lib_name)
        if lib is None:
            return None  # the library itself had errors
        decl = lib.param(param_name)
        if decl is None and lib_name in self.library_blocks and any(
                isinstance(p, S.Param) and p.name == param_name
                for p in self.library_blocks[lib_name][0].members):
            return None  # declared, but the declaration had errors (already reported)
        if decl is None:
            names = [p.name for p in lib.params]
            guess = did_you_mean(param_name, names)
            self.err("U0036", f"library `{lib_name}` has no parameter `{param_name}`", param_span,
                     help=f"did you mean `{guess}`?" if guess else None,
                     notes=(f"expected one of {one_of(names)}" if names else
                            f"`{lib_name}` has no parameters",),
                     labels=(Label(lib.span, f"`{lib_name}` is declared here"),))
            return None
        value = self.param_value(decl.type, m.value, f"`{m.target.value}`")
        if value is None:
            return None
        if not self.in_range(decl, value, m.value.span, f"`{m.target.value}`"):
            return None
        return M.Override(lib_ref, M.Ref(param_name, param_span), value,
                          S.render_value(m.value), m.span)

    def policy_include_cycles(self, policies: dict[str, M.Policy]) -> None:
        from .graphs import cycles

        spans = {(p.name, i.name): i.span for p in policies.values() for i in p.includes
                 if i.name in policies}
        for cycle in cycles(policies, spans):
            names = [a for a, _ in cycle] + [cycle[0][0]]
            labels = [Label(spans[a, b], f"`{a}` includes `{b}`") for a, b in cycle]
            self.err("U0046", "policy include cycle: " + " -> ".join(names), labels[0].span,
                     labels=labels[1:])

    def c_name_collisions(self, libraries: dict[str, M.Library]) -> None:
        """Two declarations that generate the same C name (U0038).  gcc would only warn
        that a macro is redefined and the last definition would win, so the names are
        taken from ``unilang.cnames``, which generated C uses too.  Declarations are
        visited in source order (modules as loaded); the later one of a clashing pair
        is reported and its own names, and its members', are not claimed."""
        seen: dict[str, _Origin] = {}

        def claim(names: list[str], origin: _Origin) -> bool:
            for n in names:
                first = seen.get(n)
                if first is not None:
                    self.c_name_clash(n, first, origin)
                    return False
            seen.update((n, origin) for n in names)
            return True

        for name, (block, _mod) in self.library_blocks.items():
            lib = libraries[name]
            if not claim(list(cnames.library_names(lib.name, lib.init is not None)),
                         _Origin("library", lib.name, lib.span)):
                continue
            syntax: dict[str, S.Param] = {}
            for m in block.members:
                if isinstance(m, S.Param):
                    syntax.setdefault(m.name, m)
            for p in lib.params:
                sp = syntax[p.name]
                members = p.type.members if p.type.kind == "enum" else None
                macros = list(cnames.param_macros(lib.name, p.name, members))
                note = None
                if members is not None:
                    macro = macros[0].name
                    note = (f"the enum parameter `{lib.name}.{p.name}` generates `{macro}` (the "
                            f"value's index), `{macro}_NAME` (the value's name) and "
                            f"`{macro}_<MEMBER>` for each member")
                if not claim([m.name for m in macros if m.role != "member"],
                             _Origin("parameter", f"{lib.name}.{p.name}", sp.name_span, note=note)):
                    continue
                member_spans = {n.value: n.span for n in sp.type.members}
                for m in macros:
                    if m.role == "member":
                        assert m.member is not None
                        claim([m.name], _Origin("enum member", m.member, member_spans[m.member],
                                                f"{lib.name}.{p.name}", note))

    def c_name_clash(self, c_name: str, first: _Origin, second: _Origin) -> None:
        if (first.kind, first.owner) == (second.kind, second.owner):
            plural = {"library": "libraries"}.get(first.kind, first.kind + "s")
            who = f"{plural} `{first.name}` and `{second.name}`" + (
                f" of `{first.owner}`" if first.owner else "")
        else:
            who = f"{first.describe()} and {second.describe()}"
        notes = tuple(dict.fromkeys(n for n in (first.note, second.note) if n))
        self.err("U0038", f"{who} generate the same C name `{c_name}`", second.span,
                 labels=(Label(first.span, f"first generates `{c_name}` here"),), notes=notes,
                 help="generated C turns `-` into `_` and upper-cases macro names; "
                      "rename one of them")

    # ------------------------------------------------------------ driver
    def run(self) -> M.Program:
        self.collect()
        libraries = {name: self.library(b, m) for name, (b, m) in sorted(self.library_blocks.items())}
        self.c_name_collisions(libraries)
        policies = {name: self.policy(b, m) for name, (b, m) in sorted(self.policy_blocks.items())}
        self.policy_include_cycles(policies)
        app = None
        if self.app_blocks:
            block, mod = self.app_blocks[0]
            app = self.app(block, mod, libraries)
        return M.Program(
            backend=self.backend, app=app,
            constructs=dict(sorted(self.constructs.items())),
            capabilities=dict(sorted(self.capabilities.items())),
            libraries=libraries, policies=policies,
            modules=tuple(m.info for m in self.modules),
        )


@attrs.frozen
class _Origin:
    """A declaration that generates C names: a library, a parameter or an enum member."""

    kind: str
    name: str
    span: Span
    owner: str | None = None  # the parameter an enum member belongs to
    note: str | None = None  # how the declaration's names are made, when not obvious

    def describe(self) -> str:
        return f"{self.kind} `{self.name}`" + (f" of `{self.owner}`" if self.owner else "")


def _text(f: S.Field | None) -> str | None:
    """A checked string field's value."""
    return f.value.value if f is not None and isinstance(f.value, S.Str) else None


#: The longest suffix the build appends to a source's file name: its object is
#: `<name>.o` and gcc's dependency file `<name>.o.d` (build.ninja.j2).
OBJECT_SUFFIX = ".o.d"
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _root_desc(info: ModuleInfo) -> str:
    return {"project": "the spec's directory", "stdlib": "stdlib"}.get(
        info.root, f"the {info.root} folder")


def _file_problem(file: Path, what: str, info: ModuleInfo) -> str | None:
    """Why the build could not use ``file`` (named ``what`` in messages), or None.

    Without opening it: it must be a regular file (a FIFO would block the build,
    a device never end) whose real path lies inside its module's root."""
    try:
        st = os.stat(file)
    except FileNotFoundError:
        if os.path.lexists(file):
            return f"{what} is a broken link"
        return None  # the caller says what a missing file means
    except OSError as exc:
        return f"cannot read {what}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
        return f"{what} is not a regular file: it is {kind}"
    real = Path(os.path.realpath(file))
    if info.root_path is not None and not real.is_relative_to(info.root_path):
        return f"{what} resolves outside {_root_desc(info)}: its real path is {real}"
    return None


def source_problem(file: Path, rel: str, info: ModuleInfo) -> tuple[str, tuple[str, ...]] | None:
    """(message, notes) of what is wrong with the source ``rel`` (``file``), or None."""
    parts = rel.split("/")
    for part in parts[:-1]:
        if len(part.encode()) > NAME_MAX:
            return (f"source path `{rel}` has a folder name of {len(part.encode())} bytes; the "
                    f"limit is {NAME_MAX} bytes", ())
    size = len(parts[-1].encode())
    if size + len(OBJECT_SUFFIX) > NAME_MAX:
        return (f"source file name `{parts[-1]}` is {size} bytes long; the limit is "
                f"{NAME_MAX - len(OBJECT_SUFFIX)} bytes",
                (f"the build names the object `<name>.o` and its dependency file "
                 f"`<name>{OBJECT_SUFFIX}`, and a file name may have at most {NAME_MAX} bytes",))
    problem = _file_problem(file, f"source `{rel}`", info)
    if problem is None and not os.path.lexists(file):
        return f"source file `{rel}` does not exist", (f"looked for {file}",)
    return (problem, ()) if problem is not None else None


def header_problems(directory: Path, source: str, info: ModuleInfo) -> list[str]:
    """What is wrong with the headers (``*.h``) the build would copy from ``directory``,
    the folder of the source ``source``."""
    try:
        headers = sorted(directory.glob("*.h"))
    except OSError as exc:
        return [f"cannot list the headers beside source `{source}`: {exc.strerror or exc}"]
    out = []
    for h in headers:
        problem = _file_problem(h, f"header `{h.name}` beside source `{source}`", info)
        if problem is not None:
            out.append(problem)
    return out


def dependency_state(file: Path) -> list[object]:
    """What check's verdict on the source ``file`` depends on, as JSON-able data:
    the real path and kind of the file and of every header beside it (for
    ``driver.ResultCache``, which must not reuse a verdict when any changed)."""
    def one(p: Path) -> list[object]:
        try:
            kind: object = stat.S_IFMT(os.stat(p).st_mode)
        except OSError as exc:
            kind = f"errno {exc.errno}"
        try:
            real = os.path.realpath(p)
        except OSError as exc:
            real = f"errno {exc.errno}"
        return [p.name, real, kind]

    try:
        headers = sorted(file.parent.glob("*.h"))
    except OSError as exc:
        return [one(file), f"errno {exc.errno}"]
    return [one(file)] + [one(h) for h in headers]


def _huge(v: S.Value) -> bool:
    """An integer literal too long to keep (see ``syntax.INT_LIMIT``)."""
    return isinstance(v, S.Int) and abs(v.value) >= S.INT_LIMIT


def _names(f: S.Field) -> list[S.Name]:
    """A checked list-of-names field's items."""
    assert isinstance(f.value, S.List)
    return [i for i in f.value.items if isinstance(i, S.Name)]


def _flag(f: S.Field | None) -> bool:
    """A checked boolean field's value (false when absent)."""
    return f is not None and isinstance(f.value, S.Bool) and f.value.value


def _nearest_divisors(n: int, value: int, low: int | None, high: int | None) -> list[int]:
    """The divisors of ``n`` within [low, high] just below and just above ``value``.

    Bounded work whatever ``n`` is: trial division stops at 2**16, and nothing is
    suggested when that leaves a cofactor that may not be prime, or when ``n``
    has more than 100,000 divisors."""
    factors: dict[int, int] = {}
    rest, p = n, 2
    while p * p <= rest and p <= 1 << 16:
        while rest % p == 0:
            factors[p] = factors.get(p, 0) + 1
            rest //= p
        p += 1
    if p * p <= rest:
        return []
    if rest > 1:
        factors[rest] = factors.get(rest, 0) + 1
    if math.prod(e + 1 for e in factors.values()) > 100_000:
        return []
    divisors = [1]
    for q, e in factors.items():
        divisors = [d * q ** k for d in divisors for k in range(e + 1)]
    ok = sorted(x for x in divisors if (low is None or x >= low) and (high is None or x <= high))
    below = [x for x in ok if x < value]
    above = [x for x in ok if x > value]
    return below[-1:] + above[:1]


def _article(t: M.ParamType) -> str:
    return {"int": "an integer", "size": "a size", "bool": "a boolean", "string": "a string",
            "enum": "one of " + ", ".join(t.members)}[t.kind]


def check_modules(modules: list[LoadedModule], backend: str, sink: Sink,
                  foreign: frozenset[str] = frozenset()) -> M.Program:
    return Checker(modules, backend, sink, foreign).run()

