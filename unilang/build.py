"""`unilang build`: a checked spec -> a sealed image and its configurations.

Layout, for an output directory ``OUT`` (default ``build/<app>/<backend>/``):

* ``.OUT.work/`` beside it is the build's private work tree: copies of
  exactly the selected libraries' sources and the app's, the generated C,
  ``image.lds``, ``build.ninja`` and ``toolchain.id``, objects and the
  linked image.  ninja runs there, so rebuilds are incremental.  Everything
  in it is referred to by relative path, which is why two checkouts at
  different paths produce the same bytes.
* ``OUT`` holds the deliverables.  Who owns it, the lock that serialises
  builds of one output and the crash-safe publish are ``unilang.outdir``'s:
  a failed build leaves the previous outputs untouched and a no-op build
  rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import attrs

from . import libfolders, paths
from .diagnostics import Sink, error
from .driver import Session, check_spec
from .emit.escape import Unrepresentable
from .fsutil import atomic_write, read_regular
from .outdir import OutputDir, OutputRefused
from .fresh import Stamp, build_key, dir_fact, fresh_build

if TYPE_CHECKING:
    from .backend import Backend
    from .resolve import Resolution

CFLAGS = [
    "-std=c11", "-O2", "-ffreestanding", "-fno-pic", "-fno-pie", "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-mno-red-zone",
    "-mgeneral-regs-only", "-mcmodel=small", "-ffunction-sections", "-fdata-sections",
    "-fno-common", "-Wall", "-Wextra", "-nostdinc",
]
# -n (nmagic): segments stay page aligned in memory (the linker script aligns
# them) but are packed in the file instead of padded to page-aligned offsets;
# PVH loaders copy p_filesz bytes from p_offset to p_paddr and never mmap.
LDFLAGS = [
    "-nostdlib", "-static", "-no-pie", "-n", "--gc-sections", "-z", "noexecstack",
    "-z", "max-page-size=4096", "--build-id=none", "--orphan-handling=error",
]


@attrs.frozen
class BuildResult:
    outdir: Path
    image: Path
    manifest: dict[str, object]
    changed: bool


def _write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write(path, data, mode, durable=False)
    return True


def find_tools(sink: Sink) -> dict[str, str] | None:
    """gcc (or the compiler ``CC`` names), ld and ninja by resolved path; the
    wrapper programs ``CC`` puts before the compiler, if any, under
    ``"wrapper"`` (NUL-separated: ``Toolchain.wrapper`` splits them)."""
    from .ccenv import CCProblem, compiler

    tools = {}
    missing = []
    try:
        cc = compiler()
    except CCProblem as exc:
        sink.add(error("U0228", exc.message, help=exc.help))
        return None
    if cc is not None:
        tools["gcc"] = cc.compiler
        if cc.wrapper:
            tools["wrapper"] = "\0".join(cc.wrapper)
    for tool in ("gcc", "ld"):
        if tool in tools:
            continue
        found = shutil.which(tool)
        if found is None:
            missing.append(tool)
        else:
            tools[tool] = os.path.realpath(found)
    ninja = None
    try:
        from ninja import BIN_DIR  # the PyPI package

        candidate = Path(BIN_DIR) / "ninja"
        if candidate.is_file():
            ninja = str(candidate)
    except ImportError:
        pass
    ninja = ninja or shutil.which("ninja")
    if ninja is None:
        missing.append("ninja")
    else:
        tools["ninja"] = os.path.realpath(ninja)
    if missing:
        sink.add(error("U0200", f"the build needs {', '.join(missing)}, which "
                       f"{'is' if len(missing) == 1 else 'are'} not installed",
                       help="Debian: `apt-get install gcc binutils`; ninja comes with "
                            "`pip install ninja`"))
        return None
    return tools


def _ask(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False,
                          stdin=subprocess.DEVNULL)
    return proc.stdout.strip()


@attrs.frozen
class Toolchain:
    """The tools a build runs, by resolved path, and what identifies them."""

    tools: dict[str, str]   # gcc, ld, ninja -> resolved path (and "wrapper", see find_tools)
    include: str            # gcc's own freestanding headers
    programs: list[str]     # every binary whose change must rebuild: gcc, cc1, as, ld, ninja
    identity: bytes         # toolchain.id: versions and (path, size, mtime) of each program

    @property
    def wrapper(self) -> tuple[str, ...]:
        """The programs ``CC`` puts in front of the compiler (ccache, distcc)."""
        w = self.tools.get("wrapper")
        return tuple(w.split("\0")) if w else ()

    @property
    def cc_words(self) -> list[str]:
        """The compiler's command words in build.ninja: the wrappers, then gcc."""
        return [*self.wrapper, self.tools["gcc"]]

    @classmethod
    def probe(cls, tools: dict[str, str]) -> Toolchain:
        from .fresh import file_identity

        gcc = tools["gcc"]
        programs = [gcc]
        for prog in ("cc1", "as"):
            found = _ask([gcc, f"-print-prog-name={prog}"])
            if not os.path.isabs(found):
                found = shutil.which(found or prog) or ""
            if found:
                programs.append(os.path.realpath(found))
        programs += [tools["ld"], tools["ninja"]]
        doc: dict[str, object] = {
            "gcc --version": _ask([gcc, "--version"]).splitlines()[:1],
            "ld --version": _ask([tools["ld"], "--version"]).splitlines()[:1],
            "programs": [file_identity(p) for p in programs]}
        wrapper = tools.get("wrapper")
        if wrapper:  # a new wrapper (or another one) is a new toolchain too
            doc["wrapper"] = [file_identity(p) for p in wrapper.split("\0")]
            programs += wrapper.split("\0")
        return cls(tools, _ask([gcc, "-print-file-name=include"]), programs,
                   (json.dumps(doc, indent=1) + "\n").encode())


#: The files every build writes beside the image and the backend's configurations.
FIXED_NAMES = ("manifest.json", "image.lds", "build.ninja", "unilang_init.c", "unilang_params.h")


class Builder:
    def __init__(self, res: Resolution, platform: Backend, spec: Path, out: OutputDir,
                 sink: Sink, toolchain: Toolchain, log: IO[str]) -> None:
        self.res = res
        self.platform = platform
        self.spec = spec
        self.out = out
        self.outdir = out.shown
        self.work = out.work
        self.sink = sink
        self.toolchain = toolchain
        self.tools = toolchain.tools
        self.log = log
        self.image_name = f"{res.app.name}.elf"
        # the same link with its symbol table: the image itself ships stripped
        self.debug_name = f"{res.app.name}.debug.elf"
        self.stamp_key: str | None = None
        self.lock_fd: int | None = None
        self.jobs: int | None = None  # ninja's -j; None: ninja's default
        # path -> fact about what this build read: sha256 of the bytes, None (must stay
        # absent) or a folder listing (see unilang.fresh)
        self.inputs: dict[str, object] = {}
        # work-tree path -> sha256, for the manifest: what the image was built from
        self.sources: dict[str, str] = {}
        # sealed path -> sha256, size and content type, for the manifest's `files`
        self.sealed_manifest: dict[str, dict[str, object]] = {}

    def fail(self, code: str, message: str, **kw: object) -> None:
        d = error(code, message, **kw)  # type: ignore[arg-type]
        self.sink.add(d)

    # ------------------------------------------------------------ work tree
    def populate(self) -> list[tuple[str, str, tuple[str, ...]]] | None:
        """Copy sources, write generated files; return (object, source) pairs."""
        res = self.res
        # (object, source, the -I flags of the public headers that source may see)
        objects: list[tuple[str, str, tuple[str, ...]]] = []
        copies: dict[str, Path] = {}

        def add_tree(prefix: str, directory: Path, files: list[str]) -> None:
            for rel in files:
                copies[f"{prefix}/{rel}"] = directory / rel
            # headers beside each source, so `#include "x.h"` keeps working
            for d in sorted({(directory / rel).parent for rel in files}):
                for h in sorted(d.glob("*.h")):
                    copies[f"{prefix}/{h.relative_to(directory).as_posix()}"] = h

        # include/: the core headers every source sees (stdlib's, the backend's);
        # libinc/<library>/: a selected library's public headers, seen only by the
        # app, the generated C, the library itself and the libraries that depend on
        # it (directly or not), each through its own -I (see `incflags` below)
        published: dict[str, str] = {}
        includes = [("stdlib/include", "include", paths.stdlib_dir() / libfolders.INCLUDE),
                    (f"backends/{res.backend}/include", "include",
                     self.platform.directory / libfolders.INCLUDE)]
        public: dict[str, str] = {}  # library -> its libinc folder in the work tree
        for name in res.order:
            lib = res.selected[name].library
            inc = libfolders.include_dir(lib.directory, lib.name)
            if inc is not None:
                public[name] = f"libinc/{lib.c_name}"
                includes.append((f"library `{lib.name}`", public[name], inc))
        for owner, top, inc in includes:
            for h in libfolders.headers(inc) if inc.is_dir() else []:
                name = h.relative_to(inc).as_posix()
                if name in published:
                    self.fail("U0047", f"{owner} and {published[name]} both publish the header "
                              f"`{name}`",
                              help="rename one of the headers, or keep the two libraries "
                                   "from being selected together (`conflicts`)")
                    return None
                published[name] = owner
                copies[f"{top}/{name}"] = h
        reach = _dependencies(res)
        everything = [f for n in res.order if (f := public.get(n))]

        def incflags(lib: str | None) -> tuple[str, ...]:
            seen = everything if lib is None else [
                public[n] for n in res.order if n in public and (n == lib or n in reach[lib])]
            return tuple(f"-I{d}" for d in seen)
        for name in res.order:
            lib = res.selected[name].library
            add_tree(f"src/lib/{lib.c_name}", lib.directory, [s.path for s in lib.sources])
            for s in lib.sources:
                objects.append((f"obj/lib/{lib.c_name}/{s.path}.o",
                                f"src/lib/{lib.c_name}/{s.path}", incflags(name)))
        add_tree("src/app", res.app.directory, [s.path for s in res.app.sources])
        # include folders (`includes`): their headers are copied, each folder is a -I;
        # the folder's listing is an input, so a header added to it is seen
        include_flags: list[str] = []
        owners = [(f"src/lib/{res.selected[n].library.c_name}", res.selected[n].library)
                  for n in res.order] + [("src/app", res.app)]
        for prefix, owner in owners:
            for inc in owner.includes:
                for h in sorted(inc.file.glob("*.h")):
                    copies[f"{prefix}/{h.relative_to(owner.directory).as_posix()}"] = h
                include_flags += ["-I", f"{prefix}/{inc.path}"]
                self.inputs[str(inc.file)] = dir_fact(str(inc.file))
        for s in res.app.sources:
            objects.append((f"obj/app/{s.path}.o", f"src/app/{s.path}", incflags(None)))
        objects.append(("obj/gen/unilang_init.c.o", "gen/unilang_init.c", incflags(None)))

        sealed = self.seal(res.app)
        if sealed is None:
            return None
        if res.app.files_span is not None:
            objects.append(("obj/gen/unilang_files.S.o", "gen/unilang_files.S", ()))

        templates = [p for d in self.platform.template_search() for p in sorted(d.glob("*.j2"))]
        # hashed before they are used: an edit after this point is seen next time
        for p in templates:
            self.inputs[str(p)] = _sha_path(p)
        for rel, src in sorted(copies.items()):
            try:
                data = read_regular(src)
            except OSError as exc:
                self.fail("U0201", f"cannot read source `{src}`: {exc.strerror or exc}")
                return None
            digest = _sha(data)
            self.inputs[str(src)] = digest
            self.sources[rel] = digest
            _write_if_changed(self.work / rel, data)
        self._remove_stale_copies(set(copies))

        from .emit import cgen, symtab
        from .emit.templates import render

        init_order = [res.selected[n].library.c_name for n in res.order
                      if res.selected[n].library.init is not None]
        search = self.platform.template_search()
        cflags = CFLAGS + ["-isystem", self.toolchain.include, "-I", "include", "-I", "gen",
                           *include_flags, "-include", "unilang_params.h"]
        generated = {
            "gen/unilang_params.h": cgen.params_header(res).encode(),
            "gen/unilang_init.c": cgen.init_source(res).encode(),
            "image.lds": render(search, "image.lds.j2", app=res.app.name, backend=res.backend,
                                init_order=init_order,
                                sealed=res.app.files_span is not None).encode(),
            "build.ninja": render(search, "build.ninja.j2", app=res.app.name,
                                  backend=res.backend, cc=self.toolchain.cc_words, ld=self.tools["ld"],
                                  cflags=cflags, ldflags=LDFLAGS, objects=objects,
                                  image=self.image_name, debug_image=self.debug_name,
                                  pass1=symtab.PASS1, symtab_src=symtab.SOURCE,
                                  symtab_obj=symtab.OBJECT).encode(),
        }
        if res.app.files_span is not None:
            generated["gen/unilang_files.S"] = self.files_source(sealed).encode()
        for rel, data in generated.items():
            _write_if_changed(self.work / rel, data)
        _write_if_changed(self.work / "toolchain.id", self.toolchain.identity)
        self.generated = generated
        self.cflags = cflags          # for a set's one ninja graph (unilang.multibuild)
        self.copied = sorted(copies)
        return objects

    def seal(self, app: object) -> list[dict[str, object]] | None:
        """Copy the app's sealed files (``files``) into the work tree's sealed/
        folder, recording each one's sha256 as an input and each folder's walk
        (``unilang.sealed.tree_fact``), so an edit, an addition or a removal
        rebuilds.  The rows for gen/unilang_files.S, in path order; None (and
        U0211) when a file changed since check saw it."""
        from . import model as M
        from .sealed import MAX_FILE_SIZE, tree_fact

        assert isinstance(app, M.App)
        root = str(app.files_root) if app.files_root is not None else None
        rows: list[dict[str, object]] = []
        for folder in app.files:
            # recorded before the files are read: a change after this point is seen next time
            self.inputs[os.path.join(str(folder.file), "")] = tree_fact(
                str(folder.file), root)
        for f in app.sealed:
            try:
                data = read_regular(f.file, MAX_FILE_SIZE)
            except OSError as exc:
                self.fail("U0211", f"cannot read sealed file `{f.folder.path}/{f.path}`: "
                          f"{exc.strerror or exc}", span=f.folder.span,
                          help="it changed while unilang ran; run the build again")
                return None
            if len(data) != f.size:
                self.fail("U0211", f"sealed file `{f.folder.path}/{f.path}` changed during the "
                          f"build: it was {f.size} bytes when checked and is {len(data)} now",
                          span=f.folder.span, help="run the build again")
                return None
            digest = _sha(data)
            self.inputs[str(f.file)] = digest
            copy = f"sealed/{f.path}"
            _write_if_changed(self.work / copy, data)
            rows.append({"path": f.path, "copy": copy, "size": f.size, "sha256": digest,
                         "type": f.type})
            self.sealed_manifest[f.path] = {"sha256": digest, "size": f.size, "type": f.type}
        self._remove_stale(("sealed",), {str(r["copy"]) for r in rows})
        return rows

    def files_source(self, rows: list[dict[str, object]]) -> str:
        """gen/unilang_files.S: the sealed files' table and bytes (a template)."""
        from .emit.templates import render

        types = sorted({str(r["type"]) for r in rows})
        files = [{"path": str(r["path"]), "bin": str(r["copy"]), "sha256": str(r["sha256"]),
                  "size": r["size"], "path_len": len(str(r["path"]).encode()),
                  "type_index": types.index(str(r["type"])),
                  "type_len": len(str(r["type"]).encode())} for r in rows]
        return render(self.platform.template_search(), "unilang_files.S.j2",
                      app=self.res.app.name, files=files, types=types)

    def _remove_stale_copies(self, wanted: set[str]) -> None:
        """Delete copies in the work tree whose original is gone, so a deleted
        header can never be compiled from a stale copy."""
        self._remove_stale(("src", "include", "libinc"), wanted)

    def _remove_stale(self, tops: tuple[str, ...], wanted: set[str]) -> None:
        for top in tops:
            base = self.work / top
            for dirpath, _dirs, names in os.walk(base):
                for n in names:
                    rel = (Path(dirpath) / n).relative_to(self.work).as_posix()
                    if rel not in wanted:
                        os.unlink(Path(dirpath) / n)

    def ninja(self) -> bool:
        """Build the image in two passes: the first link, the fault report's
        symbol table from it (``unilang.emit.symtab``), then the image."""
        from .emit import symtab

        if not self._ninja([symtab.PASS1]):
            return False
        self.write_symtab()
        return self._ninja([]) and self.check_symtab()

    def write_symtab(self) -> None:
        """gen/unilang_symtab.S from the first link (``unilang.emit.symtab``)."""
        from .emit import symtab

        pass1 = (self.work / symtab.PASS1).read_bytes()
        _write_if_changed(self.work / symtab.SOURCE, symtab.source(pass1).encode())

    def check_symtab(self) -> bool:
        """Whether the final link's functions are where the table says (U0202 if not)."""
        from .emit import symtab

        pass1 = (self.work / symtab.PASS1).read_bytes()
        moved = symtab.mismatch(pass1, (self.work / self.debug_name).read_bytes())
        if moved is not None:
            self.fail("U0202", f"the {self.res.backend} image of `{self.res.app.name}` failed "
                      "verification", notes=(moved,),
                      help="the symbol table of the fault report would name the wrong "
                           "functions; no image was written to the output directory")
            return False
        return True

    def _ninja(self, targets: list[str]) -> bool:
        """Run ninja in the work tree, streaming its progress lines as they come."""
        cmd = [self.tools["ninja"], "-C", str(self.work), *targets]
        if self.jobs is not None:
            cmd += ["-j", str(self.jobs)]
        env = dict(os.environ, NINJA_STATUS="[%f/%t] ")
        lines: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", env=env, stdin=subprocess.DEVNULL,
                              pass_fds=() if self.lock_fd is None else (self.lock_fd,)) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                if not line or line.startswith("ninja: Entering") or line == "ninja: no work to do.":
                    continue
                lines.append(line)
                self.log.write(line + "\n")
                self.log.flush()
        if proc.returncode != 0:
            tail = [l for l in lines if not l.startswith("[")][-30:]
            self.fail("U0201", f"building the {self.res.backend} image of "
                      f"`{self.res.app.name}` failed",
                      notes=tuple(tail) or ("ninja exited with status "
                                            f"{proc.returncode}",),
                      help="the compiler's messages are above; earlier outputs are untouched")
            return False
        return True

    # ------------------------------------------------------------ outputs
    def manifest(self, image: bytes, facts: object, size_limit: tuple[str, int] | None) -> dict[str, object]:
        from .report import resolution_json

        from .emit.note import document

        r = resolution_json(self.res)
        note = document(self.res)
        policies: list[object] = list(r["policies"])  # type: ignore[call-overload]
        if size_limit is not None:
            policies.append({"name": size_limit[0], "ok": True,
                             "findings": [f"image size {len(image)} <= max_image_size "
                                          f"{size_limit[1]}"]})
        return {
            "app": self.res.app.name,
            "backend": self.res.backend,
            "image": self.image_name,
            "sha256": hashlib.sha256(image).hexdigest(),
            "size": len(image),
            "memory": self.res.app.memory,
            "vcpus": self.res.app.vcpus,
            "cmdline": self.res.app.cmdline,
            "libraries": r["libraries"],
            "pruned": r["pruned"],
            "policies": policies,
            "sources": dict(sorted(self.sources.items())),
            **({"files": self.sealed_manifest} if self.res.app.files_span is not None else {}),
            # as the image's note says them (unilang.emit.note; `unilang inspect` compares)
            "rules": note["rules"],
            "protections": note["protections"],
        }

    def refuse(self, exc: OutputRefused) -> None:
        self.fail("U0206", exc.message, notes=exc.notes, help=exc.help or None)

    def run(self, program: object) -> BuildResult | None:
        """Check the output directory, then build and publish under its lock."""
        maybe = self.maybe_names()
        try:
            self.out.check_target(self.spec, maybe)  # refuse before creating anything
        except OutputRefused as exc:
            self.refuse(exc)
            return None
        try:
            with self.out.lock(self.log) as self.lock_fd:
                self.out.recover()
                return self.build_locked(program, maybe)
        except OutputRefused as exc:
            self.refuse(exc)
        except OSError as exc:
            self.fail("U0204", f"cannot write `{self.outdir}` or its work tree: "
                      f"{exc.strerror or exc}" + (f" (`{exc.filename}`)" if exc.filename else ""))
        return None

    def maybe_names(self) -> list[str]:
        """Every name a build of this output may write."""
        return [self.image_name, self.debug_name, *FIXED_NAMES, *self.platform.emits]

    def build_locked(self, program: object, maybe: list[str]) -> BuildResult | None:
        objects = self.prepare(maybe)
        if objects is None or not self.ninja():
            return None
        return self.finish(program)

    def prepare(self, maybe: list[str]) -> list[tuple[str, str, tuple[str, ...]]] | None:
        """Under the lock: check the output again and fill the work tree."""
        self.out.check_target(self.spec, maybe)  # again, now that no one else builds here
        try:
            return self.populate()
        except Unrepresentable as exc:
            self.fail("U0204", f"a value cannot be written safely: {exc}")
            return None

    def finish(self, program: object) -> BuildResult | None:
        """Under the lock, once ninja has linked the image: verify, publish, stamp."""
        from .elfcheck import memory_shortfall, verify
        from .policy import max_image_size

        image = (self.work / self.image_name).read_bytes()
        limit = max_image_size(program)  # type: ignore[arg-type]
        facts, problems = verify(image, limit[1].value if limit else None)
        if problems and self.sealed_manifest:
            sealed = sum(int(f["size"]) for f in self.sealed_manifest.values())  # type: ignore[call-overload]
            problems = [*problems, f"{sealed} bytes of the image are its {len(self.sealed_manifest)} "
                        "sealed files (`files`)"]
        if problems:
            self.fail("U0202", f"the {self.res.backend} image of `{self.res.app.name}` failed "
                      "verification", notes=tuple(problems),
                      labels=(),
                      help="no image was written to the output directory")
            return None
        short = memory_shortfall(facts, self.res.app) if facts is not None else None
        if short is not None:  # U0208: the image does not fit the app's memory
            self.sink.add(short)
            return None
        from .emit.configs import render_configs

        try:
            configs = render_configs(self.res, self.platform, self.image_name)
        except Unrepresentable as exc:
            self.fail("U0204", f"a value cannot be written safely: {exc}")
            return None
        manifest = self.manifest(image, facts, (limit[0], limit[1].value) if limit else None)
        files: dict[str, tuple[bytes, int]] = {
            self.image_name: (image, 0o755),
            self.debug_name: ((self.work / self.debug_name).read_bytes(), 0o644),
            "manifest.json": ((json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
                              0o644),
            "image.lds": (self.generated["image.lds"], 0o644),
            "build.ninja": (self.generated["build.ninja"], 0o644),
            "unilang_init.c": (self.generated["gen/unilang_init.c"], 0o644),
            "unilang_params.h": (self.generated["gen/unilang_params.h"], 0o644),
        }
        for name, data in configs.items():
            files[name] = (data, 0o755 if name.endswith(".sh") else 0o644)
        keep = self.out.check_target(self.spec, list(files))
        changed = self.out.publish(files, keep)
        if self.stamp_key is not None and not self.sink.items:
            Stamp(self.work).write(self.stamp_key, self.inputs, self.toolchain.programs,
                                   {n: (_sha(d), m) for n, (d, m) in files.items()},
                                   str(self.outdir / self.image_name))
        return BuildResult(self.outdir, self.outdir / self.image_name, manifest, changed)


def default_outdir(app: str, backend: str) -> Path:
    return Path("build") / app / backend


def _dependencies(res: "Resolution") -> dict[str, set[str]]:
    """library -> every library it depends on, directly or through others."""
    direct: dict[str, set[str]] = {n: set() for n in res.order}
    for e in res.edges:
        if e.src in direct:
            direct[e.src].add(e.dst)
    reach: dict[str, set[str]] = {}
    for n in res.order:  # dependencies come first
        reach[n] = set(direct[n]).union(*(reach.get(d, set()) for d in direct[n]))
    return reach


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha_path(path: Path) -> str | None:
    try:
        return _sha(read_regular(path))
    except OSError:
        return None


def build(spec: Path, backend: str, outdir: Path | None = None,
          log: IO[str] | None = None, jobs: int | None = None) -> tuple[Session, BuildResult | None]:
    session = Session()
    key = build_key(str(spec), backend, str(outdir) if outdir is not None else None)
    found = fresh_build(key, backend, str(outdir) if outdir is not None else None) \
        if key is not None else None
    if found is not None:
        image, manifest = found
        return session, BuildResult(Path(image).parent, Path(image), manifest, False)
    session, results = check_spec(spec, [backend], session)
    r = results[0]
    if session.sink.has_errors or r.resolution is None or r.program is None:
        return session, None
    res = r.resolution
    tools = find_tools(session.sink)
    if tools is None:
        return session, None
    from .backend import load as load_backend

    out = OutputDir(outdir if outdir is not None else default_outdir(res.app.name, backend))
    builder = Builder(res, load_backend(backend), spec, out, session.sink, Toolchain.probe(tools),
                      log or sys.stderr)
    builder.stamp_key = key
    builder.jobs = jobs
    builder.inputs.update(session.reads)
    return session, builder.run(r.program)
