"""Freshness: the one mechanism that decides whether a result can be reused.

A result (check's diagnostics, a build's outputs) is recorded with the
*facts* it depends on, and reused only while every fact still holds:

* every file it read, by the sha256 of the bytes it actually read (an edit
  made while it ran is seen next time);
* every place an import looked and found nothing, which must stay empty;
* for sources, the real path and kind of the file and the headers beside it
  (a file swapped for a link is seen);
* for tools, their identity (real path, size, mtime);

and with a *key* for what is not a file read (``command_key``): unilang's own
modules and grammar, the command and its arguments, the working directory.

Users: ``check``'s result cache (``unilang.driver.ResultCache``, entries in
the user's cache directory), the build stamp (``Stamp``, in the work tree:
facts plus the hash and mode of every output) and the early up-to-date path
of `build` and `run`, which answers from the stamp before anything heavy is
imported.  On any doubt the caller falls back to doing the work.

Only ``os``, ``stat`` and ``sys`` are imported at load time (JSON through
``unilang.quickjson``): `run` checks a stamp here while QEMU starts.
"""

from __future__ import annotations

import os
import stat
import sys

from . import quickjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STAMP = ".unilang-stamp.json"
STAMP_VERSION = 2
FORMAT_VERSION = 3  # of keys and facts: a change makes every record stale
MARKER = ".unilang-output"  # marks an output directory as unilang's (unilang.outdir)


def _sha_file(path: str) -> str | None:
    """sha256 of a regular file's bytes; None for anything else (a FIFO or a
    device is never read, so it cannot block or run forever), or when the file
    grew or shrank while it was read (as ``fsutil.read_regular``).  Read a
    MiB at a time: a spec of 100,000 libraries is 15 MB, which a whole read
    added to the peak memory of the `check` that records its digest."""
    from .digest import sha256  # not hashlib: see unilang.digest
    from .fsutil import read_chunks

    h = sha256()
    try:
        for chunk in read_chunks(path, sys.maxsize, step=1 << 20):
            h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def _read_json(path: str, limit: int = 16 << 20) -> "Any":
    """A small JSON file, read only when it is a regular file; None otherwise."""
    from .fsutil import read_regular

    try:
        return quickjson.loads(read_regular(path, limit))
    except (OSError, ValueError, RecursionError):
        return None


#: str: the sha256 of the file's bytes; None: nothing may exist there;
#: ["state", ...]: ``dependency_state``; ["dir", names]: a folder's listing;
#: ["tree", root, entries]: a sealed folder's walk (``unilang.sealed.tree_fact``)
Fact = object


def dependency_state(file: str) -> list[object]:
    """What check's verdict on a source file depends on beyond its bytes: the
    real path and kind of the file and of every header beside it."""
    def one(p: str) -> list[object]:
        try:
            kind: object = stat.S_IFMT(os.stat(p).st_mode)
        except OSError as exc:
            kind = f"errno {exc.errno}"
        return [os.path.basename(p), os.path.realpath(p), kind]

    parent = os.path.dirname(file) or "."
    try:
        headers = sorted(os.path.join(parent, n) for n in os.listdir(parent) if n.endswith(".h"))
    except OSError as exc:
        return ["state", one(file), f"errno {exc.errno}"]
    return ["state", one(file)] + [one(h) for h in headers]


def sha_fact(path: str) -> Fact:
    """The fact that ``path`` holds the bytes it holds now (None: nothing there)."""
    return _sha_file(path)


def dir_fact(path: str) -> Fact:
    """The fact that the folder ``path`` lists the names it lists now."""
    try:
        return ["dir", sorted(os.listdir(path))]
    except OSError:
        return ["dir", None]


def fact_holds(path: str, fact: Fact) -> bool:
    if fact is None:
        return not os.path.lexists(path)
    if isinstance(fact, str):
        return _sha_file(path) == fact
    if isinstance(fact, list) and fact[:1] == ["state"]:
        return dependency_state(path) == fact
    if isinstance(fact, list) and fact[:1] == ["dir"]:
        return dir_fact(path) == fact
    if isinstance(fact, list) and fact[:1] == ["tree"]:
        from .sealed import tree_fact_holds

        return tree_fact_holds(path, fact)
    return False


#: A file whose status changed this recently may change again within the
#: file system's timestamp granularity without its status showing it.
RACY_NS = 2_000_000_000


def stat_token(path: str) -> list[int] | None:
    """What changes whenever a file's bytes do: device, inode, size, mtime,
    and ctime (which no user can set back)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def stat_before(path: str) -> "tuple[list[int] | None, int]":
    """``path``'s status token and the time it was taken, before its content is
    read for a fact: ``settle`` takes the pair as proof instead of hashing the
    file again."""
    import time

    at = time.time_ns()
    return stat_token(path), at


def settle(facts: "dict[str, Fact]",
           before_read: "dict[str, tuple[list[int] | None, int]] | None" = None
           ) -> "dict[str, list[int]]":
    """Status tokens for the content facts that can be checked by status
    alone next time: the file still holds the recorded bytes now, its status
    did not move while it was hashed, and its last change is not recent.

    ``before_read``: tokens taken (``stat_before``) before the fact's content
    was read.  A file that still shows it, and whose last change was not recent
    then, has not changed since: its recorded digest is of the bytes it holds,
    without reading them again (a spec of 100,000 libraries is 15 MB)."""
    import time

    out = {}
    for p, f in facts.items():
        if not isinstance(f, str):
            continue
        before = stat_token(p)
        earlier = before_read.get(p) if before_read else None
        if earlier is not None and before is not None and earlier[0] == before and \
                earlier[1] - before[4] >= RACY_NS:
            out[p] = before
            continue
        if before is None or time.time_ns() - before[4] < RACY_NS:
            continue
        if _sha_file(p) == f and stat_token(p) == before:
            out[p] = before
    return out


def facts_hold(facts: "Any", tokens: "Any" = None) -> bool:
    """Whether every recorded fact still holds (False for anything malformed).
    A content fact whose file shows the status token recorded with it holds
    without reading the file."""
    try:
        tokens = tokens or {}
        return all((isinstance(f, str) and tokens.get(p) is not None
                    and tokens[p] == stat_token(p)) or fact_holds(p, f)
                   for p, f in facts.items())
    except (AttributeError, TypeError, ValueError, OSError):
        return False


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
        import json
        from pathlib import Path

        from .fsutil import atomic_write

        doc = {"version": STAMP_VERSION, "key": key, "image": image, "inputs": inputs,
               "tokens": settle(inputs),
               "tools": [file_identity(t) for t in tools],
               "outputs": {n: [sha, mode] for n, (sha, mode) in outputs.items()}}
        try:
            atomic_write(Path(self.path), json.dumps(doc, sort_keys=True).encode(),
                         durable=False)
        except OSError:
            pass

    def read(self) -> "dict[str, Any] | None":
        doc = _read_json(self.path)
        return doc if isinstance(doc, dict) and doc.get("version") == STAMP_VERSION else None

    @staticmethod
    def fresh_doc(doc: "dict[str, Any]", outdir: str) -> "dict[str, Any] | None":
        """The manifest of an up-to-date build described by ``doc``, or None."""
        try:
            if not facts_hold(doc["inputs"], doc.get("tokens")):
                return None
            for ident in doc["tools"]:
                if file_identity(ident[0]) != ident:
                    return None
            outputs = doc["outputs"]
            if sorted(_read_json(os.path.join(outdir, MARKER))["files"]) != sorted(outputs):
                return None
            for name, (_digest, mode) in outputs.items():
                if os.lstat(os.path.join(outdir, name)).st_mode & 0o7777 != mode:
                    return None
            if not facts_hold(Stamp.output_facts(doc, outdir), doc.get("output_tokens")):
                return None
            manifest = _read_json(os.path.join(outdir, "manifest.json"))
            return manifest if isinstance(manifest, dict) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None


    @staticmethod
    def output_facts(doc: "dict[str, Any]", outdir: str) -> "dict[str, Fact]":
        return {os.path.join(outdir, n): digest for n, (digest, _m) in doc["outputs"].items()}

    def refresh(self, doc: "dict[str, Any]", outdir: str) -> None:
        """After ``fresh_doc`` found the build up to date by reading files:
        record status tokens for those that now qualify (git's index refresh),
        so the next check reads none.  Safe without the build lock: every token
        is checked against the file's content before it is recorded."""
        outputs = self.output_facts(doc, outdir)
        have = len(doc.get("tokens") or {}) + len(doc.get("output_tokens") or {})
        if have == sum(isinstance(f, str) for f in [*doc["inputs"].values(), *outputs.values()]):
            return
        tokens, output_tokens = settle(doc["inputs"]), settle(outputs)
        if len(tokens) + len(output_tokens) <= have:
            return  # nothing more qualifies yet (changed within RACY_NS): no rewrite
        import json
        from pathlib import Path

        from .fsutil import atomic_write

        doc = dict(doc, tokens=tokens, output_tokens=output_tokens)
        try:
            atomic_write(Path(self.path), json.dumps(doc, sort_keys=True).encode(),
                         durable=False)
        except OSError:
            pass


def _data_dirs() -> tuple[str, str, str, str]:
    pkg = os.path.dirname(os.path.abspath(__file__))
    base = pkg if os.path.isdir(os.path.join(pkg, "grammar")) else os.path.dirname(pkg)
    return (pkg, os.path.join(base, "grammar"), os.path.join(base, "stdlib"),
            os.path.join(base, "backends"))


def command_key(command: str, args: list[object]) -> str:
    """The key of a command: what its result depends on besides the files it
    reads (those are facts): unilang itself (version, and the size and mtime
    of its modules and grammar), the command, its arguments and the working
    directory (diagnostics name files relative to it).  The key is the text
    itself, compared whole: making it needs no hash (and no OpenSSL)."""
    from . import __version__

    pkg, grammar, stdlib, _backends = _data_dirs()
    parts = [quickjson.dumps([__version__, FORMAT_VERSION, command, os.getcwd(), stdlib, args])]
    files = [os.path.join(grammar, "unilang.lark")]
    for dirpath, dirs, filenames in os.walk(pkg):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".py")]
    for f in files:
        try:
            st = os.stat(f)
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f}:-")
    return "\n".join(parts)


def work_dir(outdir: str) -> str:
    """The work tree beside an output directory (as ``unilang.outdir.OutputDir``)."""
    real = os.path.realpath(outdir)
    return os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.work")


def build_key(spec: str, backend: str, outdir: str | None, root: str | None = None) -> str:
    """The key of a build command, its paths normalised the same way by every
    caller (the arguments as typed, or click's ``Path`` values), with the
    tools PATH finds."""
    from .fsutil import which

    tools: list[object] = [which(t) or "" for t in ("gcc", "ld", "ninja")]
    cc = os.environ.get("CC", "")
    if cc:  # the compiler and its wrappers (unilang.ccenv), as typed and as PATH finds them
        import shlex

        try:
            words = shlex.split(cc)
        except ValueError:
            words = []
        tools.append([cc, [which(w) or "" for w in words]])
    args: list[object] = [os.path.normpath(spec), backend,
                          os.path.normpath(outdir) if outdir is not None else None, tools]
    if root is not None:  # one output of a set built with `-o ROOT` (unilang.multibuild)
        args.append(["set-root", os.path.normpath(root)])
    return command_key("build", args)


def fresh_build(key: str, backend: str, outdir: str | None,
                root: str | None = None,
                later: "list[Any] | None" = None) -> "tuple[str, dict[str, Any]] | None":
    """(image path, manifest) of the up-to-date build stamped with ``key``, or
    None.  Without ``outdir`` the output is looked for in ``ROOT/*/backend``
    (``root``, default ``build``).  The stamp's refresh (``Stamp.refresh``)
    is appended to ``later`` when given (`run` does it once the guest runs),
    else done here."""
    if outdir is not None:
        candidates = [work_dir(outdir)]
    else:
        base = root if root is not None else "build"
        try:
            apps = sorted(os.listdir(base))
        except OSError:
            return None
        candidates = [work_dir(os.path.join(base, a, backend)) for a in apps]
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
        if manifest is None:
            return None
        if later is None:
            Stamp(work).refresh(doc, out)
        else:
            later.append(lambda stamp=Stamp(work), doc=doc, out=out: stamp.refresh(doc, out))
        return image, manifest
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
    specs, backends, outdir = parsed["specs"], parsed["backend"], parsed["outdir"]
    if len(set(map(os.path.realpath, specs))) != len(specs) or \
            len(set(backends)) != len(backends):
        return False  # the full command says which were given twice (U0229)
    if len(specs) == 1 and len(backends) == 1:
        pairs = [(specs[0], backends[0], outdir, None)]
    else:  # a set: each output under ROOT/<app>/<backend> (unilang.multibuild)
        pairs = [(s, b, None, outdir) for s in specs for b in backends]
    found = []
    for spec, backend, out, root in pairs:
        one = fresh_build(build_key(spec, backend, out, root), backend, out, root)
        if one is None:
            return False
        found.append(one)
    for image, manifest in found:
        sys.stderr.write(f"up to date: {image} ({manifest['size']} bytes, "
                         f"{len(manifest['libraries'])} libraries)\n")
    return True
