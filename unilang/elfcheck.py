"""Verifying a linked image with pyelftools.

The properties unilang guarantees: no segment is both writable and
executable; the PVH entry note (name "Xen", type 18) sits in a 4-byte
aligned PT_NOTE; the entry point lies inside the executable segment; the
file fits any policy's ``max_image_size``.
"""

from __future__ import annotations

import io
import struct

import attrs

XEN_ELFNOTE_PHYS32_ENTRY = 18
PF_X, PF_W, PF_R = 1, 2, 4


@attrs.frozen
class ImageFacts:
    size: int
    entry: int
    pvh_entry: int | None
    segments: tuple[tuple[str, int, int, int, int], ...]  # (type, flags, vaddr, memsz, align)
    notes: tuple[tuple[str, int], ...]  # (name, type)
    symbols: tuple[str, ...]


def parse_notes(data: bytes, endian: str = "<") -> list[tuple[str, int, bytes]]:
    out = []
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, off)
        off += 12
        name = data[off:off + namesz].rstrip(b"\0").decode("ascii", "replace")
        off += (namesz + 3) & ~3
        desc = data[off:off + descsz]
        off += (descsz + 3) & ~3
        out.append((name, ntype, desc))
    return out


def inspect(image: bytes) -> ImageFacts:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(image))
    segs = []
    notes: list[tuple[str, int]] = []
    pvh = None
    for seg in elf.iter_segments():
        h = seg.header
        segs.append((h.p_type, h.p_flags, h.p_vaddr, h.p_memsz, h.p_align))
        if h.p_type == "PT_NOTE":
            for name, ntype, desc in parse_notes(seg.data()):
                notes.append((name, ntype))
                if name == "Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY and h.p_align % 4 == 0 \
                        and h.p_align <= 4 and len(desc) >= 4:
                    pvh = struct.unpack_from("<I", desc)[0]
    symbols: list[str] = []
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None:
        symbols = sorted({s.name for s in symtab.iter_symbols() if s.name})  # type: ignore[attr-defined]
    return ImageFacts(len(image), elf.header.e_entry, pvh, tuple(segs), tuple(notes),
                      tuple(symbols))


def verify(image: bytes, max_size: int | None) -> tuple[ImageFacts | None, list[str]]:
    """The image's facts and every property it breaks (empty when it is sound)."""
    from elftools.common.exceptions import ELFError

    try:
        facts = inspect(image)
    except (ELFError, struct.error, ValueError) as exc:
        return None, [f"not a readable ELF file: {exc}"]
    problems = []
    for typ, flags, vaddr, memsz, _align in facts.segments:
        if typ == "PT_LOAD" and flags & PF_W and flags & PF_X:
            problems.append(f"segment at 0x{vaddr:x} is both writable and executable")
    note_segs = [s for s in facts.segments if s[0] == "PT_NOTE"]
    if not note_segs:
        problems.append("no PT_NOTE segment")
    elif facts.pvh_entry is None:
        problems.append("no PVH entry note (\"Xen\", type 18) in a 4-byte aligned PT_NOTE")
    text = [s for s in facts.segments if s[0] == "PT_LOAD" and s[1] & PF_X]
    if not any(v <= facts.entry < v + m for _t, _f, v, m, _a in text):
        problems.append(f"entry point 0x{facts.entry:x} is not inside an executable segment")
    if facts.pvh_entry is not None and not any(v <= facts.pvh_entry < v + m
                                               for _t, _f, v, m, _a in text):
        problems.append(f"PVH entry 0x{facts.pvh_entry:x} is not inside an executable segment")
    if max_size is not None and facts.size > max_size:
        problems.append(f"image is {facts.size} bytes, above the policy limit of {max_size}")
    return facts, problems
