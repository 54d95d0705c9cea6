"""Verifying a linked image with pyelftools.

The properties unilang guarantees: no segment is both writable and
executable; the PVH entry note (name "Xen", type 18) sits in a 4-byte
aligned PT_NOTE; the entry point lies inside the executable segment; the
file fits any policy's ``max_image_size``; and the app's ``memory`` holds
the image's footprint (``memory_shortfall``).
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

import attrs

from .diagnostics import Diagnostic, error
from .units import fmt_size

if TYPE_CHECKING:
    from .model import App

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
    #: The highest ``p_paddr + p_memsz`` of a PT_LOAD segment: the physical address
    #: where the loaded image, its .bss included, ends.
    load_end: int = 0


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
    load_end = 0
    for seg in elf.iter_segments():
        h = seg.header
        segs.append((h.p_type, h.p_flags, h.p_vaddr, h.p_memsz, h.p_align))
        if h.p_type == "PT_LOAD":
            load_end = max(load_end, h.p_paddr + h.p_memsz)
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
                      tuple(symbols), load_end)


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


PAGE = 4096
MIB = 1 << 20


def footprint(facts: ImageFacts) -> int:
    """The guest RAM an image needs, from physical address 0: up to the end of its
    highest PT_LOAD segment, page aligned (where the linker script puts
    ``__image_end``).  Everything the runtime needs at a fixed place is in that
    range: the stacks are a segment of their own (above their guard page), the
    page tables are in .bss (``pvh_entry.S``'s boot area), and the PVH start
    info, memory map and command line are the loader's,
    in low memory.  The heap is not: it takes whatever RAM the memory map reports
    above ``__image_end``, so it has no fixed size to add."""
    return -(-facts.load_end // PAGE) * PAGE


def _mib_up(n: int) -> str:
    """``n`` bytes in MiB, rounded *up* to a tenth: never shown smaller than it is."""
    tenths = -(-n * 10 // MIB)
    return f"{tenths // 10} MiB" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10} MiB"


def memory_shortfall(facts: ImageFacts, app: App) -> Diagnostic | None:
    """U0208 when the app's ``memory`` is below the image's footprint: the image
    would still boot, but its writes above the end of RAM would be lost, or
    the guest would triple-fault."""
    need = footprint(facts)
    if app.memory >= need:
        return None
    notes = [f"the image is loaded at 1 MiB and ends at 0x{need:x}; guest RAM is "
             f"0x0 .. 0x{app.memory:x}"]
    if app.memory_span is None:
        notes.append(f"app `{app.name}` does not set `memory`; {fmt_size(app.memory)} is the "
                     "default")
    return error("U0208", f"`memory = {fmt_size(app.memory)}` is smaller than the image's "
                 f"footprint of {_mib_up(need)} (loaded segments, bss, stack and page tables)",
                 app.memory_span or app.span, notes=notes,
                 help=f"set `memory = {-(-need // MIB)} MiB;` or more: the heap, if the app "
                      "has one, takes the RAM above the image")
