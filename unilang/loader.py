"""Loading modules: the root spec, its imports, and the implicit preludes.

Import search roots, in order:
  * a project module (the spec's own directory): project, stdlib, backend
  * a stdlib module: stdlib, backend
  * a backend module: backend, stdlib
``import a.b;`` names the file ``a/b.uni`` below a root; ``import "x/y.uni";``
is a path relative to the importing file.  Whatever the form, the file's
real path (symlinks resolved) must lie inside the root it was found in.

Two modules are always loaded after the root spec: ``stdlib/prelude.uni``
and ``backends/<backend>/backend.uni``.  Then, by discovery, every library
folder's module: ``stdlib/lib/<name>/<name>.uni`` and
``backends/<backend>/lib/<name>/<name>.uni`` (``unilang.libfolders``).  A
folder without its module, or whose module does not declare exactly the
library it is named after, is U0047.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import attrs

from . import libfolders, paths
from .front import syntax as S
from .diagnostics import Diagnostic, Label, Sink, Span, error
from .cache import Parsed
from .front.source import display_name, read_source


@attrs.frozen
class ModuleInfo:
    """A loaded module: its display name, where it came from and what it imports."""

    name: str
    path: Path
    root: str  # "project", "stdlib" or "backend"
    imports: tuple[tuple[str, Span], ...]  # (module name, import span)
    defines: Sequence[str]  # "kind:name" of every definition in it (``cache.Defines``)
    digest: str
    #: the real path of its root: what the files it names (sources, headers)
    #: must stay inside, as its imports must
    root_path: Path | None = None


class LoadedModule:
    """A loaded module: its facts now, its syntax tree when someone asks."""

    __slots__ = ("info", "parsed")

    def __init__(self, info: ModuleInfo, parsed: Parsed) -> None:
        self.info = info
        self.parsed = parsed

    @property
    def tree(self) -> S.Module:
        return self.parsed.tree


class ParseCache(Protocol):
    def get(self, path: Path, digest: str, name: str) -> Parsed | None: ...
    def put(self, path: Path, digest: str, name: str, module: S.Module) -> Parsed: ...


@attrs.frozen
class Root:
    kind: str  # "project", "stdlib", "backend"
    path: Path  # real path
    label: str  # prefix for display names of modules below it
    #: where dotted imports look (None: ``path``): the spec's folder, below a project root
    search: Path | None = None


#: The marker file of a project root: imports and sources may reach any file below
#: the nearest folder above the spec that holds one (its contents are not read yet).
PROJECT_MARKER = "unilang.toml"


#: The longest file name (one path component) Linux file systems accept, in bytes.
NAME_MAX = 255


def _name_too_long(parts: list[str]) -> str | None:
    """Why a path made of ``parts`` cannot name a file (a part over NAME_MAX), or None."""
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            return (f"a file name in it is {size} bytes long, and file names are limited "
                    f"to {NAME_MAX} bytes")
    return None


def _short(text: str, limit: int = 60) -> str:
    """``text`` for a message: at most about ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit - 20]}...{text[-12:]}"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


class Loader:
    def __init__(self, spec: Path, backend: str, sink: Sink, cache: ParseCache,
                 files: dict[str, Path] | None = None,
                 reads: dict[str, str | None] | None = None) -> None:
        self.spec = spec
        self.files = files if files is not None else {}
        # every file read (path -> sha256 of its bytes) and every place an
        # import looked in vain (path -> None): what a build's stamp depends on
        self.reads = reads if reads is not None else {}
        self.backend = backend
        self.sink = sink
        self.cache = cache
        spec_dir = Path(os.path.realpath(spec.parent if spec.parent != Path("") else Path(".")))
        project = self._project_root(spec_dir)
        self.roots = {
            "project": Root("project", project, "", spec_dir if project != spec_dir else None),
            "stdlib": Root("stdlib", Path(os.path.realpath(paths.stdlib_dir())), "stdlib/"),
            "backend": Root("backend", Path(os.path.realpath(paths.backend_dir(backend))),
                            f"backends/{backend}/"),
        }
        self.order = {
            "project": ("project", "stdlib", "backend"),
            "stdlib": ("stdlib", "backend"),
            "backend": ("backend", "stdlib"),
        }
        # Memos for worlds of many modules (each name and each dotted import
        # is looked up once per load, not once per mention): per loader, so
        # nothing outlives one load.
        self._spec_real = Path(os.path.realpath(spec))
        self._names: dict[tuple[Path, str], str] = {}
        self._found: dict[tuple[str, str], tuple[Path, Root]] = {}

    def _project_root(self, spec_dir: Path) -> Path:
        """The folder of the nearest ``unilang.toml`` at or above ``spec_dir``, or
        ``spec_dir``; each place looked at is recorded, so adding a marker is seen."""
        from .fresh import sha_fact

        for d in (spec_dir, *spec_dir.parents):
            marker = d / PROJECT_MARKER
            if os.path.isfile(marker):
                self.reads[str(marker)] = sha_fact(str(marker))  # type: ignore[assignment]
                return d
            self.reads.setdefault(str(marker), None)
        return spec_dir

    def module_name(self, real: Path, root: Root) -> str:
        key = (real, root.kind)
        name = self._names.get(key)
        if name is None:
            if root.kind == "project":
                name = display_name(real) if real != self._spec_real else str(self.spec)
            else:
                name = root.label + real.relative_to(root.path).as_posix()
            self._names[key] = name
        return name

    def root_of(self, real: Path) -> Root:
        for kind in ("backend", "stdlib", "project"):
            root = self.roots[kind]
            if _inside(real, root.path):
                return root
        return self.roots["project"]

    def find(self, imp: S.Import, importer: Path, importer_root: Root) -> tuple[Path, Root] | Diagnostic:
        too_long = _name_too_long(imp.target.split("/") if imp.is_path else
                                  imp.target.split(".")[:-1] + [imp.target.split(".")[-1] + ".uni"])
        if too_long is not None:
            return error("U0020", f"cannot find module `{_short(imp.target)}`: {too_long}", imp.span)
        try:
            return self._find(imp, importer, importer_root)
        except OSError as exc:  # e.g. a path too long for the file system
            return error("U0020", f"cannot find module `{_short(imp.target)}`: "
                         f"{exc.strerror or exc}", imp.span)

    def _find(self, imp: S.Import, importer: Path, importer_root: Root) -> tuple[Path, Root] | Diagnostic:
        if imp.is_path:
            rel = Path(imp.target)
            if rel.is_absolute() or imp.target.startswith("~"):
                return error("U0021", f"import `{imp.target}` is an absolute path", imp.span,
                             help="import paths are relative to the importing file")
            candidate = Path(os.path.realpath(importer.parent / rel))
            if not _inside(candidate, importer_root.path):
                return error("U0021", f"import `{imp.target}` resolves outside the "
                             f"{importer_root.kind} root", imp.span,
                             notes=(f"imports may only name files below {self._root_desc(importer_root)}",))
            if not candidate.exists():  # a directory or unreadable file: U0001 from read()
                return error("U0020", f"cannot find module `{imp.target}`", imp.span,
                             notes=(f"looked for {display_name(candidate)}",))
            return candidate, importer_root
        key = (imp.target, importer_root.kind)
        found = self._found.get(key)
        if found is not None:  # the same search, with the same outcome
            return found
        rel_path = Path(*imp.target.split(".")).with_suffix(".uni")
        looked: list[str] = []
        for kind in self.order[importer_root.kind]:
            root = self.roots[kind]
            candidate = (root.search or root.path) / rel_path
            looked.append(self._root_desc(root, search=True) + "/" + rel_path.as_posix())
            if candidate.exists() and not candidate.is_dir():  # a FIFO: U0001 from read()
                real = Path(os.path.realpath(candidate))
                if not _inside(real, root.path):
                    return error("U0021", f"import `{imp.target}` resolves outside the "
                                 f"{root.kind} root", imp.span,
                                 notes=(f"{display_name(candidate)} is a link to {real}",))
                self._found[key] = (real, root)
                return real, root
            self.reads.setdefault(str(candidate), None)
        guess = self._near_module(imp.target, rel_path, importer_root)
        return error("U0020", f"cannot find module `{imp.target}`", imp.span,
                     notes=("looked in: " + ", ".join(looked),),
                     help=(f"did you mean `{guess}`?" if guess else
                           f"create {rel_path.as_posix()} next to the spec, or check the spelling"))

    def _near_module(self, target: str, rel_path: Path, importer_root: Root) -> str | None:
        """The dotted name of an existing module close to ``target`` (``lib.sensor`` for
        ``lib.sensors``), looked for in the folders the import searched."""
        from .diagnostics import did_you_mean
        from .fresh import dir_fact

        prefix = target.rsplit(".", 1)[0] + "." if "." in target else ""
        names: list[str] = []
        for kind in self.order[importer_root.kind]:
            root = self.roots[kind]
            folder = (root.search or root.path) / rel_path.parent
            try:
                found = sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".uni"))
            except OSError:
                continue
            self.reads[str(folder)] = dir_fact(str(folder))  # type: ignore[assignment]
            names += [prefix + n for n in found]
        return did_you_mean(target, names)

    def _root_desc(self, root: Root, search: bool = False) -> str:
        if root.kind == "project":
            if root.search is not None and not search:
                return f"the project root {display_name(root.path)} (where {PROJECT_MARKER} is)"
            return "the spec's directory"
        return root.label.rstrip("/")

    def read(self, real: Path, root: Root, span: Span | None) -> LoadedModule | None:
        name = self.module_name(real, root)
        self.files[name] = real
        src = read_source(real, name, span)
        if isinstance(src, Diagnostic):
            self.sink.add(src)
            return None
        self.reads[str(real)] = src.digest
        parsed = self.cache.get(real, src.digest, name)
        if parsed is None:
            from .front import parse  # only on a cache miss

            tree, errs = parse(src, lazy=True)
            self.sink.extend(errs)
            if tree is None:
                return None
            parsed = self.cache.put(real, src.digest, name, tree) if not errs else Parsed.of(tree)
        info = ModuleInfo(name, real, root.kind, (), parsed.defines, src.digest, root.path)
        return LoadedModule(info, parsed)

    def load(self, include_spec: bool = True) -> list[LoadedModule]:
        """Every module reachable from the spec and the preludes, in a stable order.

        Without ``include_spec``, only the preludes and what they import."""
        loaded: dict[Path, LoadedModule] = {}
        order: list[Path] = []
        # edges for cycle detection: importer -> [(imported, span)]
        edges: dict[Path, list[tuple[Path, Span]]] = {}

        spec_real = self._spec_real
        spec_root = self.roots["project"]
        starts: list[tuple[Path, Root, Span | None]] = (
            [(spec_real, spec_root, None)] if include_spec else [])
        for real, root in ((self.roots["stdlib"].path / "prelude.uni", self.roots["stdlib"]),
                           (self.roots["backend"].path / "backend.uni", self.roots["backend"])):
            if real.is_file():
                starts.append((real, root, None))
        #: library folder modules -> the library each must declare
        folder_of: dict[Path, str] = {}
        from .fresh import dir_fact

        for kind in ("stdlib", "backend"):
            root = self.roots[kind]
            # a library folder added or removed changes what is loaded: a fact
            lib_dir = str(root.path / libfolders.LIB)
            self.reads[lib_dir] = dir_fact(lib_dir)
            for folder in libfolders.folders(root.path):
                found = self._library_module(folder, root)
                if found is not None:
                    folder_of[found] = folder.name
                    starts.append((found, root, None))

        queue = list(starts)
        i = 0
        while i < len(queue):
            real, root, span = queue[i]
            i += 1
            if real in loaded:
                continue
            mod = self.read(real, root, span)
            if mod is None:
                if real == spec_real and include_spec:
                    return []
                continue
            order.append(real)
            if real in folder_of:
                self._check_library_module(mod, folder_of[real])
            edges[real] = []
            resolved: list[tuple[str, Span]] = []
            for decl in mod.parsed.imports:
                found = self.find(decl, real, root)
                if isinstance(found, Diagnostic):
                    self.sink.add(found)
                    continue
                target, troot = found
                edges[real].append((target, decl.span))
                resolved.append((self.module_name(target, troot), decl.span))
                queue.append((target, troot, decl.span))
            loaded[real] = LoadedModule(attrs.evolve(mod.info, imports=tuple(resolved)), mod.parsed)

        self._report_cycles(edges, loaded)
        return [loaded[p] for p in order]

    def _library_module(self, folder: Path, root: Root) -> Path | None:
        """The real path of a library folder's ``<name>.uni``, or None (and U0047)."""
        module = libfolders.module_of(folder)
        shown = f"{root.label}{libfolders.LIB}/{folder.name}"
        if not module.is_file():
            self.reads.setdefault(str(module), None)
            self.sink.add(error("U0047", f"library folder `{shown}` has no `{module.name}`",
                                notes=("a library folder holds `<name>.uni`, which declares "
                                       "`library <name>`, beside src/, include/ and exports",),
                                help=f"add {shown}/{module.name}, or remove the folder"))
            return None
        real = Path(os.path.realpath(module))
        if not _inside(real, root.path):
            self.sink.add(error("U0021", f"`{shown}/{module.name}` resolves outside the "
                                f"{root.kind} root",
                                notes=(f"{display_name(module)} is a link to {real}",)))
            return None
        return real

    def _check_library_module(self, mod: LoadedModule, name: str) -> None:
        """A library folder's module declares the library it is named after, and no other."""
        libs = [d.split(":", 1)[1] for d in mod.info.defines if d.startswith("library:")]
        span = Span(mod.info.name, 1, 1, 1, 1)
        if name not in libs:
            self.sink.add(error("U0047", f"`{mod.info.name}` does not declare `library {name}`",
                                span, notes=(f"its folder is named `{name}`"
                                             + (f"; it declares {', '.join(f'`{l}`' for l in libs)}"
                                                if libs else ""),),
                                help="name the folder after the library it holds"))
        for other in libs:
            if other != name:
                self.sink.add(error("U0047", f"`{mod.info.name}` declares `library {other}`, "
                                    f"but its folder is `{name}`", span,
                                    help=f"give `{other}` a folder of its own: "
                                         f"lib/{other}/{other}.uni"))

    def _report_cycles(self, edges: dict[Path, list[tuple[Path, Span]]],
                       loaded: dict[Path, LoadedModule]) -> None:
        from .graphs import cycles

        spans = {(src, dst): span for src, outs in edges.items() for dst, span in outs
                 if dst in edges}
        load_order = {p: i for i, p in enumerate(loaded)}
        # each cycle walked from its first module in load order
        for cycle in cycles(edges, spans, start=lambda c: min(c, key=load_order.__getitem__),
                            order=lambda c: str(min(c))):
            names = [loaded[a].info.name for a, _b in cycle] + [loaded[cycle[0][0]].info.name]
            labels = [Label(spans[a, b], f"`{loaded[a].info.name}` imports "
                            f"`{loaded[b].info.name}`") for a, b in cycle]
            first = labels[0]
            self.sink.add(error("U0022", "import cycle: " + " -> ".join(names), first.span,
                                labels=labels[1:],
                                help="move the shared declarations into a module both can import"))


def load_modules(spec: Path, backend: str, sink: Sink, cache: ParseCache,
                 files: dict[str, Path] | None = None,
                 include_spec: bool = True,
                 reads: dict[str, str | None] | None = None) -> list[LoadedModule]:
    return Loader(spec, backend, sink, cache, files, reads).load(include_spec)
