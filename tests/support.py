"""What several test modules share: the checkout root, running the CLI as a
whole process, and the markers for tests that need the build tools or QEMU."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

needs_tools = pytest.mark.skipif(
    not (shutil.which("gcc") and shutil.which("ld")), reason="gcc and GNU ld are needed")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is needed")


def unilang(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m unilang ARGS` in its own process, output captured as text."""
    return subprocess.run([sys.executable, "-m", "unilang", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
