"""Library parameters: their declarations (type, default, range, ``divides``), the
values given to them, and the app's ``set LIBRARY.PARAM = VALUE;`` overrides."""

from __future__ import annotations

import math

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span, one_of
from ..units import fmt_size
from .base import found, suggestion
from .schema import Schema
from .symbols import Symbols

PARAM_TYPES = ("int", "size", "bool", "string")
#: What the generated C macros of int and size parameters can hold
#: (``(VLL)`` and ``(VULL)``; -2**63 itself is not a valid C literal).
C_RANGES = {"int": (-(1 << 63) + 1, (1 << 63) - 1), "size": (0, (1 << 64) - 1)}
#: the type of every `int` parameter
INT_TYPE = M.ParamType("int")
#: the syntax node a value of each parameter kind is written as
_VALUE_NODES = {"int": S.Int, "size": S.Size, "bool": S.Bool, "string": S.Str, "enum": S.Name}


class Params(Schema, Symbols):
    """Parameter declarations, values and overrides."""

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
            self.err("U0042", f"unknown parameter type `{t.name}`", t.span,
                     help=suggestion(t.name, PARAM_TYPES + ("enum",)),
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
        want = _VALUE_NODES[t.kind]
        if not isinstance(v, want):
            help_ = None
            if t.kind == "size" and isinstance(v, S.Int):
                help_ = f"sizes need a unit: `{v.value} KiB`, `{v.value} MiB` or `{v.value} B`"
            elif t.kind == "int" and isinstance(v, S.Str) and v.value.strip().lstrip("-").isdigit():
                help_ = f"write the number without quotes: `{v.value.strip()}`"
            elif t.kind == "string" and isinstance(v, S.Name):
                help_ = f'strings are quoted: `"{v.value}"`'
            self.err("U0042" if decl else "U0034", f"{what} must be {_article(t)}, found {found(v)}", v.span,
                     help=help_)
            return None
        if t.kind == "enum":
            assert isinstance(v, S.Name)
            if v.value not in t.members:
                self.err("U0042" if decl else "U0034", f"{what}: `{v.value}` is not one of {', '.join(t.members)}",
                         v.span, help=suggestion(v.value, t.members))
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

    def override(self, m: S.Set, libraries: dict[str, M.Library]) -> M.Override | None:
        parts = m.target.value.split(".")
        if len(parts) != 2:
            self.err("U0036", f"`set` needs LIBRARY.PARAM, not `{m.target.value}`", m.target.span,
                     help="for example `set heap.max_size = 4 MiB;`")
            return None
        lib_name, param_name = parts
        if m.on is not None:
            backends = [self.backend_ref(n) for n in m.on]
            if None in backends:
                return None
            if self.backend not in backends:
                return None  # `set ... on xen;` while checking kvm: applies there only
        if lib_name not in self.library_blocks and lib_name in self.foreign:
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
            self.err("U0036", f"library `{lib_name}` has no parameter `{param_name}`", param_span,
                     help=suggestion(param_name, names),
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
