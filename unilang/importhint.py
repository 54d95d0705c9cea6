"""Where an unknown name is declared when the spec does not import it.

A construct, library, policy or capability that no loaded module declares is
error U0031. When a `.uni` file of the project (or a module of the standard
library or the backend) that is *not* imported declares it, the error says
which file and the `import` line to add. The scan is lazy (only after an
unknown name), bounded, reads declarations with a pattern rather than a full
parse, and records what it read in the session's facts, so a cached `check`
result is dropped when one of those files or folders changes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from .fresh import dir_fact, sha_fact

#: At most this many `.uni` files are read, each at most this large.
MAX_FILES = 2000
MAX_BYTES = 1 << 20
#: Folders a project keeps build outputs, tools or other repositories in.
SKIPPED = {"build", "node_modules", "__pycache__"}

#: compiled on first use (``re``'s cache): only a check with an unknown name scans
_DECL = r"(?m)^[ \t]*(construct|library|policy|capability)[ \t]+([A-Za-z_][A-Za-z0-9_.\-]*)"


class ImportHints:
    """Declarations in the `.uni` files the load did not reach, found on demand."""

    def __init__(self, project_root: Path | None, module_dirs: Iterable[Path],
                 loaded: Iterable[Path], reads: dict[str, object],
                 declared: dict[str, tuple[object, list[tuple[str, str]]]] | None = None) -> None:
        self.project_root = project_root
        #: folders whose top-level `.uni` files are modules imported by name
        #: (`import net;`): the standard library's and the backend's
        self.module_dirs = list(module_dirs)
        self.loaded = {os.path.realpath(p) for p in loaded}
        self.reads = reads
        #: path -> (its fact, its declarations): shared by the backends of one
        #: session, so each file is read once however many backends ask
        self.declared = declared if declared is not None else {}
        self._index: dict[tuple[str, str], list[tuple[Path, bool]]] | None = None

    def _scan(self) -> dict[tuple[str, str], list[tuple[Path, bool]]]:
        index: dict[tuple[str, str], list[tuple[Path, bool]]] = {}
        budget = [MAX_FILES]

        def read(path: Path, by_name: bool) -> None:
            if budget[0] <= 0 or os.path.realpath(path) in self.loaded:
                return
            budget[0] -= 1
            known = self.declared.get(str(path))
            if known is None:
                try:
                    if path.stat().st_size > MAX_BYTES:
                        return
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    return
                known = self.declared[str(path)] = (sha_fact(str(path)), re.findall(_DECL, text))
            self.reads[str(path)] = known[0]
            for kind, name in known[1]:
                index.setdefault((kind, name), []).append((path, by_name))

        for d in self.module_dirs:
            self.reads[os.path.join(str(d), ".")] = dir_fact(str(d))
            for p in sorted(d.glob("*.uni")):
                read(p, True)
        if self.project_root is not None:
            for dirpath, dirs, names in os.walk(self.project_root):
                dirs[:] = sorted(n for n in dirs if not n.startswith(".") and n not in SKIPPED)
                self.reads[os.path.join(dirpath, ".")] = dir_fact(dirpath)
                for n in sorted(names):
                    if n.endswith(".uni"):
                        read(Path(dirpath) / n, False)
                if budget[0] <= 0:
                    break
        return index

    def help(self, kind: str, name: str, importer: Path | None) -> str | None:
        """``add `import "x.uni";` ...`` when exactly one unloaded file declares it."""
        if self._index is None:
            self._index = self._scan()
        found = self._index.get((kind, name), [])
        if len(found) != 1:
            return None
        path, by_name = found[0]
        if by_name:
            line = f"import {path.stem};"
        elif importer is not None:
            rel = os.path.relpath(path, importer.parent).replace(os.sep, "/")
            line = f'import "{rel}";'
        else:
            return None
        return f"`{name}` is declared in `{_shown(path)}`, which is not imported: add `{line}`"


def _shown(path: Path) -> str:
    from .front.source import display_name

    return display_name(path)
