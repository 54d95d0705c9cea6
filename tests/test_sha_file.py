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


# ---------------------------------------------------------------- settle with a token taken before the read

def _old(p: Path) -> None:
    """Set the file's times back; its ctime stays now (no user can set it back)."""
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))


def test_settle_takes_a_token_from_before_the_read(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from unilang import fresh

    p = tmp_path / "spec.uni"
    p.write_bytes(b"construct a;\n")
    digest = hashlib.sha256(b"construct a;\n").hexdigest()
    token = fresh.stat_token(str(p))
    assert token is not None
    hashed: list[str] = []
    real_sha = fresh._sha_file
    monkeypatch.setattr(fresh, "_sha_file", lambda q: hashed.append(q) or real_sha(q))
    # taken long after the last change: proof enough, the file is not read again
    long_after = token[4] + fresh.RACY_NS
    assert fresh.settle({str(p): digest}, {str(p): (token, long_after)}) == {str(p): token}
    assert hashed == []
    # taken too soon after the last change: not proof (nor is the file old enough now)
    assert fresh.settle({str(p): digest}, {str(p): (token, token[4] + 1)}) == {}
    # the file changed after the token was taken: hashed again, and its digest is not
    # the recorded one
    p.write_bytes(b"construct b;\n")
    _old(p)
    assert fresh.stat_token(str(p)) != token
    monkeypatch.setattr(fresh, "RACY_NS", -(1 << 62))  # its new ctime counts as old
    assert fresh.settle({str(p): digest}, {str(p): (token, long_after)}) == {}
    assert hashed == [str(p)]
    # without a token from before, as before: hashed, and settled when the digest holds
    new = hashlib.sha256(b"construct b;\n").hexdigest()
    assert fresh.settle({str(p): new}) == {str(p): fresh.stat_token(str(p))}


def test_check_records_the_spec_token_without_hashing_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unilang import fresh
    from unilang.driver import check_spec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("UNILANG_NO_CACHE", raising=False)
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    spec = tmp_path / "app.uni"
    spec.write_text('app x {\n    sources = ["hello.c"];\n}\n')
    real = os.path.realpath(spec)
    hashed: list[str] = []
    real_sha = fresh._sha_file
    monkeypatch.setattr(fresh, "_sha_file", lambda q: hashed.append(q) or real_sha(q))
    monkeypatch.setattr(fresh, "RACY_NS", 0)  # the spec, written just now, counts as old
    session, results = check_spec(spec, ["kvm"], reuse_results=True)
    assert results[0].program is not None  # checked, not reused
    assert real not in hashed  # read once, by the loader; its token taken before that
    assert hashed  # the files read before the token could be taken are hashed as before
    # the token was recorded: the next check reuses the result, by status alone
    hashed.clear()
    session, results = check_spec(spec, ["kvm"], reuse_results=True)
    assert results[0].program is None and real not in hashed
    # a changed spec is checked again
    spec.write_text('app x {\n    sources = ["hello.c"];\n}\n# changed\n')
    session, results = check_spec(spec, ["kvm"], reuse_results=True)
    assert results[0].program is not None
