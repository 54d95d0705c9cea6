"""JSON for the early paths, without importing ``json``.

``json`` imports ``re`` (and with it ``enum``, ``functools`` ...): several
milliseconds that an up-to-date `unilang run` spends before QEMU starts.
The parsing and encoding ``json`` itself does are CPython's C accelerator,
``_json``; this module calls the same C scanner and encoder with the settings
``json.loads`` and ``json.dumps`` use by default, so the results are the
same (``tests/test_quickjson.py`` compares them).  Where ``_json`` is
missing (another Python) it falls back to ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """What ``_json.make_scanner`` reads from ``json.JSONDecoder()``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict[str, str] = {}


try:
    import _json

    _scan = _json.make_scanner(_Context())
    _encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ",
                                 False, False, True)
except (ImportError, AttributeError, TypeError):  # pragma: no cover - not CPython
    _scan = _encode = None


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``: the same value, ValueError where it raises one."""
    if isinstance(text, bytes):
        if _scan is None or text[:3] == b"\xef\xbb\xbf" or b"\x00" in text[:4]:
            import json  # a BOM, UTF-16 or UTF-32: json detects the encoding

            return json.loads(text)
        text = text.decode("utf-8", "surrogatepass")  # as json: a ValueError when invalid
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start, end = len(text) - len(text.lstrip(_WS)), len(text.rstrip(_WS))
    if start >= end or text.startswith("\ufeff"):
        import json

        return json.loads(text)  # raises json's own error
    try:
        value, stop = _scan(text, start)
    except StopIteration:
        import json

        return json.loads(text)  # raises json's own error
    if stop != end:
        import json

        return json.loads(text)  # "Extra data": json's own error
    return value


def dumps(value: object) -> str:
    """``json.dumps(value)`` (ASCII, ", " and ": ", keys in their order)."""
    if _encode is None:  # pragma: no cover
        import json

        return json.dumps(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    return "".join(_encode(value, 0))
