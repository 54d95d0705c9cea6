"""Can QEMU run a guest under KVM on this host?  Asked once, answered from the cache.

On some hosts ``/dev/kvm`` opens, yet QEMU aborts as it sets up the vCPU
(nested hosts: ``failed to set MSR 0x10a``, SIGABRT).  ``--accel auto`` must
mean "KVM when it works here", so the first run boots a tiny probe image
(``probe_image``: a PVH ELF whose three instructions write 0 to the
isa-debug-exit port) under ``-accel kvm`` and caches the verdict in the user's
cache directory, keyed by the QEMU binary's identity (resolved path, size,
mtime) and the host kernel's release.  A cache entry that cannot be read,
parsed or matched (corrupt, hostile, a symlink) is a miss.

Only ``os`` and ``stat`` (and the C modules ``_json`` and ``zlib``) are
imported on the hit path: `run` asks before it starts QEMU.
"""

from __future__ import annotations

import os
import stat

from . import quickjson

#: Bump when the probe or the entry format changes: old verdicts are then misses.
PROBE_VERSION = 1
PROBE_TIMEOUT = 20.0
MAX_ENTRY_BYTES = 4096
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"

def with_accel(argv: list[str], accel: str) -> list[str]:
    """A QEMU argv (qemu.json's) with its `-accel` options replaced by one:
    ``accel``, where the first stood.  The one rewrite of accelerators: `run`,
    run-qemu.sh's TCG fallback and the bench all use it."""
    out: list[str] = []
    i = 0
    placed = False
    while i < len(argv):
        if argv[i] == "-accel":
            if not placed:
                out += ["-accel", accel]
                placed = True
            i += 2
            continue
        out.append(argv[i])
        i += 1
    if not placed:
        out[1:1] = ["-accel", accel]
    return out


_BASE = 0x100000           # load address (1 MiB), as the images'
_EHDR, _PHDR = 64, 56
_CODE_OFF = _EHDR + 2 * _PHDR
# xor %eax,%eax; mov $0xf4,%dx; out %eax,(%dx); 1: cli; hlt; jmp 1b
_CODE = bytes.fromhex("31c0" "66baf400" "ef" "fa" "f4" "ebfc")
_XEN_ELFNOTE_PHYS32_ENTRY = 18


def probe_image() -> bytes:
    """A minimal PVH ELF64: one R+X PT_LOAD and a PT_NOTE with Xen's
    PHYS32_ENTRY note; its 32-bit entry writes 0 to port 0xf4, so QEMU exits
    with status 1 (the status of a guest whose main returns 0)."""
    import struct

    entry = _BASE + _CODE_OFF
    note_off = (_CODE_OFF + len(_CODE) + 3) & ~3
    note = struct.pack("<III4sI", 4, 4, _XEN_ELFNOTE_PHYS32_ENTRY, b"Xen\0", entry)
    total = note_off + len(note)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)   # ELF64, little endian, v1
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, _EHDR, 0, 0,
                               _EHDR, _PHDR, 2, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, total, total, 0x1000)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, _BASE + note_off, _BASE + note_off,
                        len(note), len(note), 4)
    body = ehdr + load + pnote + _CODE
    return body + bytes(note_off - len(body)) + note


def probe_argv(qemu: str, image: str) -> list[str]:
    """The probe's command line: the machine and CPU of every image's qemu.json."""
    return [qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "max", "-m", "16M", "-smp", "1",
            "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none",
            "-device", DEBUG_EXIT, "-kernel", image]


def cache_key(qemu: str) -> str | None:
    """What the verdict depends on; None when the binary cannot be identified."""
    try:
        real = os.path.realpath(qemu)
        st = os.stat(real)
    except OSError:
        return None
    return quickjson.dumps([PROBE_VERSION, real, st.st_size, st.st_mtime_ns,
                            os.uname().release, probe_argv("", "")])


def _entry_path(key: str) -> str | None:
    import zlib

    from .paths import cache_path

    d = cache_path()
    if d is None:
        return None
    # The name only spreads entries (the key inside decides): a CRC is enough,
    # and cheaper to import than hashlib on the way to starting QEMU.
    return os.path.join(d, f"kvm-probe-{zlib.crc32(key.encode()):08x}.json")


def read_verdict(path: str, key: str) -> bool | None:
    """The cached verdict for ``key``, or None on any doubt."""
    try:
        # O_NONBLOCK: a FIFO planted there must not hang the run
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_ENTRY_BYTES:
        return None
    try:
        doc = quickjson.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    verdict = doc.get("kvm_runs_guest")
    return verdict if isinstance(verdict, bool) else None


def run_probe(qemu: str) -> bool | None:
    """Boot the probe image under KVM: True when the guest ran and exited,
    False when QEMU failed, None when it did not finish in time (no verdict)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="unilang-kvm-probe-") as tmp:
        image = os.path.join(tmp, "probe.elf")
        with open(image, "wb") as f:
            f.write(probe_image())
        try:
            proc = subprocess.run(probe_argv(qemu, image), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=PROBE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return None
        except OSError:
            return False
    return proc.returncode == 1


def kvm_runs_guest(qemu: str) -> bool:
    """Whether QEMU ``qemu`` can run a guest under KVM here (cached per binary and kernel)."""
    key = cache_key(qemu)
    path = _entry_path(key) if key is not None else None
    if key is not None and path is not None:
        cached = read_verdict(path, key)
        if cached is not None:
            return cached
    verdict = run_probe(qemu)
    if verdict is None:
        return False  # too slow to tell this time: TCG, and ask again next time
    if key is not None and path is not None:
        from pathlib import Path

        from .fsutil import atomic_write

        doc = {"key": key, "kvm_runs_guest": verdict}
        try:
            atomic_write(Path(path), quickjson.dumps(doc).encode(), mode=0o600, durable=False)
        except OSError:
            pass
    return verdict
