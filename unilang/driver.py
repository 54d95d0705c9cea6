"""The pipeline, stage by stage: load -> parse -> check -> resolve -> emit.

A ``Session`` holds what one command invocation shares between stages and
backends: the diagnostics sink, the parse cache and the files it read (so
the renderer can show their lines).  There is no global mutable state.
"""

from __future__ import annotations

from pathlib import Path

from .check import check_modules
from .diagnostics import Sink
from .loader import MemoryCache, ParseCache, load_modules
from .model import Program


class Session:
    def __init__(self, cache: ParseCache | None = None) -> None:
        self.sink = Sink()
        self.cache: ParseCache = cache if cache is not None else MemoryCache()
        self.files: dict[str, Path] = {}

    def source_text(self, name: str) -> str | None:
        path = self.files.get(name)
        if path is None:
            return None
        try:
            return path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None

    def front_end(self, spec: Path, backend: str) -> Program | None:
        """Load, parse and check ``spec`` for ``backend``; None if it could not be loaded."""
        modules = load_modules(spec, backend, self.sink, self.cache, self.files)
        if not modules:
            return None
        return check_modules(modules, backend, self.sink, self.foreign_libraries(spec, backend))

    def foreign_libraries(self, spec: Path, backend: str) -> frozenset[str]:
        """Libraries declared by other backends' own modules (not by stdlib or the project)."""
        from .paths import BACKENDS
        from . import syntax as S

        names: set[str] = set()
        for other in BACKENDS:
            if other == backend:
                continue
            scratch = Sink()  # the other backend's problems are reported when it is checked
            for mod in load_modules(spec, other, scratch, self.cache, {}, include_spec=False):
                if mod.info.root == "backend":
                    names.update(d.name for d in mod.tree.decls
                                 if isinstance(d, S.Block) and d.kind == "library")
        return frozenset(names)


class BackendResult:
    """What one backend's pass over the spec produced."""

    __slots__ = ("backend", "program", "resolution")

    def __init__(self, backend: str, program: Program | None, resolution: object | None) -> None:
        self.backend = backend
        self.program = program
        self.resolution = resolution


def check_spec(spec: Path, backends: list[str],
               session: Session | None = None) -> tuple[Session, list[BackendResult]]:
    """Front end and resolution for each backend; diagnostics land in the session."""
    from .resolve import resolve

    session = session or Session()
    results = []
    for backend in backends:
        mark = len(session.sink.items)
        program = session.front_end(spec, backend)
        resolution = None
        front_ok = not any(d.is_error for d in session.sink.items[mark:])
        if program is not None and program.app is not None and front_ok:
            resolution = resolve(program, session.sink)
        results.append(BackendResult(backend, program, resolution))
    return session, results
