"""The on-disk cache: module summaries and `check` results, keyed by content hash.

Where: ``$XDG_CACHE_HOME/unilang`` (else ``~/.cache/unilang``), a private
(0700) directory owned by the user; anything else is not trusted and the
cache is off.  ``UNILANG_NO_CACHE=1`` turns it off too.

Safety:
* entries are JSON, never pickle: a corrupted or hostile entry cannot run
  code, and one that fails to decode is a miss;
* every entry carries a MAC (keyed BLAKE2b-256, ``unilang.digest``) over its
  name and bytes with a per-user random key (``key``, mode 0600): an entry written by anyone without that key is
  rejected, so the cache cannot be used to smuggle a different tree in;
* an entry (or the key) that is not a regular file of this user -- a link,
  a FIFO, a device -- is never followed or read: it is a miss, and the next
  write replaces it;
* writers write a temporary file in the same directory and rename it into
  place, so concurrent writers and readers only ever see whole entries.

Namespaces are versioned by unilang's version and a hash of the grammar
and of this module's format, so an upgrade never reads an old entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

from . import __version__, paths
from .digest import MAC_HEX_LEN, compare_digest, mac_hex, sha256
from .fsutil import atomic_write
from .front import syntax as S
from .diagnostics import Diagnostic, Span

FORMAT = 4  # 3: entries authenticated by keyed BLAKE2b (HMAC-SHA256 before); 4: a
            # summary's definitions as one string (``Defines``), not a list


#: Larger entries are not read (a summary or a check result is far smaller).
MAX_ENTRY_BYTES = 256 * 1024 * 1024


def _read_regular(path: Path, limit: int, private: bool = False) -> bytes | None:
    """A cache file's bytes, or None: only a regular file (not a link, FIFO or
    device) of at most ``limit`` bytes, owned by this user and, with
    ``private``, not readable by others, unchanged while it was read."""
    from .fsutil import read_regular

    try:
        return read_regular(path, limit, nofollow=True, owned=True, private=private)
    except OSError:
        return None


class DiskCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.key = self._key()
        self.enabled = self.key is not None

    def _key(self) -> bytes | None:
        path = self.root / "key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError:
            return None
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32))
        key = _read_regular(path, 32, private=True)
        # missing, not a private regular file, or half-written by a racing writer: off
        return key if key is not None and len(key) == 32 else None

    def _mac(self, namespace: str, digest: str, payload: bytes) -> bytes:
        """The tag that authenticates an entry: keyed by this cache's secret
        key, over the entry's name and its payload."""
        assert self.key is not None
        return mac_hex(self.key, namespace.encode(), b"\0", digest.encode(), b"\0",
                       payload).encode()

    def _path(self, namespace: str, digest: str) -> Path:
        return self.root / namespace / digest[:2] / digest[2:]

    def get(self, namespace: str, digest: str) -> bytes | None:
        if not self.enabled:
            return None
        data = _read_regular(self._path(namespace, digest), MAX_ENTRY_BYTES)
        if data is None:
            return None  # a miss: put() replaces whatever is there
        mac, payload = data[:MAC_HEX_LEN], data[MAC_HEX_LEN:]
        if not compare_digest(mac, self._mac(namespace, digest, payload)):
            return None
        return payload

    def put(self, namespace: str, digest: str, payload: bytes) -> None:
        if not self.enabled:
            return
        path = self._path(namespace, digest)
        mac = self._mac(namespace, digest, payload)
        try:
            atomic_write(path, mac + payload, mode=0o600, durable=False, dir_mode=0o700)
        except OSError:
            pass  # a cache that cannot be written is only slower


def open_cache() -> DiskCache | None:
    if os.environ.get("UNILANG_NO_CACHE"):
        return None
    root = paths.cache_dir()
    if root is None:
        return None
    cache = DiskCache(root)
    return cache if cache.enabled else None


def namespace(kind: str) -> str:
    """The entries of one kind made by exactly this unilang: its version, the
    grammar, and the identity (size, modification time) of every module of the
    package, so that editing the compiler in a checkout never reuses a result
    the old code computed."""
    h = sha256()
    h.update(f"{__version__}/{FORMAT}/{kind}".encode())
    h.update((paths.grammar_dir() / "unilang.lark").read_bytes())
    pkg = Path(__file__).resolve().parent
    for source in sorted(pkg.rglob("*.py")):
        try:
            st = source.stat()
        except OSError:
            continue
        h.update(f"{source.relative_to(pkg)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return f"{kind}-{h.hexdigest()[:16]}"


# ---------------------------------------------------------------- module summaries

def encode_summary(module: S.Module, parsed: "Parsed | None" = None) -> bytes:
    """What loading needs of a module: its imports (without their comments) and
    the names it defines.  Spans lose their file name; the reader adds the
    module's current one.  ``parsed``: the module's summary already made
    (``Parsed.of``), whose definitions are reused."""
    imports = [[d.target, d.is_path, *_span_numbers(d.span), *_span_numbers(d.target_span)]
               for d in module.decls if isinstance(d, S.Import)]
    defines = (parsed if parsed is not None else Parsed.of(module)).defines
    return json.dumps({"imports": imports, "defines": defines.text}, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _span_numbers(span: Span | None) -> tuple[int, int, int, int]:
    assert span is not None  # both parsers give every import its target's span
    return span.line, span.column, span.end_line, span.end_column


def decode_summary(payload: bytes, name: str) -> tuple[tuple[S.Import, ...], "Defines"]:
    """The inverse of ``encode_summary``; raises ValueError on anything malformed."""
    doc = json.loads(payload)
    imports = []
    for target, is_path, *numbers in doc["imports"]:
        if not isinstance(target, str) or not isinstance(is_path, bool) or len(numbers) != 8 \
                or not all(isinstance(n, int) for n in numbers):
            raise ValueError("malformed import")
        imports.append(S.Import(target, is_path, Span(name, *numbers[:4]),
                                Span(name, *numbers[4:])))
    defines = doc["defines"]
    if not isinstance(defines, str):
        raise ValueError("malformed definitions")
    return tuple(imports), Defines.of_text(defines)


class CacheInconsistent(Exception):
    """A cached summary whose file changed under us mid-command."""


class Defines:
    """The definitions of a module, ``kind:name`` each, in the order of the file:
    a sequence of strings kept as one string.  A 100,000-library module defines
    200,000 names; as separate strings they took 12.5 MB for as long as the
    command ran, as one string 1.5 MB.  Readers iterate (most once per command)."""

    __slots__ = ("_text", "_count")

    def __init__(self, names: list[str]) -> None:
        self._text = "\n".join(names)  # no name holds a line end
        self._count = len(names)

    @classmethod
    def of_text(cls, text: str) -> "Defines":
        """The definitions ``text`` (``Defines.text``) holds."""
        out = cls([])
        out._text = text
        out._count = text.count("\n") + 1 if text else 0
        return out

    @property
    def text(self) -> str:
        """The definitions, one a line (as the parse cache stores them)."""
        return self._text

    def __iter__(self) -> Iterator[str]:
        return iter(self._text.split("\n") if self._count else ())

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> str:
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Defines):
            return self._count == other._count and self._text == other._text
        return isinstance(other, tuple) and tuple(self) == other

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Defines({list(self)!r})"


class Parsed:
    """What the loader needs of a parsed module; the tree itself is built on demand."""

    __slots__ = ("imports", "defines", "_tree", "_thunk")

    def __init__(self, imports: tuple[S.Import, ...], defines: Defines,
                 tree: S.Module | None = None,
                 thunk: Callable[[], S.Module] | None = None) -> None:
        self.imports = imports
        self.defines = defines
        self._tree = tree
        self._thunk = thunk

    @classmethod
    def of(cls, module: S.Module) -> "Parsed":
        imports = []
        defines = []
        for d in module.decls:
            if type(d) is S.Import:
                imports.append(d)
            else:
                defines.append(f"{d.kind}:{d.name}")  # type: ignore[union-attr]
        return cls(tuple(imports), Defines(defines), tree=module)

    def release(self, thunk: Callable[[], S.Module]) -> None:
        """Forget the tree, which ``thunk`` makes again if it is asked for: `check`
        lets the syntax trees go once the program is modelled, so that resolution
        reuses their memory (on bench's 100,000-library world the tree of the spec
        is about 360 MiB)."""
        if self._tree is not None:
            self._tree = None
            self._thunk = thunk

    @property
    def tree(self) -> S.Module:
        if self._tree is None:
            assert self._thunk is not None
            self._tree = self._thunk()
            self._thunk = None
        return self._tree


def reparse(path: Path, digest: str, name: str) -> Callable[[], S.Module]:
    """Parsing ``path`` again, for a tree that was not kept; raises
    ``CacheInconsistent`` if the file no longer has ``digest``."""

    def thunk() -> S.Module:
        from .front import parse
        from .front.source import read_source

        src = read_source(path, name)
        if isinstance(src, Diagnostic) or src.digest != digest:
            raise CacheInconsistent(path)
        module, errs = parse(src, lazy=True)
        if module is None or errs:
            raise CacheInconsistent(path)
        return module

    return thunk


class MemoryCache:
    """Parsed modules kept for the life of one command (e.g. both backends)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Parsed] = {}

    def get(self, path: Path, digest: str, name: str) -> Parsed | None:
        return self._items.get((str(path), digest))

    def put(self, path: Path, digest: str, name: str, module: S.Module) -> Parsed:
        parsed = Parsed.of(module)
        self._items[(str(path), digest)] = parsed
        return parsed


class PersistentCache(MemoryCache):
    """The memory cache in front of the on-disk one.

    On disk it keeps each module's *summary* (its imports and the names it
    defines), which is all loading needs, and `check` results (see
    ``unilang.driver.ResultCache``).  It does not keep syntax trees: measured
    on a 10,000-library module, decoding a cached tree (JSON or marshal) took
    1.3-1.7 s against 0.85 s for parsing the source with the fast parser, so
    a tree is always re-parsed from its file when a stage needs it."""

    def __init__(self, disk: DiskCache) -> None:
        super().__init__()
        self.disk = disk
        self.ns = namespace("parse")

    def get(self, path: Path, digest: str, name: str) -> Parsed | None:
        hit = super().get(path, digest, name)
        if hit is not None:
            return hit
        payload = self.disk.get(self.ns, digest)
        if payload is None:
            return None
        try:
            imports, defines = decode_summary(payload, name)
        except (ValueError, KeyError, TypeError, IndexError):
            return None  # a damaged entry is a miss

        parsed = Parsed(imports, defines, thunk=reparse(path, digest, name))
        self._items[(str(path), digest)] = parsed
        return parsed

    def put(self, path: Path, digest: str, name: str, module: S.Module) -> Parsed:
        parsed = super().put(path, digest, name, module)
        self.disk.put(self.ns, digest, encode_summary(module, parsed))
        return parsed


def parse_cache() -> MemoryCache:
    """The persistent parse cache when the cache directory is usable, else memory only."""
    disk = open_cache()
    return PersistentCache(disk) if disk is not None else MemoryCache()
