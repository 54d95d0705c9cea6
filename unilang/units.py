"""Sizes: the unit table both parsers read, and the one way sizes are written back."""

from __future__ import annotations

#: The size units of the language (case-sensitive), in bytes.
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
#: The units as messages list them: "B, KiB, MiB, GiB, TiB".
UNIT_LIST = ", ".join(UNITS)


def fmt_size(n: int) -> str:
    """``n`` bytes in the largest unit that divides it: ``4 MiB``, ``1536 B``."""
    for unit, size in reversed(UNITS.items()):
        if n and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"
