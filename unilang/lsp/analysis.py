"""One analysis of an open document: the compiler's own pipeline, run on the
editor's text.

The document is checked as the spec (``unilang check`` with every backend):
the loader reads the open documents from the editor (``OverlayLoader``) and
everything else from disk, and parses them with recovery
(``front.recover``), so one broken declaration hides neither the rest of the
file nor the checker's diagnostics for it.  A module that declares no app
(a library being edited) is checked all the same; only "declares no app" is
left out for it.  What an analysis keeps is plain data for the features
(``features.py``): the diagnostics per file, the programs per backend, the
resolution for the default backend, the syntax tree of the document and where
each of its imports leads.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import attrs

from ..backend import default_name, names
from ..cache import MemoryCache, Parsed
from ..diagnostics import Diagnostic, Span
from ..driver import BackendResult, Session, check_spec
from ..front import syntax as S
from ..front.recover import Broken, parse_recovering
from ..front.source import SourceFile, clean_text, display_name
from ..loader import LoadedModule, Loader, ModuleInfo, Root
from ..model import Program
from ..resolve import Resolution


class OverlayLoader(Loader):
    """The loader, reading open documents from the editor and parsing with recovery."""

    def __init__(self, *args: object, overlay: dict[Path, str], trees: dict[Path, S.Module],
                 broken: dict[str, tuple[Broken, ...]],
                 imports: dict[tuple[Path, Span], Path], **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.overlay = overlay
        self.trees = trees
        self.broken = broken
        self.import_targets = imports

    def read(self, real: Path, root: Root, span: Span | None) -> LoadedModule | None:
        text = self.overlay.get(real)
        if text is None:
            return super().read(real, root, span)
        name = self.module_name(real, root)
        self.files[name] = real
        text, nul_byte = clean_text(name, text)
        if nul_byte is not None:
            self.sink.add(nul_byte)
            text = text.replace("\0", " ")
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        src = SourceFile(name=name, path=real, text=text, digest=digest)
        rec = parse_recovering(src)
        self.sink.extend(rec.diagnostics)
        self.broken[name] = rec.broken
        self.trees[real] = rec.module
        self.reads[str(real)] = digest
        parsed = Parsed.of(rec.module)
        info = ModuleInfo(name, real, root.kind, (), parsed.defines, digest, root.path)
        return LoadedModule(info, parsed)

    def find(self, imp: S.Import, importer: Path, importer_root: Root) -> tuple[Path, Root] | Diagnostic:
        found = super().find(imp, importer, importer_root)
        if not isinstance(found, Diagnostic):
            self.import_targets[(importer, imp.span)] = found[0]
        return found


class OverlaySession(Session):
    """A session whose loader is the ``OverlayLoader``."""

    def __init__(self, overlay: dict[Path, str], cache: MemoryCache) -> None:
        super().__init__(cache)
        self.overlay = overlay
        self.trees: dict[Path, S.Module] = {}
        self.broken: dict[str, tuple[Broken, ...]] = {}
        self.import_targets: dict[tuple[Path, Span], Path] = {}

    def load(self, spec: Path, backend: str) -> list[LoadedModule]:
        return OverlayLoader(spec, backend, self.sink, self.cache, self.files, self.reads,
                             overlay=self.overlay, trees=self.trees, broken=self.broken,
                             imports=self.import_targets).load()

    def source_text(self, name: str) -> str | None:
        path = self.files.get(name)
        if path is not None and path in self.overlay:
            return self.overlay[path]
        return super().source_text(name)


@attrs.frozen
class Located:
    """A diagnostic as the editor shows it: once, with the backends it holds for
    when that is not every backend checked."""

    diagnostic: Diagnostic
    backends: tuple[str, ...]


@attrs.frozen
class Analysis:
    path: Path  # the document's real path
    name: str  # its module name (what spans call it)
    tree: S.Module
    #: diagnostics by the real path of the file they are in (None: no file)
    diagnostics: dict[Path | None, tuple[Located, ...]]
    programs: dict[str, Program]  # by backend, the default backend first
    resolutions: dict[str, Resolution]  # by backend, where the spec resolved
    default_backend: str
    files: dict[str, Path]  # module name -> real path
    texts: dict[Path, str]  # the open documents
    import_targets: dict[Span, Path]  # the document's imports -> the module each names

    @property
    def resolution(self) -> Resolution | None:
        """The default backend's resolution (what hover reports)."""
        return self.resolutions.get(self.default_backend)

    def path_of(self, span_file: str) -> Path | None:
        return self.files.get(span_file)

    def text_of(self, path: Path) -> str | None:
        if path in self.texts:
            return self.texts[path]
        try:
            return path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None


def _skip(d: Diagnostic, name: str, broken: tuple[Broken, ...]) -> bool:
    """A diagnostic that only follows from where the editor is: the edited module
    declares no app (a library module), or a declaration of it did not parse
    (``unknown library `x``` for the library whose declaration is broken)."""
    if d.code == "U0039" and d.message.endswith("declares no app") and d.span is not None \
            and d.span.file == name:
        return True
    return d.code == "U0031" and any(
        b.name is not None and d.message == f"unknown {b.kind} `{b.name}`" for b in broken)


#: Syntax errors: the recovering parse left the statements they are in out.
SYNTAX_CODES = frozenset({"U0010", "U0011"})


def _resolve_despite_syntax(result: BackendResult, session: Session, mark: int) -> None:
    """Resolve when the only errors are syntax errors the parse recovered from:
    the rest of the program is whole, and hover wants its parameters' values."""
    from ..policy import check_policies
    from ..resolve import resolve

    program = result.program
    errors = [d for d in session.sink.items[mark:] if d.is_error]
    if result.resolution is not None or program is None or program.app is None or not errors \
            or any(d.code not in SYNTAX_CODES for d in errors):
        return
    result.resolution = check_policies(program, resolve(program, session.sink), session.sink)


def analyze(path: Path, overlay: dict[Path, str], cache: MemoryCache | None = None) -> Analysis:
    """Check the document at ``path`` (its text in ``overlay``) for every backend."""
    real = Path(os.path.realpath(path))
    spec = Path(display_name(real))  # named as the command line names it
    session = OverlaySession(overlay, cache if cache is not None else MemoryCache())
    default = default_name()
    backends = [default] + [b for b in names() if b != default]
    results = []
    tagged: list[tuple[Diagnostic, str]] = []
    for backend in backends:  # one at a time, to know which backend reported what
        mark = len(session.sink.items)
        result = check_spec(spec, [backend], session)[1][0]
        _resolve_despite_syntax(result, session, mark)
        results.append(result)
        tagged += [(d, backend) for d in session.sink.items[mark:]]
    tree = session.trees.get(real, S.Module(str(real), ()))
    name = next((n for n, p in session.files.items() if p == real), str(real))
    broken = session.broken.get(name, ())
    # one entry per diagnostic, with the backends it was reported for
    seen: dict[tuple[object, ...], tuple[Diagnostic, list[str]]] = {}
    for d, backend in tagged:
        if _skip(d, name, broken):
            continue
        key = (d.code, d.severity, d.message, d.span, d.labels, d.notes, d.help)
        if key not in seen:
            seen[key] = (attrs.evolve(d, backend=None), [])
        if backend not in seen[key][1]:
            seen[key][1].append(backend)
    by_file: dict[Path | None, list[Located]] = {}
    for d, bs in seen.values():
        shown = tuple(b for b in backends if b in bs)
        where = session.files.get(d.span.file) if d.span is not None else None
        by_file.setdefault(where, []).append(Located(d, shown if len(shown) < len(backends) else ()))
    diagnostics = {p: tuple(sorted(ds, key=lambda l: l.diagnostic.sort_key()))
                   for p, ds in by_file.items()}
    programs = {r.backend: r.program for r in results if r.program is not None}
    resolutions = {r.backend: r.resolution for r in results if r.resolution is not None}
    imports = {span: target for (importer, span), target in session.import_targets.items()
               if importer == real}
    return Analysis(real, name, tree, diagnostics, programs, resolutions, default,
                    dict(session.files), dict(overlay), imports)
