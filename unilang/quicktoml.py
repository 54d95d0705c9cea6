"""Backend descriptors (``backend.toml``) without importing ``tomllib``.

Every `check` reads each backend's descriptor; ``tomllib`` and what it
imports (``datetime``, ``string``, its own regular expressions) cost 3-4 ms
of a check's start.  The descriptors use a small part of TOML: comments,
``[table]`` headers, and ``key = value`` lines whose value is a basic string
without escapes, ``true``, ``false``, or a one-line array of such strings.
``loads`` reads exactly that part and returns what ``tomllib.loads`` returns
for it; on anything else (another kind of value, a dotted or quoted key, a
multi-line array, an escape, a redefined key or table, a character it does
not expect) it returns None, and the caller asks ``tomllib``, which also
words every error.  ``tests/test_quicktoml.py`` compares the two.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_WS = " \t"


def loads(text: str) -> dict[str, Any] | None:
    """``tomllib.loads(text)`` for the plain part of TOML described above;
    None for anything else (never an exception)."""
    # Only printable characters, tabs and line feeds: no carriage return, no
    # other control character, no BOM, no separator or format character.
    if not text.replace("\t", "").replace("\n", "").isprintable():
        return None
    root: dict[str, Any] = {}
    table = root
    for raw in text.split("\n"):
        line = raw.strip(_WS)
        if not line or line[0] == "#":
            continue
        if line[0] == "[":
            end = line.find("]")
            name = line[1:end]
            if end < 0 or not _bare(name) or not _end_of_line(line[end + 1:]) or name in root:
                return None
            table = root[name] = {}
            continue
        eq = line.find("=")
        key = line[:eq].rstrip(_WS) if eq > 0 else ""
        if not _bare(key) or key in table:
            return None
        value, rest = _value(line[eq + 1:].lstrip(_WS))
        if value is None or not _end_of_line(rest):
            return None
        table[key] = value
    return root


def _bare(key: str) -> bool:
    return bool(key) and _BARE.issuperset(key)


def _end_of_line(rest: str) -> bool:
    """Only blanks and a comment may follow a value or a table header."""
    rest = rest.lstrip(_WS)
    return not rest or rest[0] == "#"


def _string(s: str) -> tuple[str | None, str]:
    """A basic string without escapes at the start of ``s``, and what follows it."""
    if not s.startswith('"') or s.startswith('"""'):
        return None, s
    end = s.find('"', 1)
    if end < 0 or "\\" in s[1:end]:
        return None, s
    return s[1:end], s[end + 1:]


def _value(s: str) -> tuple[Any, str]:
    """The value at the start of ``s`` (None when it is not of the plain part),
    and what follows it on the line."""
    if s.startswith('"'):
        return _string(s)
    for word, value in (("true", True), ("false", False)):
        if s.startswith(word):
            return value, s[len(word):]
    if not s.startswith("["):
        return None, s
    items: list[str] = []
    s = s[1:].lstrip(_WS)
    while not s.startswith("]"):
        item, s = _string(s)
        if item is None:
            return None, s
        items.append(item)
        s = s.lstrip(_WS)
        if s.startswith(","):
            s = s[1:].lstrip(_WS)
        elif not s.startswith("]"):
            return None, s
    return items, s[1:]
