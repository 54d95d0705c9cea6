"""SHA-256 digests and the cache's MAC from CPython's own implementations.

``import hashlib`` (and ``hmac``, which imports OpenSSL's ``_hashlib`` too)
loads libcrypto: measured on this project's hosts, +3.7 MiB of peak memory
and ~2.5 ms for every `unilang check`, the early `run` and the no-op
`build`, which only ever need SHA-256 of a few files and one MAC.  CPython
carries SHA-256 (``_sha256``; ``_sha2`` from 3.12) and BLAKE2 (``_blake2``)
without OpenSSL.  The digests are the same bytes as hashlib's; per byte they
are slower (~8 ns against ~1 ns), which is ~11 ms for bench's 1.4 MB spec of
10,000 libraries: the memory is worth more there (bench/README.md, figure 1).
Commands that hash images or layers (`build`, `package`) keep hashlib.
"""

from __future__ import annotations

try:
    from _sha256 import sha256  # CPython 3.11
except ImportError:  # pragma: no cover - 3.12 and later, or another Python
    try:
        from _sha2 import sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256  # type: ignore[no-redef]

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b  # type: ignore[no-redef]

try:
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest  # type: ignore[no-redef]

__all__ = ["sha256", "sha256_hex", "mac_hex", "compare_digest", "MAC_HEX_LEN"]

MAC_HEX_LEN = 64  # hex digits of ``mac_hex``


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, as 64 hex digits (what ``hashlib.sha256`` gives)."""
    return sha256(data).hexdigest()


def mac_hex(key: bytes, *parts: bytes) -> str:
    """Keyed BLAKE2b-256 of the concatenation of ``parts`` (RFC 7693's MAC mode;
    ``key`` at most 64 bytes): an authentication tag of MAC_HEX_LEN hex digits.
    The parts are fed in turn, so a large payload is not copied to be tagged."""
    h = blake2b(key=key, digest_size=32)
    for part in parts:
        h.update(part)
    return h.hexdigest()
