"""Files sealed into the image (the app's `files` key): walking a folder, the
rules its entries obey, content types, and the fact a build or a cached check
depends on (``tree_fact``).

One walker serves the checker (diagnostics), the build (what to embed) and
``unilang.fresh`` (whether a folder still lists what it listed), so the three
never disagree about what a folder holds.  Only the standard library is
imported here: ``unilang.fresh`` uses it on the early up-to-date path.
"""

from __future__ import annotations

import os
import re
import stat
from typing import NamedTuple

#: Limits of what one image may seal (U0118).
MAX_FILES = 4096
MAX_FILE_SIZE = 64 << 20
MAX_TOTAL_SIZE = 256 << 20
MAX_PATH = 255  # bytes of a sealed file's path (relative, `/`-separated)
#: Entries the walker looks at before it gives up (a folder with a million
#: files, or one that links back into itself many times over).
MAX_ENTRIES = 4 * MAX_FILES

#: A sealed path's name: what a URL carries without escaping, starting with a
#: letter, a digit or `_` (names starting with `.` are hidden and skipped).
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.~\-]*\Z")

#: Content types by extension (lower case); anything else is ``DEFAULT_TYPE``.
CONTENT_TYPES: dict[str, str] = {
    "html": "text/html", "htm": "text/html", "css": "text/css",
    "js": "text/javascript", "mjs": "text/javascript", "json": "application/json",
    "txt": "text/plain", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "svg": "image/svg+xml", "ico": "image/x-icon",
    "wasm": "application/wasm",
}
DEFAULT_TYPE = "application/octet-stream"


def content_type(path: str) -> str:
    """The content type of a sealed file, from its extension."""
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return DEFAULT_TYPE
    return CONTENT_TYPES.get(name.rsplit(".", 1)[1].lower(), DEFAULT_TYPE)


class Entry(NamedTuple):
    """One thing the walk met: ``rel`` is its path below the folder (`/`-separated).

    ``kind``: "file" (a regular file, links followed, inside the root), "dir",
    or a problem: "name" (a name sealed paths cannot carry), "outside" (its
    real path leaves the root), "special" (not a regular file or folder),
    "broken" (a dangling link), "loop" (a folder reached again through a
    link), "error" (cannot be read or listed; ``detail`` says why),
    "toomany" (the walk stopped at ``MAX_ENTRIES``)."""

    rel: str
    kind: str
    real: str
    size: int
    detail: str = ""


def walk(folder: str, root: str | None) -> list[Entry]:
    """Every entry below ``folder`` in a deterministic order (sorted by name at
    each level, a folder's entries after it), links followed while their real
    path stays inside ``root`` (None: anywhere).  Hidden names (starting with
    `.`) are skipped.  Never raises for what is on disk."""
    out: list[Entry] = []
    root_real = os.path.realpath(root) if root is not None else None

    def inside(real: str) -> bool:
        return root_real is None or real == root_real or \
            real.startswith(root_real.rstrip(os.sep) + os.sep)

    def visit(path: str, rel: str, ancestors: frozenset[str]) -> None:
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            out.append(Entry(rel or ".", "error", os.path.realpath(path), 0,
                             f"cannot list it: {exc.strerror or exc}"))
            return
        for n in names:
            if n.startswith("."):
                continue
            if len(out) >= MAX_ENTRIES:
                out.append(Entry(rel or ".", "toomany", "", 0))
                return
            child = os.path.join(path, n)
            crel = f"{rel}/{n}" if rel else n
            real = os.path.realpath(child)
            if not NAME.match(n):
                out.append(Entry(crel, "name", real, 0))
                continue
            try:
                st = os.stat(child)
            except FileNotFoundError:
                out.append(Entry(crel, "broken" if os.path.lexists(child) else "error",
                                 real, 0, "it vanished"))
                continue
            except OSError as exc:
                out.append(Entry(crel, "error", real, 0, exc.strerror or str(exc)))
                continue
            if not inside(real):
                out.append(Entry(crel, "outside", real, 0))
                continue
            if stat.S_ISDIR(st.st_mode):
                if real in ancestors:
                    out.append(Entry(crel, "loop", real, 0))
                    continue
                out.append(Entry(crel, "dir", real, 0))
                visit(child, crel, ancestors | {real})
                if out and out[-1].kind == "toomany":
                    return
            elif stat.S_ISREG(st.st_mode):
                out.append(Entry(crel, "file", real, st.st_size))
            else:
                out.append(Entry(crel, "special", real, 0))

    visit(folder, "", frozenset({os.path.realpath(folder)}))
    return out


def tree_fact(folder: str, root: str | None) -> list[object]:
    """What a check or a build of sealed files depends on besides the files'
    bytes: every entry below ``folder`` (its path, kind, real path and size)."""
    if not os.path.isdir(folder):
        return ["tree", root, None]
    return ["tree", root, [list(e) for e in walk(folder, root)]]


def tree_fact_holds(folder: str, fact: list[object]) -> bool:
    if len(fact) != 3 or not (fact[1] is None or isinstance(fact[1], str)):
        return False
    return tree_fact(folder, fact[1]) == fact  # type: ignore[arg-type]
