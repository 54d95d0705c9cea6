"""`unilang build A.uni B.uni ... -b kvm,xen`: many outputs through one ninja graph.

Every (spec, backend) pair is one *output*, built exactly as `unilang build
SPEC -b BACKEND` would build it (``unilang.build.Builder``: the same work
tree, lock, checks, verification, crash-safe publish and stamp), except that
the compile and link steps of all outputs run in **one** ninja process, so
they run in parallel across apps and backends under one `-j` and one
progress display:

1. Pairs already up to date (their stamp, ``unilang.fresh``) are reported
   and left alone.  The others are checked and resolved, spec by spec.
2. The outputs' locks are taken in one global order (sorted by path: two
   sets that overlap can never deadlock), each output is recovered and its
   work tree filled, with its own ``build.ninja``, as for a single build.
3. ``ROOT/.unilang-set.work/build.ninja`` (ROOT: ``build``, or ``-o DIR``)
   is written: for each output, the same compile and link commands its own
   ``build.ninja`` holds, each prefixed with ``cd WORK &&``, so every object
   and image is the same bytes as a single build's.  gcc's depfiles name
   headers relative to the work tree, which one graph cannot read, so each
   object instead depends on every header copied into its work tree (and
   ``toolchain.id``): a header edit rebuilds that output's objects, never
   another's.  ninja's log for the graph stays in that folder (held under
   ``ROOT/.unilang-set.lock``), so a set rebuilds incrementally.
4. ninja runs with ``-k 0``: a failing step stops only what depends on it.
   The outputs with work left (a dry run says which) failed (U0201, with
   their own compiler messages); every other one is verified and published.

Outputs go where a single build puts them: ``build/<app>/<backend>/``, or
``DIR/<app>/<backend>/`` with ``-o DIR`` (then DIR is the root of the set,
not an output directory: U0230 if it is one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import attrs

from .diagnostics import Diagnostic, Sink, error, warning

SET_NAME = "unilang-set"  # ROOT/.unilang-set.work (the graph), ROOT/.unilang-set.lock


@attrs.frozen
class Wanted:
    specs: tuple[Path, ...]
    backends: tuple[str, ...]


def plan(specs: list[Path], backends: list[str]) -> tuple[Wanted, list[Diagnostic]]:
    """The specs and backends of a command line without repeats (a spec is
    the same however it is spelled: by real path), and a U0229 per repeat."""
    diags: list[Diagnostic] = []
    seen: dict[str, Path] = {}
    keep: list[Path] = []
    for s in specs:
        real = os.path.realpath(s)
        if real in seen:
            first = seen[real]
            same = f" (the same file as `{first}`)" if str(first) != str(s) else ""
            diags.append(warning("U0229", f"`{s}` is given more than once{same}; it is "
                                 "built once"))
            continue
        seen[real] = s
        keep.append(s)
    bs: list[str] = []
    for b in backends:
        if b in bs:
            if not any(d.message.startswith(f"backend `{b}` ") for d in diags):
                diags.append(warning("U0229", f"backend `{b}` is given more than once; each "
                                     "app is built once for it"))
            continue
        bs.append(b)
    return Wanted(tuple(keep), tuple(bs)), diags


class Output:
    """One (spec, backend) pair of the set and what became of it."""

    def __init__(self, spec: Path, backend: str, n: int) -> None:
        self.spec = spec
        self.backend = backend
        self.n = n
        self.builder: Any = None          # unilang.build.Builder once it is checked
        self.program: object = None
        self.objects: list[tuple[str, str, tuple[str, ...]]] = []
        self.result: Any = None           # BuildResult when it is built or up to date
        self.status = "failed"            # "built", "up to date" or "failed"
        self.stamp_key: str | None = None

    # what the template needs
    @property
    def key(self) -> str:
        return str(self.n)

    @property
    def label(self) -> str:
        return f"{self.builder.res.app.name}/{self.backend}"

    @property
    def work(self) -> str:
        return str(self.builder.work)

    def abs(self, rel: str) -> str:
        return os.path.join(self.work, rel)

    @property
    def cc(self) -> list[str]:
        return list(self.builder.toolchain.cc_words)

    @property
    def cflags(self) -> list[str]:
        return list(self.builder.cflags)

    @property
    def image(self) -> str:
        return str(self.builder.image_name)

    @property
    def debug_image(self) -> str:
        return str(self.builder.debug_name)

    @property
    def deps(self) -> list[str]:
        compiled = {src for _obj, src, _inc in self.objects}
        rels = [r for r in self.builder.copied if r not in compiled]
        return [self.abs(r) for r in [*rels, "gen/unilang_params.h", "toolchain.id"]]


Emit = Callable[[Any, list[Diagnostic], str], None]


def build_set(wanted: Wanted, root: Path | None, jobs: int | None, emit: Emit,
              log: IO[str] | None = None) -> int:
    """Build every spec of ``wanted`` for every backend; report; the exit status."""
    from .build import Builder, BuildResult, Toolchain, default_outdir, find_tools
    from .backend import load as load_backend
    from .driver import Session, check_spec
    from .fresh import build_key, fresh_build
    from .outdir import OutputDir, read_marker

    log = log or sys.stderr
    top = Session()  # diagnostics of the set itself
    if root is not None and read_marker(root) is not None:
        top.sink.add(error("U0230", f"`{root}` is the output directory of a single build; "
                           "with several specs or backends `-o` names the root of their "
                           "outputs (DIR/<app>/<backend>)",
                           help="name another directory, e.g. `-o build/all`"))
        emit(top, top.sink.sorted(), "text")
        return 1
    base = root if root is not None else Path("build")
    outputs: list[Output] = []
    sessions: list[Session] = []
    owner: dict[str, Path] = {}  # app -> the spec that builds it
    toolchain: Toolchain | None = None
    tools_failed = False
    for spec in wanted.specs:
        session = Session(top.cache)
        sessions.append(session)
        spec_outputs = []
        for backend in wanted.backends:
            o = Output(spec, backend, len(outputs))
            outputs.append(o)
            spec_outputs.append(o)
            key = build_key(str(spec), backend, None, None if root is None else str(root))
            found = fresh_build(key, backend, None, None if root is None else str(root))
            if found is not None:
                image, manifest = found
                o.result = BuildResult(Path(image).parent, Path(image), manifest, False)
                o.status = "up to date"
                owner.setdefault(str(manifest.get("app")), spec)
                continue
            mark = len(session.sink.items)
            _s, results = check_spec(spec, [backend], session)
            r = results[0]
            if any(d.is_error for d in session.sink.items[mark:]) or r.resolution is None \
                    or r.program is None:
                continue
            app = r.resolution.app.name
            first = owner.setdefault(app, spec)
            if os.path.realpath(first) != os.path.realpath(spec):
                session.sink.add(error(
                    "U0227", f"`{spec}` and `{first}` both declare app `{app}`; only "
                    f"`{first}` is built", notes=(f"both would write {base / app}/<backend>",),
                    help="rename one of the apps, or build it on its own with `-o`"))
                continue
            if toolchain is None and not tools_failed:
                tools = find_tools(top.sink)
                if tools is None:
                    tools_failed = True
                else:
                    toolchain = Toolchain.probe(tools)
            if toolchain is None:
                continue
            out = OutputDir(default_outdir(app, backend) if root is None
                            else root / app / backend)
            b = Builder(r.resolution, load_backend(backend), spec, out, Sink(), toolchain, log)
            b.inputs.update(session.reads)
            o.builder, o.program = b, r.program
            o.stamp_key = key
        # a stamp only for a spec that checked without any diagnostic, as for one build
        # (the early path would not show them again)
        if not session.sink.items:
            for o in spec_outputs:
                if o.builder is not None:
                    o.builder.stamp_key = o.stamp_key

    pending = [o for o in outputs if o.builder is not None]
    if pending:
        _build_pending(pending, base, jobs, log)
    for o, session in ((o, sessions[wanted.specs.index(o.spec)]) for o in outputs):
        if o.builder is not None:  # one spec's outputs share a session: say whose it is
            session.sink.extend(d if d.backend else attrs.evolve(d, backend=o.backend)
                                for d in o.builder.sink.items)
    status = 0
    for session in [top, *sessions]:
        diags = session.sink.sorted()
        if diags:
            emit(session, diags, "text")
        if any(d.is_error for d in diags):
            status = 1
    for o in outputs:
        if o.status == "failed":
            status = 1
            log.write(f"failed: {o.spec} for {o.backend}\n")
        else:
            m = o.result.manifest
            log.write(f"{'built' if o.result.changed else 'up to date'}: {o.result.image} "
                      f"({m['size']} bytes, {len(m['libraries'])} libraries)\n")
    log.flush()
    return status


def _build_pending(pending: list[Output], base: Path, jobs: int | None, log: IO[str]) -> None:
    """Lock, fill, run the one graph, then verify and publish each output."""
    from .outdir import OutputRefused

    with ExitStack() as stack:
        ready: list[Output] = []
        fds: list[int] = []
        for o in sorted(pending, key=lambda o: str(o.builder.out.lock_path)):
            b = o.builder
            maybe = b.maybe_names()
            try:
                b.out.check_target(b.spec, maybe)  # refuse before creating anything
                fd = stack.enter_context(b.out.lock(log))
                fds.append(fd)
                b.lock_fd = fd
                b.out.recover()
                objects = b.prepare(maybe)
            except OutputRefused as exc:
                b.refuse(exc)
                continue
            except OSError as exc:
                b.fail("U0204", f"cannot write `{b.outdir}` or its work tree: "
                       f"{exc.strerror or exc}" + (f" (`{exc.filename}`)" if exc.filename
                                                   else ""))
                continue
            if objects is not None:
                o.objects = objects
                ready.append(o)
        if not ready:
            return
        ready.sort(key=lambda o: o.n)  # the graph in command-line order
        tools = ready[0].builder.tools
        folder = base / f".{SET_NAME}.work"
        try:
            fds.append(stack.enter_context(_graph_lock(base, log)))
            failed = _run_graph(ready, folder, tools, jobs, fds, log)
        except OSError as exc:
            for o in ready:
                o.builder.fail("U0204", f"cannot write the set's build folder `{folder}`: "
                               f"{exc.strerror or exc}")
            return
        for o in ready:
            b = o.builder
            if o.n in failed:
                b.fail("U0201", f"building the {o.backend} image of `{b.res.app.name}` failed",
                       notes=tuple(failed[o.n][-30:]) or ("ninja stopped before linking it",),
                       help="the compiler's messages are above; earlier outputs are "
                            "untouched")
                continue
            if not b.check_symtab():  # U0202, as in a single build
                continue
            try:
                o.result = b.finish(o.program)
            except OutputRefused as exc:
                b.refuse(exc)
            except OSError as exc:
                b.fail("U0204", f"cannot write `{b.outdir}` or its work tree: "
                       f"{exc.strerror or exc}" + (f" (`{exc.filename}`)" if exc.filename
                                                   else ""))
            if o.result is not None:
                o.status = "built" if o.result.changed else "up to date"


@contextmanager
def _graph_lock(base: Path, log: IO[str]) -> Iterator[int]:
    """Hold ``ROOT/.unilang-set.lock`` (the set graph's folder and ninja log)
    while the graph runs; taken after every output's lock, so never in a cycle."""
    from .outdir import hold_lock

    base.mkdir(parents=True, exist_ok=True)
    path = base / f".{SET_NAME}.lock"
    with hold_lock(path, log, f"waiting for another build of several specs under `{base}` "
                              f"to finish (lock {path.name})") as fd:
        yield fd


def _run_graph(ready: list[Output], folder: Path, tools: dict[str, str], jobs: int | None,
               fds: list[int], log: IO[str]) -> dict[int, list[str]]:
    """Write the set's build.ninja and run it; the outputs that failed, each
    with the lines ninja printed for its failed steps."""
    from .build import LDFLAGS, _write_if_changed
    from .emit.templates import render
    from . import paths

    from .emit import symtab

    text = render([paths.stdlib_dir() / "templates"], "set.ninja.j2", builds=ready,
                  ld=tools["ld"], ldflags=LDFLAGS, pass1=symtab.PASS1,
                  symtab_src=symtab.SOURCE, symtab_obj=symtab.OBJECT)
    folder.mkdir(parents=True, exist_ok=True)
    _write_if_changed(folder / "build.ninja", text.encode())
    # two passes, as in a single build: every first link, then (each output's
    # fault-report symbol table written from it) every image
    failed = _run_phase(ready, folder, tools, jobs, fds, log,
                        [o.abs(symtab.PASS1) for o in ready])
    second = [o for o in ready if o.n not in failed]
    for o in second:
        o.builder.write_symtab()
    if second:
        failed.update(_run_phase(second, folder, tools, jobs, fds, log,
                                 [o.abs(o.image) for o in second]))
    return failed


def _run_phase(ready: list[Output], folder: Path, tools: dict[str, str], jobs: int | None,
               fds: list[int], log: IO[str], targets: list[str]) -> dict[int, list[str]]:
    """Run the set's graph up to ``targets``; the outputs that failed, each with
    the lines ninja printed for its failed steps."""
    cmd = [tools["ninja"], "-C", str(folder), "-k", "0", *targets]
    if jobs is not None:
        cmd += ["-j", str(jobs)]
    env = dict(os.environ, NINJA_STATUS="[%f/%t] ")
    by_work = sorted(((o.work + os.sep, o.n) for o in ready), key=lambda t: -len(t[0]))
    notes: dict[int, list[str]] = {}
    current: int | None = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", env=env, stdin=subprocess.DEVNULL,
                          pass_fds=tuple(fds)) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if not line or line.startswith("ninja: Entering") or line == "ninja: no work to do.":
                continue
            log.write(line + "\n")
            log.flush()
            if line.startswith("FAILED: "):
                current = next((n for w, n in by_work if w in line), None)
            elif line.startswith("[") or line.startswith("ninja: "):
                current = None
            elif current is not None:
                notes.setdefault(current, []).append(line)
    if proc.returncode == 0:
        return {}
    # which outputs still have work to do: those failed (a dry run runs nothing)
    dry = subprocess.run([tools["ninja"], "-C", str(folder), "-n", "-k", "0", *targets],
                         capture_output=True, text=True, errors="replace", check=False,
                         env=env, stdin=subprocess.DEVNULL)
    labels = {o.label: o.n for o in ready}
    failed: dict[int, list[str]] = {}
    for line in dry.stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0].startswith("[") and words[2] in labels:
            n = labels[words[2]]
            failed[n] = notes.get(n, [])
    if dry.returncode != 0 or not failed:
        # ninja itself failed (or cannot say): nothing of this run is trusted
        return {o.n: notes.get(o.n, [f"ninja exited with status {proc.returncode}"])
                for o in ready}
    return failed
