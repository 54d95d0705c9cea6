"""Library folders: one folder per library, found by discovery.

A library of the standard library lives in ``stdlib/lib/<name>/``, a
backend's platform library in ``backends/<backend>/lib/<name>/``::

    <name>.uni     declares `library <name>` (and no other library)
    src/           its C and assembly sources (`sources` names them)
    include/       its public headers, visible to a build that selects it
    exports        the symbols it gives others, one per line (`#` comments)

The loader loads every ``<name>.uni`` it finds as an implicit prelude, so
adding a library is adding a folder (docs/build.md, "Adding a library").
Headers every build needs (the construct interfaces: console, shutdown,
boot state) are in ``stdlib/include/``; a backend's shared private headers
in ``backends/<backend>/include/``.
"""

from __future__ import annotations

import os
from pathlib import Path

LIB = "lib"
INCLUDE = "include"
EXPORTS = "exports"


def folders(root: Path) -> list[Path]:
    """The library folders below ``root`` (``stdlib`` or a backend folder), by name."""
    base = root / LIB
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    return [base / n for n in names if not n.startswith(".") and (base / n).is_dir()]


def module_of(folder: Path) -> Path:
    """Where the folder's declaration must be: ``<folder>/<name>.uni``."""
    return folder / f"{folder.name}.uni"


def is_library_folder(directory: Path, name: str) -> bool:
    """Whether a library declared in ``directory`` is the one its folder is named after."""
    return directory.name == name and directory.parent.name == LIB


def include_dir(directory: Path, name: str) -> Path | None:
    """The public header folder of library ``name`` declared in ``directory``, if any."""
    if not is_library_folder(directory, name):
        return None
    inc = directory / INCLUDE
    return inc if inc.is_dir() else None


def exports(directory: Path) -> list[str]:
    """The symbols a library folder exports (its ``exports`` file; none without one)."""
    try:
        text = (directory / EXPORTS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        sym = line.split("#", 1)[0].strip()
        if sym:
            out.append(sym)
    return out


def headers(inc: Path) -> list[Path]:
    """Every header below an include folder, sorted."""
    return sorted(p for p in inc.rglob("*.h") if p.is_file())
