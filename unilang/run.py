"""`unilang run`: boot a built image under QEMU microvm and return the guest's exit code.

The guest ends by writing its code to QEMU's isa-debug-exit port, which
makes QEMU exit with status (code << 1) | 1; this module decodes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs

from .diagnostics import Diagnostic, error

QEMU = "qemu-system-x86_64"
TIMEOUT_EXIT = 124


@attrs.frozen
class RunResult:
    exit_code: int
    diagnostic: Diagnostic | None = None


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def runtime_argv(outdir: Path, accel: str | None = None) -> list[str]:
    """The argv from qemu.json, with one accelerator chosen for this machine."""
    argv = json.loads((outdir / "qemu.json").read_text(encoding="utf-8"))
    chosen = accel or ("kvm" if kvm_usable() else "tcg")
    out: list[str] = []
    i = 0
    placed = False
    while i < len(argv):
        if argv[i] == "-accel":
            if not placed:
                out += ["-accel", chosen]
                placed = True
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def decode(status: int) -> int | None:
    """The guest's exit code from QEMU's status, or None when it is not a debug-exit."""
    if status > 0 and status & 1:
        return status >> 1
    return None


def boot(outdir: Path, timeout: float, accel: str | None = None,
         stdout: int | None = None) -> RunResult:
    qemu = shutil.which(QEMU)
    if qemu is None:
        return RunResult(1, error("U0200", f"`{QEMU}` is not installed",
                                  help="Debian: `apt-get install qemu-system-x86`"))
    argv = runtime_argv(outdir, accel)
    argv[0] = qemu
    proc = subprocess.Popen(argv, cwd=outdir, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE)
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return RunResult(TIMEOUT_EXIT, error(
            "U0203", f"the guest did not stop within {timeout:g} s and was killed",
            help="raise `--timeout`, or check that the app returns from main"))
    text = err.decode("utf-8", "replace")
    code = decode(proc.returncode)
    errors = [l for l in text.splitlines()
              if l.startswith("qemu-system") and ": warning:" not in l]
    qemu_failed = bool(errors) and (code is None or proc.returncode == 1)
    if qemu_failed or code is None:
        notes = tuple(l for l in text.splitlines() if l.strip())[-10:]
        if proc.returncode == 0:
            msg = "the guest stopped without an exit code (a reset or triple fault)"
        else:
            msg = f"QEMU failed with status {proc.returncode}"
        return RunResult(1, error("U0205", msg, notes=notes))
    if text.strip():
        sys.stderr.write(text)
    return RunResult(code)
