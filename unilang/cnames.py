"""The names that generated C gives to what a spec declares: the one place for the mangling.

``unilang.emit.cgen`` writes these names into ``unilang_params.h`` and
``unilang_init.c``; the checker asks for the very same names to reject two
declarations that would generate the same one (gcc would only warn that a
macro is redefined, and the last definition would silently win).
"""

from __future__ import annotations

import re
from typing import Collection, Iterator

import attrs

#: A C identifier (also a GNU ld symbol): letters, digits and `_`, not starting with a digit.
C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def c_name(name: str) -> str:
    """A library or member name as it appears in C symbols and paths: `-` becomes `_`."""
    return name.replace("-", "_")


def macro_part(name: str) -> str:
    """A name as it appears inside a macro: `-` becomes `_`, upper case."""
    return c_name(name).upper()


def have_macro(library: str) -> str:
    """``UNILANG_HAVE_<LIB>``: defined when the library is in the image."""
    return f"UNILANG_HAVE_{macro_part(library)}"


#: A character that a name's macro part does not simply upper-case (``macro_parts_may_clash``).
_NOT_PLAIN = re.compile(r"[^a-z0-9_]")


def macro_parts_may_clash(names: Collection[str]) -> bool:
    """Whether two of the distinct ``names`` may have the same ``macro_part`` (and so
    the same ``have_macro``, and, with an init, ``init_symbol``): False proves they
    do not, True asks for a closer look.  Most names are lower-case ASCII letters,
    digits and `_`: the macro part of such a name is its upper case, which no two
    of them share, so only the other names' macro parts are made (the checker
    asks this for every library: 100,000 names at once)."""
    others = [n for n in names if _NOT_PLAIN.search(n)]
    if not others:
        return False
    parts = [macro_part(n) for n in others]
    if len(set(parts)) != len(parts):
        return True
    for part in parts:
        plain = part.lower()  # the plain name with this macro part, if there is one
        if plain in names and not _NOT_PLAIN.search(plain):
            return True
    return False


def init_symbol(library: str) -> str:
    """The init-table entry of a library with an ``init`` function."""
    return f"__unilang_init_{c_name(library)}"


def param_macro(library: str, param: str) -> str:
    """``UNILANG_PARAM_<LIB>_<PARAM>``: the parameter's value."""
    return f"UNILANG_PARAM_{macro_part(library)}_{macro_part(param)}"


@attrs.frozen
class ParamMacro:
    """One macro a parameter generates.

    ``role`` is ``value`` (the value itself; for an enum the member's index),
    ``name`` (an enum's value as a string, ``<MACRO>_NAME``) or ``member``
    (an enum member's index, ``<MACRO>_<MEMBER>``; ``member`` names it)."""

    name: str
    role: str
    member: str | None = None


def param_macros(library: str, param: str,
                 members: tuple[str, ...] | None = None) -> Iterator[ParamMacro]:
    """Every macro a parameter generates; ``members`` for an enum parameter."""
    macro = param_macro(library, param)
    yield ParamMacro(macro, "value")
    if members is not None:
        yield ParamMacro(f"{macro}_NAME", "name")
        for m in members:
            yield ParamMacro(f"{macro}_{macro_part(m)}", "member", m)


def library_names(library: str, has_init: bool) -> Iterator[str]:
    """The names a library itself generates (its parameters' come from ``param_macros``)."""
    yield have_macro(library)
    if has_init:
        yield init_symbol(library)
