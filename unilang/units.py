"""Sizes: the unit table both parsers read, and the one way sizes are written back."""

from __future__ import annotations

#: The size units of the language (case-sensitive), in bytes.
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def fmt_size(n: int) -> str:
    """``n`` bytes in the largest unit that divides it: ``4 MiB``, ``1536 B``."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"
