"""The up-to-date check for `unilang build`, before anything heavy is imported.

A no-op rebuild should cost little more than starting Python.  A full
build records, in its work tree, a stamp (``Stamp``) of exactly what it
consumed and produced: the sha256 of the bytes it read from every module,
source, header and template, the places an import looked and found nothing,
the identity of each tool, and the hash and mode of every output.  This
module adds a key for what is not a file read: unilang's own modules and
grammar, the command's arguments, the working directory and the tools PATH
finds.  When the key matches and every recorded input, tool and output is
still as recorded, the build is up to date; on any doubt (an unknown option,
a change anywhere, an error) the caller falls back to the full build, which
decides.

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
STAMP_VERSION = 2
MARKER = ".unilang-output"  # marks an output directory as unilang's (unilang.outdir)


def _sha_file(path: str) -> str | None:
    """sha256 of a regular file's bytes; None for anything else (a FIFO or a
    device is never opened for reading, so it cannot block or run forever)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_json(path: str, limit: int = 16 << 20) -> Any:
    """A small JSON file, read only when it is a regular file; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return json.loads(os.read(fd, limit + 1))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def file_identity(path: str) -> list[object]:
    """What identifies a tool binary cheaply: its real path, size and mtime."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return [real, None, None]
    return [real, st.st_size, st.st_mtime_ns]


class Stamp:
    """What the last successful build of a work tree consumed and produced.

    ``inputs`` maps every file the build read (modules, copied sources and
    headers, templates) to the sha256 of the bytes it actually read, and
    every place an import looked without finding a file to None; ``tools``
    holds the identity of gcc, cc1, ld and ninja; ``outputs`` the sha256 and
    mode of every published file.  A build whose inputs, tools and outputs
    all still match is up to date: nothing is checked, compiled or written.
    The stamp lives in the private work tree."""

    def __init__(self, work: str | os.PathLike[str]) -> None:
        self.path = os.path.join(os.fspath(work), STAMP)

    def write(self, key: str, inputs: dict[str, str | None], tools: list[str],
              outputs: dict[str, tuple[str, int]], image: str) -> None:
        from .fsutil import atomic_write

        doc = {"version": STAMP_VERSION, "key": key, "image": image, "inputs": inputs,
               "tools": [file_identity(t) for t in tools],
               "outputs": {n: [sha, mode] for n, (sha, mode) in outputs.items()}}
        try:
            atomic_write(Path(self.path), json.dumps(doc, sort_keys=True).encode(),
                         durable=False)
        except OSError:
            pass

    def read(self) -> dict[str, Any] | None:
        doc = _read_json(self.path)
        return doc if isinstance(doc, dict) and doc.get("version") == STAMP_VERSION else None

    @staticmethod
    def fresh_doc(doc: dict[str, Any], outdir: str) -> dict[str, Any] | None:
        """The manifest of an up-to-date build described by ``doc``, or None."""
        try:
            for p, digest in doc["inputs"].items():
                if digest is None:
                    if os.path.lexists(p):
                        return None
                elif _sha_file(p) != digest:
                    return None
            for ident in doc["tools"]:
                if file_identity(ident[0]) != ident:
                    return None
            outputs = doc["outputs"]
            if sorted(_read_json(os.path.join(outdir, MARKER))["files"]) != sorted(outputs):
                return None
            for name, (digest, mode) in outputs.items():
                path = os.path.join(outdir, name)
                if os.lstat(path).st_mode & 0o7777 != mode or _sha_file(path) != digest:
                    return None
            manifest = _read_json(os.path.join(outdir, "manifest.json"))
            return manifest if isinstance(manifest, dict) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None


def _data_dirs() -> tuple[str, str, str, str]:
    pkg = os.path.dirname(os.path.abspath(__file__))
    base = pkg if os.path.isdir(os.path.join(pkg, "grammar")) else os.path.dirname(pkg)
    return (pkg, os.path.join(base, "grammar"), os.path.join(base, "stdlib"),
            os.path.join(base, "backends"))


def quick_key(spec: str, backend: str, outdir: str | None) -> str | None:
    """The key of a build command: everything but the files it reads (those
    are in the stamp): unilang itself, the command, the working directory
    and which tools PATH finds."""
    import shutil

    from . import __version__

    pkg, grammar, stdlib, _backends = _data_dirs()
    h = hashlib.sha256()
    tools = [shutil.which(t) or "" for t in ("gcc", "ld", "ninja")]
    h.update(json.dumps([__version__, STAMP_VERSION, backend, os.getcwd(), spec, outdir, tools,
                         stdlib]).encode())
    h.update(f"grammar\0{_sha_file(os.path.join(grammar, 'unilang.lark'))}\n".encode())
    for dirpath, _dirs, filenames in os.walk(pkg):
        for name in sorted(filenames):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def work_dir(outdir: str) -> str:
    """The work tree beside an output directory (as ``unilang.outdir.OutputDir``)."""
    real = os.path.realpath(outdir)
    return os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.work")


def build_key(spec: str, backend: str, outdir: str | None) -> str | None:
    """``quick_key`` of a build command, its paths normalised the same way by
    every caller (the arguments as typed, or click's ``Path`` values)."""
    return quick_key(os.path.normpath(spec), backend,
                     os.path.normpath(outdir) if outdir is not None else None)


def fresh_build(key: str, backend: str, outdir: str | None) -> tuple[str, dict[str, Any]] | None:
    """(image path, manifest) of the up-to-date build stamped with ``key``, or None."""
    if outdir is not None:
        candidates = [work_dir(outdir)]
    else:
        try:
            apps = sorted(os.listdir("build"))
        except OSError:
            return None
        candidates = [work_dir(os.path.join("build", a, backend)) for a in apps]
    for work in candidates:
        doc = Stamp(work).read()
        if doc is None or doc.get("key") != key:
            continue
        image = doc.get("image")
        if not isinstance(image, str):
            continue
        out = os.path.dirname(image)
        if _leftovers(out):
            return None  # a crash left temporaries: the full build removes them
        manifest = Stamp.fresh_doc(doc, out)
        return (image, manifest) if manifest is not None else None
    return None


def temporaries(parent: str, name: str) -> list[str]:
    """Names in ``parent`` that a publish of ``parent/name`` makes for itself
    and a crash can leave behind (``unilang.outdir``), sorted."""
    prefixes = (f".{name}.new-", f".{name}.old-")
    try:
        return sorted(n for n in os.listdir(parent) if n.startswith(prefixes))
    except OSError:
        return []


def _leftovers(outdir: str) -> bool:
    """Whether a publish of ``outdir`` died and left temporaries beside it."""
    real = os.path.realpath(outdir)
    return bool(temporaries(os.path.dirname(real), os.path.basename(real)))


def up_to_date_build(args: list[str]) -> bool:
    """Report and return True when `unilang build ARGS` has nothing to do."""
    from .cliargs import parse

    parsed = parse("build", args)
    if parsed is None:
        return False
    spec, backend, outdir = parsed["spec"], parsed["backend"], parsed["outdir"]
    key = build_key(spec, backend, outdir)
    found = fresh_build(key, backend, outdir) if key is not None else None
    if found is None:
        return False
    image, manifest = found
    sys.stderr.write(f"up to date: {image} ({manifest['size']} bytes, "
                     f"{len(manifest['libraries'])} libraries)\n")
    return True
