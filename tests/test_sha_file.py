"""``fresh._sha_file``: a file's digest read a MiB at a time, and None for what is
not a regular file, as the whole-file read it replaced gave."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from unilang.fresh import _sha_file, sha_fact

MIB = 1 << 20


@pytest.mark.parametrize("size", [0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 7])
def test_digest_across_chunks(tmp_path: Path, size: int) -> None:
    p = tmp_path / "f"
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    p.write_bytes(data)
    assert _sha_file(str(p)) == hashlib.sha256(data).hexdigest()
    assert sha_fact(str(p)) == hashlib.sha256(data).hexdigest()


def test_not_a_regular_file(tmp_path: Path) -> None:
    assert _sha_file(str(tmp_path)) is None
    assert _sha_file(str(tmp_path / "missing")) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # never read: it could block forever
    assert _sha_file(str(fifo)) is None
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert _sha_file(str(tmp_path / "link")) == hashlib.sha256(b"x").hexdigest()
