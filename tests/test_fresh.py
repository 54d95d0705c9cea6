"""unilang.fresh: facts, and the status tokens that let a fact hold without
reading the file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from unilang import fresh


def test_a_token_lets_an_unchanged_file_pass_unread_and_never_hides_a_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.c"
    f.write_bytes(b"int a = 1;\n")
    facts = {str(f): hashlib.sha256(b"int a = 1;\n").hexdigest()}
    assert fresh.settle(facts) == {}  # changed just now: racy, no token
    monkeypatch.setattr(fresh, "RACY_NS", 0)
    tokens = fresh.settle(facts)
    assert list(tokens) == [str(f)]
    read: list[str] = []
    monkeypatch.setattr(fresh, "_sha_file", lambda p: read.append(p))  # type: ignore[func-returns-value]
    assert fresh.facts_hold(facts, tokens) and read == []
    monkeypatch.undo()
    # same size, mtime put back: the ctime still moves, so the content is hashed
    st = f.stat()
    f.write_bytes(b"int a = 2;\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not fresh.facts_hold(facts, tokens)
    # a token recorded for content that is no longer there is never stored
    monkeypatch.setattr(fresh, "RACY_NS", 0)
    assert fresh.settle(facts) == {}


def test_malformed_facts_never_hold(tmp_path: Path) -> None:
    for facts in (None, [], {"x": 3}, {"x": ["nope"]}, {str(tmp_path): "0" * 64}):
        assert not fresh.facts_hold(facts)
    assert fresh.facts_hold({str(tmp_path / "missing"): None})
    assert fresh.facts_hold({str(tmp_path): fresh.dir_fact(str(tmp_path))})
