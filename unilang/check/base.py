"""The checker's shared state (the sink, the declarations collected so far) and how
it reports: every other part of the checker builds on ``Base``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Container, Iterable

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Sink, Span, did_you_mean, error, one_of
from ..loader import LoadedModule

if TYPE_CHECKING:
    from ..importhint import ImportHints

#: Names that reach generated files (app, library, device) are NAME tokens
#: ([A-Za-z_][A-Za-z0-9_-]*) and at most this long.
MAX_NAME = 64


class Base:
    """What every part of the checker shares: the input, the sink, the symbols."""

    def __init__(self, modules: list[LoadedModule], backend: str, sink: Sink,
                 foreign: Container[str] = frozenset(),
                 hints: "ImportHints | None" = None) -> None:
        self.modules = modules
        #: finds an unknown name in a `.uni` file that was not imported
        self.hints = hints
        #: Libraries that only other backends declare: `use` and `set` naming
        #: them apply on those backends and are skipped on this one.
        self.foreign = foreign
        self.backend = backend
        from ..backend import names

        self.known_backends = names()
        self.sink = sink
        self.constructs: dict[str, M.Construct] = {}
        self.capabilities: dict[str, M.Capability] = {}
        self.library_blocks: dict[str, tuple[S.Block, LoadedModule]] = {}
        self.policy_blocks: dict[str, tuple[S.Block, LoadedModule]] = {}
        self.app_blocks: list[tuple[S.Block, LoadedModule]] = []
        #: each module's folder, made once (shared by its libraries' models)
        self.directories: dict[str, Path] = {}

    def directory(self, mod: LoadedModule) -> Path:
        """The folder of ``mod``'s file (sources are relative to it)."""
        found = self.directories.get(mod.info.name)
        if found is None:
            found = self.directories[mod.info.name] = mod.info.path.parent
        return found

    def err(self, code: str, message: str, span: Span | None, **kw: Any) -> None:
        self.sink.add(error(code, message, span, **kw))

    def unknown(self, what: str, name: str, span: Span, known: Iterable[str],
                extra_help: str | None = None) -> None:
        known = list(known)
        guess = did_you_mean(name, known)
        help_ = f"did you mean `{guess}`?" if guess else extra_help
        if not guess and self.hints is not None:
            importer = next((m.info.path for m in self.modules if m.info.name == span.file), None)
            help_ = self.hints.help(what, name, importer) or help_
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


def suggestion(name: str, candidates: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the candidate closest to a misspelt ``name``, or None."""
    guess = did_you_mean(name, candidates)
    return f"did you mean `{guess}`?" if guess else None


def found(v: S.Value) -> str:
    return {"integer": "an integer", "size": "a size", "string": "a string",
            "boolean": "a boolean", "name": "a name", "list": "a list"}[v.type_name]


def is_huge(v: S.Value) -> bool:
    """An integer literal too long to keep (see ``syntax.INT_LIMIT``)."""
    return isinstance(v, S.Int) and abs(v.value) >= S.INT_LIMIT


def field_text(f: S.Field | None) -> str | None:
    """A checked string field's value."""
    return f.value.value if f is not None and isinstance(f.value, S.Str) else None


def field_names(f: S.Field) -> list[S.Name]:
    """A checked list-of-names field's items."""
    assert isinstance(f.value, S.List)
    return [i for i in f.value.items if isinstance(i, S.Name)]


def field_flag(f: S.Field | None) -> bool:
    """A checked boolean field's value (false when absent)."""
    return f is not None and isinstance(f.value, S.Bool) and f.value.value
