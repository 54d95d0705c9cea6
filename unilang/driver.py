"""The pipeline, stage by stage: load -> parse -> check -> resolve -> policy -> emit.

A ``Session`` holds what one command invocation shares between stages and
backends: the diagnostics sink, the parse cache and the files it read (so
the renderer can show their lines).  There is no global mutable state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .front import syntax as S
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
        #: `.uni` files the import hint read (unilang.importhint), for every backend
        self.hint_files: dict[str, tuple[object, list[tuple[str, str]]]] = {}

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

        foreign = _Foreign(lambda: [d.split(":", 1)[1] for m in self.foreign_modules(spec, backend)
                                    for d in m.info.defines if d.startswith("library:")])
        from .importhint import ImportHints
        from .paths import backend_dir, stdlib_dir

        spec_module = modules[0].info
        hints = ImportHints(spec_module.root_path if spec_module.root == "project" else None,
                            [stdlib_dir(), backend_dir(backend)],
                            [m.info.path for m in modules], self.reads,  # type: ignore[arg-type]
                            self.hint_files)
        try:
            return check_modules(modules, backend, self.sink, foreign, hints)
        except CacheInconsistent as exc:
            self.sink.add(error("U0001", f"`{exc.args[0]}` changed while unilang was reading "
                                "it", help="run the command again"))
            return None


class _Foreign:
    """The libraries other backends declare (``check.base.Base.foreign``), their
    modules loaded when first asked about: only a `use` or `set` naming a library
    this backend does not have asks, and a check that never asks neither reads
    nor depends on them (``Session.reads``)."""

    __slots__ = ("_load", "_names")

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        self._names: frozenset[str] | None = None

    def __contains__(self, name: object) -> bool:
        if self._names is None:
            self._names = frozenset(self._load())
        return name in self._names


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
    are reused, before anything is loaded, while every fact they depend on
    still holds (see ``ResultCache``)."""
    from .backend import BackendError, load as load_backend

    session = session or Session()
    results_cache = ResultCache(spec, backends, session) if reuse_results else None
    if results_cache is not None:
        cached = results_cache.lookup()
        if cached is not None:
            return session, cached
    loaded: dict[str, tuple[list[LoadedModule], bool]] = {}
    for backend in backends:
        try:
            session.reads.update(load_backend(backend).facts())
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
    from .policy import check_policies
    from .resolve import resolve

    fronts = []
    for backend in backends:
        modules, load_ok = loaded[backend]
        mark = len(session.sink.items)
        program = session.front_end(spec, backend, modules) if modules else None
        front_ok = load_ok and not any(d.is_error for d in session.sink.items[mark:])
        fronts.append((backend, program, front_ok))
    facts = None
    if results_cache is not None and all(ok for _m, ok in loaded.values()):
        facts = results_cache.file_facts(loaded)
    if reuse_results:
        # `check` reads no syntax tree after this: let resolution reuse their memory
        from .cache import reparse

        for modules, _ok in loaded.values():
            for m in modules:
                m.parsed.release(reparse(m.info.path, m.info.digest, m.info.name))
    results = []
    for backend, program, front_ok in fronts:
        resolution = None
        if program is not None and program.app is not None and front_ok:
            resolution = check_policies(program, resolve(program, session.sink), session.sink)
        results.append(BackendResult(backend, program, resolution))
    if results_cache is not None and facts is not None:
        results_cache.store(results, facts)
    return session, results


#: The keys whose values name files a check result depends on (``ResultCache.store``).
_FILE_KEYS = frozenset({"sources", "includes", "files"})


class ResultCache:
    """`check`'s diagnostics, reused through ``unilang.fresh``: keyed by the
    command (unilang itself, the working directory, the spec path, the
    backends) and valid while every fact holds: the content of every module
    read and every place an import looked in vain (``Session.reads``), the
    backends' descriptors, and for every source file named by `sources` its
    real path and kind and those of the headers beside it."""

    def __init__(self, spec: Path, backends: list[str], session: Session) -> None:
        from .cache import namespace
        from .fresh import command_key

        self.session = session
        self.disk = open_cache()
        self.ns = namespace("check") if self.disk is not None else ""
        from .digest import sha256_hex

        # the entry's name in the cache: a digest of the key
        self.key = sha256_hex(command_key("check", [str(spec), backends]).encode())
        # the spec's status before anything reads it: with it, ``store`` need not
        # hash the spec again to record its token (``fresh.settle``)
        self.before_read: dict[str, tuple[list[int] | None, int]] = {}
        if self.disk is not None:
            from .fresh import stat_before

            real = os.path.realpath(spec)
            self.before_read[real] = stat_before(real)

    def lookup(self) -> list[BackendResult] | None:
        from .fresh import facts_hold

        if self.disk is None:
            return None
        payload = self.disk.get(self.ns, self.key)
        if payload is None:
            return None
        try:
            doc = json.loads(payload)
            if not facts_hold(doc["facts"], doc.get("tokens")):
                return None
            diags = [diagnostic_from_json(d) for d in doc["diagnostics"]]
            results = [BackendResult(b, None, None, doc["app"]) for b in doc["backends"]]
            files = {str(n): Path(p) for n, p in doc["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        self.session.files.update(files)  # so the renderer can show their lines
        self.session.sink.extend(diags)
        return results

    def file_facts(self, loaded: dict[str, tuple[list[LoadedModule], bool]]
                   ) -> dict[str, object]:
        """The state of every file and folder the modules' blocks name
        (`sources`, `includes`, `files`), read from their syntax trees."""
        from .fresh import dependency_state

        facts: dict[str, object] = {}
        if self.disk is None:
            return facts
        named = _FILE_KEYS
        for modules, _ in loaded.values():
            for m in modules:
                for decl in m.tree.decls:
                    if not isinstance(decl, S.Block):
                        continue
                    if isinstance(decl, S.LazyBlock) and not decl.names_files:
                        continue  # not built for nothing
                    for member in decl.members:
                        if not (isinstance(member, S.Field) and member.key in named):
                            continue  # most members: one test each
                        if isinstance(member, S.Field) and member.key == "sources" and \
                                isinstance(member.value, S.List):
                            for item in member.value.items:
                                if isinstance(item, S.Str):
                                    p = str(m.info.path.parent / item.value)
                                    facts[p] = dependency_state(p)
                        if isinstance(member, S.Field) and member.key == "includes" and \
                                isinstance(member.value, S.List):
                            # the folder itself and its headers (kind, real path)
                            for item in member.value.items:
                                if isinstance(item, S.Str):
                                    p = os.path.join(str(m.info.path.parent / item.value), ".")
                                    facts[p] = dependency_state(p)
                        if isinstance(member, S.Field) and member.key == "files" and \
                                isinstance(member.value, S.List):
                            # every entry below each sealed folder (kind, real path, size)
                            from .sealed import tree_fact

                            root = str(m.info.root_path) if m.info.root_path else None
                            for item in member.value.items:
                                if isinstance(item, S.Str):
                                    p = os.path.join(str(m.info.path.parent / item.value), "")
                                    facts[p] = tree_fact(p, root)
        return facts

    def store(self, results: list[BackendResult], file_facts: dict[str, object]) -> None:
        from .fresh import settle

        if self.disk is None:
            return
        facts: dict[str, object] = dict(self.session.reads)
        facts.update(file_facts)
        app = next((r.app_name for r in results if r.app_name), None)
        doc = {"app": app, "backends": [r.backend for r in results],
               "facts": dict(sorted(facts.items())), "tokens": settle(facts, self.before_read),
               "files": {n: str(p) for n, p in sorted(self.session.files.items())},
               "diagnostics": [d.to_json() for d in self.session.sink.items]}
        self.disk.put(self.ns, self.key, json.dumps(doc, ensure_ascii=False).encode("utf-8"))

