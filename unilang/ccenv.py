"""The compiler a build runs: ``gcc`` from PATH, or what the ``CC`` variable names.

``CC`` may name the compiler alone (``CC=gcc-12``) or put compiler wrappers
in front of it (``CC="ccache gcc"``, ``CC="distcc gcc"``, ``CC="ccache
distcc gcc"``): every word is a program, the last one is the compiler and
the ones before it wrap it.  The value is split with POSIX shell rules
(``shlex``, no shell is run: quotes group a path with spaces, nothing is
expanded) and each word must be found on PATH, or be a path to an
executable; flags do not belong in ``CC`` (unilang sets its own).  Anything
else is U0228, before a build starts.

The compiler is resolved to its real path as ``gcc`` always was (its
identity goes into ``toolchain.id``); a wrapper keeps the path PATH gives
(not resolved through links: ``/usr/lib/ccache/gcc`` is a link to ccache that
works only under its own name).  An empty ``CC`` is the same as none.
Only the standard library is imported here.
"""

from __future__ import annotations

import os
import shlex
import shutil
from typing import Mapping, NamedTuple


class Compiler(NamedTuple):
    wrapper: tuple[str, ...]   # absolute paths of the wrapper programs, outermost first
    compiler: str              # the compiler's real path


class CCProblem(Exception):
    """``CC`` cannot be used: ``args = (message, help)``."""

    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.message = message
        self.help = help


def cc_value(env: Mapping[str, str] | None = None) -> str:
    """The raw value of ``CC`` ("" when unset): part of the build's key."""
    return (os.environ if env is None else env).get("CC", "")


def _find(word: str) -> str | None:
    if os.sep in word:
        return os.path.abspath(word) if os.path.isfile(word) and os.access(word, os.X_OK) \
            else None
    return shutil.which(word)


def compiler(env: Mapping[str, str] | None = None) -> Compiler | None:
    """The wrapper and compiler ``CC`` names; None when ``CC`` is unset or
    empty (then the build uses ``gcc`` from PATH).  Raises ``CCProblem``."""
    raw = cc_value(env)
    if not raw.strip():
        return None
    help_text = ('`CC` names programs only: a compiler, optionally after wrappers, e.g. '
                 '`CC=gcc`, `CC="ccache gcc"` or `CC="distcc gcc"`')
    try:
        words = shlex.split(raw)
    except ValueError as exc:
        raise CCProblem(f"`CC={raw}` cannot be split into words: {exc}", help_text) from None
    if not words:
        return None
    found: list[str] = []
    for w in words:
        if w.startswith("-"):
            raise CCProblem(f"`CC={raw}` holds the option `{w}`; unilang passes its own "
                            "compiler flags", help_text)
        path = _find(w)
        if path is None:
            where = "is not an executable file" if os.sep in w else "is not found on PATH"
            raise CCProblem(f"`CC={raw}` names `{w}`, which {where}", help_text)
        found.append(path)
    return Compiler(tuple(found[:-1]), os.path.realpath(found[-1]))
