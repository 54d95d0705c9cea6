"""The up-to-date check for `unilang build`, before anything heavy is imported.

A no-op rebuild should cost little more than starting Python.  The full
build already records, in its work tree, a stamp of everything it consumed
and produced (``Stamp``).  This module adds a conservative key that needs no
parsing: the content of *every* `.uni` file that could be imported (the
spec's directory tree, stdlib, every backend), the grammar, the identity of
unilang's own modules, the tools, the working directory and the command's
arguments.  When that key and the stamp's inputs and outputs all match, the
build is up to date; on any doubt (an unknown option, a change anywhere, an
error) the caller falls back to the full build, which decides.

Only the standard library is imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

STAMP = ".unilang-stamp.json"
MAX_PROJECT_FILES = 2000


def _sha_file(path: str) -> str | None:
    """The file's SHA-256, or None when it is not a regular file (a FIFO would
    block, a device never end) or cannot be read."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


class Stamp:
    """What the last successful build of a work tree consumed and produced.

    A build whose inputs (the modules, every copied source, header and
    template, the tools) and outputs are all unchanged is up to date: nothing
    is checked, compiled or written.  The stamp lives in the private work
    tree."""

    def __init__(self, work: str | os.PathLike[str]) -> None:
        self.path = os.path.join(os.fspath(work), STAMP)


    def write(self, key: str, inputs: list[str], outputs: dict[str, str], image: str) -> None:
        from .fsutil import atomic_write

        doc = {"key": key, "image": image,
               "inputs": {p: _sha_file(p) for p in inputs}, "outputs": outputs}
        try:
            atomic_write(Path(self.path), json.dumps(doc, sort_keys=True).encode(),
                         durable=False)
        except OSError:
            pass

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    @staticmethod
    def fresh_doc(doc: dict[str, Any], outdir: str) -> dict[str, Any] | None:
        """The manifest of an up-to-date build described by ``doc``, or None."""
        try:
            for p, digest in doc["inputs"].items():
                if _sha_file(p) != digest:
                    return None
            outputs = doc["outputs"]
            if sorted(os.listdir(outdir)) != sorted(outputs):
                return None
            for name, digest in outputs.items():
                if _sha_file(os.path.join(outdir, name)) != digest:
                    return None
            with open(os.path.join(outdir, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            return manifest if isinstance(manifest, dict) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _data_dirs() -> tuple[str, str, str, str]:
    pkg = os.path.dirname(os.path.abspath(__file__))
    base = pkg if os.path.isdir(os.path.join(pkg, "grammar")) else os.path.dirname(pkg)
    return (pkg, os.path.join(base, "grammar"), os.path.join(base, "stdlib"),
            os.path.join(base, "backends"))


def _uni_files(root: str, limit: int) -> list[str] | None:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "build")
        for name in sorted(filenames):
            if name.endswith(".uni") and _is_regular(os.path.join(dirpath, name)):
                out.append(os.path.join(dirpath, name))
                if len(out) > limit:
                    return None
    return out


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def quick_key(spec: str, backend: str, outdir: str | None) -> str | None:
    """The conservative key of a build command; None when it cannot be formed cheaply."""
    import shutil

    from . import __version__

    pkg, grammar, stdlib, backends = _data_dirs()
    project = os.path.dirname(os.path.realpath(spec))
    files = _uni_files(project, MAX_PROJECT_FILES)
    if files is None:
        return None
    files += (_uni_files(stdlib, MAX_PROJECT_FILES) or []) + (
        _uni_files(backends, MAX_PROJECT_FILES) or [])
    h = hashlib.sha256()
    tools = [shutil.which(t) or "" for t in ("gcc", "ld", "ninja")]
    h.update(json.dumps([__version__, backend, os.getcwd(), spec, outdir, tools, stdlib]).encode())
    for path in [os.path.join(grammar, "unilang.lark")] + sorted(set(files)):
        h.update(f"{path}\0{_sha_file(path)}\n".encode())
    for dirpath, _dirs, filenames in os.walk(pkg):
        for name in sorted(filenames):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _parse_build_args(args: list[str]) -> tuple[str, str, str | None] | None:
    """(spec, backend, outdir) of a plain `build` command line, else None."""
    spec = None
    backend = "kvm"
    outdir = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-b", "--backend", "-o", "--output") and i + 1 < len(args):
            if a in ("-b", "--backend"):
                backend = args[i + 1].lower()
            else:
                outdir = args[i + 1]
            i += 2
            continue
        if a.startswith("--backend="):
            backend = a.split("=", 1)[1].lower()
        elif a.startswith("--output="):
            outdir = a.split("=", 1)[1]
        elif a.startswith("-") or spec is not None:
            return None  # --help, an unknown option, a second argument: let click decide
        else:
            spec = a
        i += 1
    if spec is None or backend not in ("kvm", "xen") or outdir == "":
        return None
    return spec, backend, outdir


def build_key(spec: str, backend: str, outdir: str | None) -> str | None:
    """``quick_key`` of a build command, its paths normalised the same way by
    every caller (the arguments as typed, or click's ``Path`` values)."""
    return quick_key(os.path.normpath(spec), backend,
                     os.path.normpath(outdir) if outdir is not None else None)


def fresh_build(key: str, backend: str, outdir: str | None) -> tuple[str, dict[str, Any]] | None:
    """(image path, manifest) of the up-to-date build stamped with ``key``, or None."""
    if outdir is not None:
        out = os.path.normpath(outdir)
        candidates = [os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.work")]
    else:
        try:
            apps = sorted(os.listdir("build"))
        except OSError:
            return None
        candidates = [os.path.join("build", a, f".{backend}.work") for a in apps]
    for work in candidates:
        doc = Stamp(work).read()
        if doc is None or doc.get("key") != key:
            continue
        image = doc.get("image")
        if not isinstance(image, str):
            continue
        manifest = Stamp.fresh_doc(doc, os.path.dirname(image))
        return (image, manifest) if manifest is not None else None
    return None


def up_to_date_build(args: list[str]) -> bool:
    """Report and return True when `unilang build ARGS` has nothing to do."""
    parsed = _parse_build_args(args)
    if parsed is None:
        return False
    spec, backend, outdir = parsed
    key = build_key(spec, backend, outdir)
    found = fresh_build(key, backend, outdir) if key is not None else None
    if found is None:
        return False
    image, manifest = found
    sys.stderr.write(f"up to date: {image} ({manifest['size']} bytes, "
                     f"{len(manifest['libraries'])} libraries)\n")
    return True
