"""What the image says about itself: the document in its ``.note.unilang`` ELF
note (name "unilang", type 1, compact JSON), which ``unilang inspect`` reads
back from the image alone.  The note lives in the read-only segment and in the
file the image's sha256 covers, so the hash vouches for it too.

Deterministic: every list is in init order or sorted, keys in a fixed order.
"""

from __future__ import annotations

from typing import Any

from ..resolve import Resolution
from .netpolicy import has_stack

#: The note's format; ``unilang inspect`` reads this version and older ones.
NOTE_VERSION = 2

#: What a protection id in the note means (``unilang inspect`` prints it).
PROTECTIONS = {
    "wx-segments": "no loaded segment is both writable and executable (checked at build)",
    "rodata-readonly": "the init table, the manifest note and the policy tables are in a "
                       "segment without write permission",
    "net-policy": "the network stack enforces the policies' listen, peers and send rules",
    "wx-pages": "page tables from the segments: text read+execute, read-only data read-only, "
                "data, stacks and heap no-execute (NX when the CPU has it; CR0.WP set)",
    "stack-guard": "an unmapped page below the boot stack: an overflow faults there",
    "page0-unmapped": "page 0 is not mapped: null pointer accesses fault",
    "fault-report": "page fault, general protection, invalid opcode, double fault and divide "
                    "error print the fault, its address, RIP and function, then shut down "
                    "with exit code 125",
    "files-readonly": "the sealed files are in a read-only, no-execute segment of their own",
}


def protections(res: Resolution) -> list[str]:
    """The protections this image enforces, by id (``PROTECTIONS``)."""
    out = ["wx-segments", "rodata-readonly"]
    if has_stack(res):
        out.append("net-policy")
    if "pvh" in res.selected:  # the boot library builds the page tables and the IDT
        out += ["wx-pages", "stack-guard", "page0-unmapped", "fault-report"]
    if res.app.files_span is not None:
        out.append("files-readonly")
    return out


def document(res: Resolution) -> dict[str, Any]:
    return {
        "version": NOTE_VERSION,
        "app": res.app.name,
        "backend": res.backend,
        "memory": res.app.memory,
        "vcpus": res.app.vcpus,
        "cmdline": res.app.cmdline,
        "libraries": list(res.order),
        "params": {f"{p.library}.{p.name}": p.value for p in res.params},
        "policies": [{"name": v.policy, "ok": v.ok} for v in res.verdicts],
        # the rules the image enforces at run time: the network's, when it has a stack
        "rules": {"network": res.net.as_json()} if has_stack(res) else {},
        "protections": protections(res),
    }
