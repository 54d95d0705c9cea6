"""Where unilang finds its data (grammar, stdlib, backends) and its cache.

In a source checkout the data folders sit beside the package; in an
installed wheel they are packaged inside it (``unilang/grammar`` ...).
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent

BACKENDS = ("kvm", "xen")


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
