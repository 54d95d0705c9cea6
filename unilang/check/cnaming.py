"""C names: a declared name that must be a C identifier, and two declarations that
would generate the same C name (named by ``unilang.cnames``, as generated C is)."""

from __future__ import annotations

from functools import partial
from typing import Callable

import attrs

from .. import cnames
from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span
from .base import Base


class CNames(Base):
    """Names that reach generated C."""

    def c_ident(self, f: S.Field | None, what: str) -> M.Ref | None:
        if f is None:
            return None
        assert isinstance(f.value, S.Name)
        if not cnames.C_IDENT.match(f.value.value):
            self.err("U0038", f"{what} `{f.value.value}` is not a C identifier", f.value.span,
                     help="use letters, digits and `_`, not starting with a digit")
            return None
        return M.Ref(f.value.value, f.value.span)

    def c_name_collisions(self, libraries: dict[str, M.Library]) -> None:
        """Two declarations that generate the same C name (U0038).  gcc would only warn
        that a macro is redefined and the last definition would win, so the names are
        taken from ``unilang.cnames``, which generated C uses too.  Declarations are
        visited in source order (modules as loaded); the later one of a clashing pair
        is reported and its own names, and its members', are not claimed."""
        # who claimed each name: an _Origin, the library itself, or for a parameter
        # what makes its _Origin; the origins are made only for a diagnostic (most
        # worlds have none), so a parameter's syntax is not read for nothing
        seen: dict[str, _Origin | M.Library | Callable[[], _Origin]] = {}

        def origin_of(who: _Origin | M.Library | Callable[[], _Origin]) -> _Origin:
            if isinstance(who, M.Library):
                return _Origin("library", who.name, who.span)
            return who if isinstance(who, _Origin) else who()

        def claim(names: list[str], origin: _Origin | M.Library | Callable[[], _Origin]) -> bool:
            for n in names:
                first = seen.get(n)
                if first is not None:
                    self.c_name_clash(n, origin_of(first), origin_of(origin))
                    return False
            for n in names:
                seen[n] = origin
            return True

        # The names libraries themselves generate (``UNILANG_HAVE_<LIB>``, and
        # ``__unilang_init_<lib>`` for those with an init) are not claimed one by one
        # when no two libraries can share them, as in almost every program: only
        # the parameters' names are, which all start with ``UNILANG_PARAM_`` and so
        # never meet a library's.  At 100,000 libraries, the libraries' names and
        # the table of them were the peak of a check's memory.
        blocks = self.library_blocks
        distinct = not cnames.macro_parts_may_clash(blocks)
        for name, (block, _mod) in blocks.items():
            lib = libraries[name]
            if not distinct and not claim(
                    list(cnames.library_names(lib.name, lib.init is not None)), lib):
                continue
            if not lib.params:
                continue
            syntax: dict[str, S.Param] = {}

            def param_syntax(param: str, block: S.Block = block,
                             syntax: dict[str, S.Param] = syntax) -> S.Param:
                if not syntax:  # a lazy block builds its members when read: once here
                    for member in block.members:
                        if isinstance(member, S.Param):
                            syntax.setdefault(member.name, member)
                return syntax[param]

            for p in lib.params:
                members = p.type.members if p.type.kind == "enum" else None
                if members is None:
                    # one name, the value's (``param_macros``' first): claimed here, as
                    # ``claim`` does, its origin made only for a clash
                    macro = cnames.param_macro(lib.name, p.name)
                    first = seen.get(macro)
                    if first is None:
                        seen[macro] = partial(self._param_origin, lib, p, param_syntax)
                    else:
                        self.c_name_clash(macro, origin_of(first),
                                          self._param_origin(lib, p, param_syntax))
                    continue
                # an enum: its value's names and one per member
                macros = list(cnames.param_macros(lib.name, p.name, members))
                macro = macros[0].name
                note = (f"the enum parameter `{lib.name}.{p.name}` generates `{macro}` (the "
                        f"value's index), `{macro}_NAME` (the value's name) and "
                        f"`{macro}_<MEMBER>` for each member")
                origin = partial(self._param_origin, lib, p, param_syntax, note)
                if not claim([mac.name for mac in macros if mac.role != "member"], origin):
                    continue
                member_spans = {n.value: n.span for n in param_syntax(p.name).type.members}
                for mac in macros:
                    if mac.role == "member":
                        assert mac.member is not None
                        claim([mac.name], _Origin("enum member", mac.member,
                                                  member_spans[mac.member], f"{lib.name}.{p.name}",
                                                  note))

    @staticmethod
    def _param_origin(lib: M.Library, p: M.ParamDecl,
                      param_syntax: Callable[[str], S.Param], note: str | None = None) -> _Origin:
        return _Origin("parameter", f"{lib.name}.{p.name}", param_syntax(p.name).name_span,
                       note=note)

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
