"""The pipeline, stage by stage: load -> parse -> check -> resolve -> policy -> emit.

A ``Session`` holds what one command invocation shares between stages and
backends: the diagnostics sink, the parse cache and the files it read (so
the renderer can show their lines).  There is no global mutable state.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from . import syntax as S
from .cache import CacheInconsistent, open_cache, parse_cache
from .diagnostics import Sink, diagnostic_from_json, error
from .loader import LoadedModule, ParseCache, load_modules

if TYPE_CHECKING:
    from .model import Program
    from .resolve import Resolution


class Session:
    def __init__(self, cache: ParseCache | None = None) -> None:
        self.sink = Sink()
        self.cache: ParseCache = cache if cache is not None else parse_cache()
        self.files: dict[str, Path] = {}
        self.reads: dict[str, str | None] = {}  # see Loader.reads
        self._foreign: dict[tuple[Path, str], list[LoadedModule]] = {}

    def source_text(self, name: str) -> str | None:
        path = self.files.get(name)
        if path is None:
            return None
        try:
            return path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None

    def load(self, spec: Path, backend: str) -> list[LoadedModule]:
        return load_modules(spec, backend, self.sink, self.cache, self.files,
                            reads=self.reads)

    def foreign_modules(self, spec: Path, backend: str) -> list[LoadedModule]:
        """Other backends' own modules (for `use` and `set` of their libraries).

        Loaded once per session: the check-result key and the checker both ask."""
        cached = self._foreign.get((spec, backend))
        if cached is not None:
            return cached
        out = []
        from .backend import names

        for other in names():
            if other == backend:
                continue
            scratch = Sink()  # the other backend's problems are reported when it is checked
            out += [m for m in load_modules(spec, other, scratch, self.cache, {},
                                            include_spec=False, reads=self.reads) if m.info.root == "backend"]
        self._foreign[(spec, backend)] = out
        return out

    def front_end(self, spec: Path, backend: str,
                  modules: list[LoadedModule] | None = None) -> Program | None:
        """Load, parse and check ``spec`` for ``backend``; None if it could not be loaded."""
        if modules is None:
            modules = self.load(spec, backend)
        if not modules:
            return None
        from .check import check_modules

        foreign = frozenset(d.split(":", 1)[1] for m in self.foreign_modules(spec, backend)
                            for d in m.info.defines if d.startswith("library:"))
        try:
            return check_modules(modules, backend, self.sink, foreign)
        except CacheInconsistent as exc:
            self.sink.add(error("U0001", f"`{exc.args[0]}` changed while unilang was reading "
                                "it", help="run the command again"))
            return None


class BackendResult:
    """What one backend's pass over the spec produced."""

    __slots__ = ("backend", "program", "resolution", "app_name")

    def __init__(self, backend: str, program: Program | None, resolution: Resolution | None,
                 app_name: str | None = None) -> None:
        self.backend = backend
        self.program = program
        self.resolution = resolution
        self.app_name = app_name or (program.app.name if program and program.app else None)


def check_spec(spec: Path, backends: list[str], session: Session | None = None,
               reuse_results: bool = False) -> tuple[Session, list[BackendResult]]:
    """Front end and resolution for each backend; diagnostics land in the session.

    With ``reuse_results`` (the `check` command), a previous run's diagnostics
    are reused when every module, every source file it names and the working
    directory are the same (see ``ResultCache``)."""
    from .backend import BackendError, load as load_backend

    session = session or Session()
    loaded: dict[str, tuple[list[LoadedModule], bool]] = {}
    for backend in backends:
        try:
            load_backend(backend)
        except BackendError as exc:
            session.sink.add(error("U0207", f"backend `{backend}` cannot be used: {exc}",
                                   help="see docs/build.md, \"Adding a backend\", for what a "
                                        "backend folder holds"))
            loaded[backend] = ([], False)
            continue
        mark = len(session.sink.items)
        modules = session.load(spec, backend)
        load_ok = not any(d.is_error for d in session.sink.items[mark:])
        loaded[backend] = (modules, load_ok)
    results_cache = ResultCache(spec, backends, loaded, session) if reuse_results else None
    if results_cache is not None:
        cached = results_cache.lookup()
        if cached is not None:
            return session, cached
    from .policy import check_policies
    from .resolve import resolve

    results = []
    for backend in backends:
        modules, load_ok = loaded[backend]
        mark = len(session.sink.items)
        program = session.front_end(spec, backend, modules) if modules else None
        resolution = None
        front_ok = load_ok and not any(d.is_error for d in session.sink.items[mark:])
        if program is not None and program.app is not None and front_ok:
            resolution = check_policies(program, resolve(program, session.sink), session.sink)
        results.append(BackendResult(backend, program, resolution))
    if results_cache is not None:
        results_cache.store(results)
    return session, results


class ResultCache:
    """`check`'s diagnostics, keyed by everything they depend on.

    The key hashes unilang's version, the working directory (diagnostics name
    files relative to it), the spec path, the backends, and the name, root
    and content hash of every loaded module (the spec's, stdlib's and every
    backend's).  Source files named by `sources` are dependencies recorded in
    the entry and re-checked on a hit: their real paths and kinds, and those of
    the headers beside them (``check.files.dependency_state``)."""

    def __init__(self, spec: Path, backends: list[str],
                 loaded: dict[str, tuple[list[LoadedModule], bool]], session: Session) -> None:
        from .cache import namespace

        self.session = session
        self.disk = open_cache()
        self.ok = self.disk is not None and bool(loaded) and not session.sink.items and all(
            mods for mods, _ in loaded.values())
        if not self.ok:
            return
        self.loaded = loaded
        self.ns = namespace("check")
        h = hashlib.sha256()
        h.update(json.dumps([os.getcwd(), str(spec), backends]).encode())
        for backend in backends:
            mods = loaded[backend][0] + session.foreign_modules(spec, backend)
            for m in mods:
                h.update(json.dumps([backend, m.info.name, m.info.root, str(m.info.path),
                                     m.info.digest]).encode())
        self.key = h.hexdigest()

    def lookup(self) -> list[BackendResult] | None:
        from .check.files import dependency_state

        if not self.ok:
            return None
        assert self.disk is not None
        payload = self.disk.get(self.ns, self.key)
        if payload is None:
            return None
        try:
            doc = json.loads(payload)
            for path, state in doc["deps"]:
                if dependency_state(Path(path)) != state:
                    return None
            diags = [diagnostic_from_json(d) for d in doc["diagnostics"]]
            results = [BackendResult(b, None, None, doc["app"]) for b in doc["backends"]]
        except (ValueError, KeyError, TypeError):
            return None
        self.session.sink.extend(diags)
        return results

    def store(self, results: list[BackendResult]) -> None:
        from .check.files import dependency_state

        if not self.ok:
            return
        assert self.disk is not None
        deps: dict[str, list[object]] = {}
        for modules, _ in self.loaded.values():
            for m in modules:
                for decl in m.tree.decls:
                    if not isinstance(decl, S.Block):
                        continue
                    for member in decl.members:
                        if isinstance(member, S.Field) and member.key == "sources" and \
                                isinstance(member.value, S.List):
                            for item in member.value.items:
                                if isinstance(item, S.Str):
                                    p = str(m.info.path.parent / item.value)
                                    deps[p] = dependency_state(Path(p))
        app = next((r.app_name for r in results if r.app_name), None)
        doc = {"app": app, "backends": [r.backend for r in results],
               "deps": sorted(deps.items()),
               "diagnostics": [d.to_json() for d in self.session.sink.items]}
        self.disk.put(self.ns, self.key, json.dumps(doc, ensure_ascii=False).encode("utf-8"))

