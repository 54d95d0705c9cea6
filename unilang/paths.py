"""Where unilang finds its data (grammar, stdlib, backends) and its cache.

In a source checkout the data folders sit beside the package; in an
installed wheel they are packaged inside it (``unilang/grammar`` ...).

Only ``os`` is imported at load time (``pathlib`` when a ``Path`` is asked
for): the early paths of `build` and `run` find the default backend and the
cache directory here before QEMU starts.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

_PKG = os.path.dirname(os.path.realpath(__file__))


def _data_path(name: str) -> str:
    inside = os.path.join(_PKG, name)
    if os.path.isdir(inside):
        return inside
    return os.path.join(os.path.dirname(_PKG), name)


def _data_dir(name: str) -> Path:
    from pathlib import Path

    return Path(_data_path(name))


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
    base = _data_path("backends")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return ()
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    return tuple(n for n in entries if n[:1].isalpha() and n[:1].islower() and set(n) <= ok
                 and os.path.isdir(os.path.join(base, n)))


def default_backend() -> str:
    """The backend whose backend.toml says ``default = true``, else the first.

    Read by a scan for that one top-level line, not a TOML parser, because the
    early paths ask on every `build` and `run`; ``unilang.backend.load``
    checks that the scan and the parser agree."""
    found = backend_names()
    for n in found:
        if declares_default(os.path.join(_data_path("backends"), n, "backend.toml")):
            return n
    return found[0] if found else ""


def declares_default(descriptor: str | os.PathLike[str]) -> bool:
    """Whether a backend.toml has the line `default = true` before its first table."""
    try:
        with open(descriptor, encoding="utf-8") as f:
            text = f.read()
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
    path = cache_path()
    if path is None:
        return None
    from pathlib import Path

    return Path(path)


def cache_path() -> str | None:
    """``cache_dir()`` as a string (without importing ``pathlib``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "unilang")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None  # someone else's directory: do not trust what is in it
        if st.st_mode & 0o022:
            return None  # writable by others: do not trust it
    except OSError:
        return None
    return path
