"""Where unilang finds its data (grammar, stdlib, backends) and its cache.

In a source checkout the data folders sit beside the package; in an
installed wheel they are packaged inside it (``unilang/grammar`` ...).
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    inside = _PKG / name
    if inside.is_dir():
        return inside
    return _PKG.parent / name


def grammar_dir() -> Path:
    return _data_dir("grammar")


def stdlib_dir() -> Path:
    return _data_dir("stdlib")


def backends_dir() -> Path:
    return _data_dir("backends")


def backend_dir(backend: str) -> Path:
    return backends_dir() / backend


def backend_names() -> tuple[str, ...]:
    """Every backend, by folder name, sorted: each folder under backends/ named
    in lower case letters, digits, `-` and `_` is one (``unilang.backend.load``
    says whether it is complete)."""
    base = backends_dir()
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return ()
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    return tuple(n for n in entries if n[:1].isalpha() and n[:1].islower() and set(n) <= ok
                 and (base / n).is_dir())


def default_backend() -> str:
    """The backend whose backend.toml says ``default = true``, else the first.

    Read by a scan for that one top-level line, not a TOML parser, because the
    early paths ask on every `build` and `run`; ``unilang.backend.load``
    checks that the scan and the parser agree."""
    found = backend_names()
    for n in found:
        if declares_default(backends_dir() / n / "backend.toml"):
            return n
    return found[0] if found else ""


def declares_default(descriptor: Path) -> bool:
    """Whether a backend.toml has the line `default = true` before its first table."""
    try:
        text = descriptor.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    for line in text.splitlines():
        code = line.split("#", 1)[0].strip()
        if code.startswith("["):
            return False
        if code.replace(" ", "").replace("\t", "") == "default=true":
            return True
    return False



def cache_dir() -> Path | None:
    """The per-user cache directory, created private (0700); None if unusable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "unilang"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = path.stat()
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None  # someone else's directory: do not trust what is in it
        if st.st_mode & 0o022:
            return None  # writable by others: do not trust it
    except OSError:
        return None
    return path
