"""The on-disk cache: content-addressed, tamper-evident, safe for concurrent writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unilang import cache as C
from unilang.driver import Session, check_spec

from support import imported_modules

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cachehome"
    home.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("UNILANG_NO_CACHE", raising=False)
    return home / "unilang"


def project(tmp_path: Path, n_modules: int = 3) -> Path:
    d = tmp_path / "proj"
    (d / "mods").mkdir(parents=True)
    (d / "main.c").write_text("int main(void) { return 0; }\n")
    imports = "\n".join(f"import mods.m{i};" for i in range(n_modules))
    requires = ", ".join(f"t.c{i}" for i in range(n_modules))
    (d / "app.uni").write_text(f"{imports}\napp a {{ sources = [\"main.c\"]; "
                               f"requires = [{requires}]; }}\n")
    for i in range(n_modules):
        (d / "mods" / f"m{i}.uni").write_text(
            f"construct t.c{i};\nlibrary l{i} {{ provides = [t.c{i}]; }}\n")
    return d / "app.uni"


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import unilang.front as F

    parsed: list[str] = []
    real = F.parse

    def spy(src, **kw):  # type: ignore[no-untyped-def]
        parsed.append(src.name)
        return real(src, **kw)

    monkeypatch.setattr(F, "parse", spy)
    return parsed


def test_warm_check_parses_nothing(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = project(tmp_path)
    parsed = count_parses(monkeypatch)
    check_spec(spec, ["kvm"], reuse_results=True)
    assert len(parsed) >= 4  # the spec, its three modules, stdlib, the backend
    parsed.clear()
    session, results = check_spec(spec, ["kvm"], reuse_results=True)
    assert parsed == [] and not session.sink.items
    assert results[0].app_name == "a"
    # after a change, loading still takes the other modules' imports from the cache:
    # only the changed file is parsed before checking starts
    m1 = spec.parent / "mods" / "m1.uni"
    m1.write_text(m1.read_text() + "# changed\n")
    parsed.clear()
    from unilang.driver import Session

    s = Session()
    for backend in ("kvm",):
        s.load(spec, backend)
    assert [Path(p).name for p in parsed] == ["m1.uni"]


def test_check_results_are_reused_and_invalidated(tmp_path: Path, cache_home: Path) -> None:
    spec = project(tmp_path)
    s1, r1 = check_spec(spec, ["kvm", "xen"], reuse_results=True)
    assert r1[0].program is not None  # computed
    s2, r2 = check_spec(spec, ["kvm", "xen"], reuse_results=True)
    assert r2[0].program is None and r2[0].app_name == "a"  # reused
    assert s2.sink.items == s1.sink.items
    # a source file named by the spec disappears: the entry no longer applies
    (spec.parent / "main.c").unlink()
    s3, r3 = check_spec(spec, ["kvm", "xen"], reuse_results=True)
    assert r3[0].program is not None
    assert [d.code for d in s3.sink.sorted()] == ["U0041"]


def test_tampered_entries_are_ignored(tmp_path: Path, cache_home: Path) -> None:
    spec = project(tmp_path)
    check_spec(spec, ["kvm"])
    entries = [p for p in cache_home.rglob("*") if p.is_file() and p.name != "key"
               and not p.name.endswith("lark-cache")]
    assert entries
    for p in entries:
        data = bytearray(p.read_bytes())
        data[-2] ^= 0x01  # flip a bit in the payload, keep the MAC
        p.write_bytes(bytes(data))
    session, results = check_spec(spec, ["kvm"])
    assert not session.sink.items and results[0].resolution is not None
    # a forged entry with a MAC made under another key is rejected too
    (tmp_path / "elsewhere").mkdir()
    forged = C.DiskCache(tmp_path / "elsewhere")
    forged.put("ns", "ab" * 32, b"payload")
    stolen = (tmp_path / "elsewhere" / "ns" / "ab" / ("ab" * 31)).read_bytes()
    mine = C.DiskCache(cache_home)
    target = cache_home / "ns" / "ab" / ("ab" * 31)
    target.parent.mkdir(parents=True)
    target.write_bytes(stolen)
    assert forged.get("ns", "ab" * 32) == b"payload"
    assert mine.get("ns", "ab" * 32) is None


def test_damaged_json_is_a_miss(tmp_path: Path, cache_home: Path) -> None:
    cache_home.mkdir(parents=True, exist_ok=True)
    disk = C.DiskCache(cache_home)
    pc = C.PersistentCache(disk)
    disk.put(pc.ns, "cd" * 32, b"{not json")
    assert pc.get(Path("x.uni"), "cd" * 32, "x.uni") is None


def test_unsafe_cache_directory_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "shared"
    (home / "unilang").mkdir(parents=True)
    os.chmod(home / "unilang", 0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    assert C.open_cache() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fine"))
    monkeypatch.setenv("UNILANG_NO_CACHE", "1")
    assert C.open_cache() is None


def test_concurrent_writers(tmp_path: Path, cache_home: Path) -> None:
    spec = project(tmp_path, n_modules=20)
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-m", "unilang", "check", str(spec), "--format",
                               "json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()
        assert json.loads(out)["diagnostics"] == []
    assert not [p for p in cache_home.rglob(".tmp-*")]
    session, results = check_spec(spec, ["kvm"])
    assert not session.sink.items and results[0].resolution is not None


def test_summary_round_trips_through_json(tmp_path: Path) -> None:
    from unilang.front import parse_text

    text = 'import core;\nimport "x/y.uni";\n' + (ROOT / "stdlib" / "net.uni").read_text()
    module, errors = parse_text(text, "m.uni")
    assert module is not None and not errors
    imports, defines = C.decode_summary(C.encode_summary(module), "m.uni")
    assert imports == module.decls[:2]
    assert defines[0] == "library:udp-lite"


def test_session_without_cache_still_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UNILANG_NO_CACHE", "1")
    spec = project(tmp_path)
    session, results = check_spec(spec, ["kvm"], Session())
    assert results[0].resolution is not None


def test_a_warm_check_reads_no_module_and_every_read_is_a_fact(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check cache answers before loading anything (unilang.fresh), and a
    change to any file it read, wherever it lives, or a new module that would
    shadow an import, makes it a miss."""
    import unilang.front.source as SRC

    spec = project(tmp_path)
    hidden = spec.parent / ".hidden"
    hidden.mkdir()
    (hidden / "extra.uni").write_text("construct t.hidden;\n")
    spec.write_text('import ".hidden/extra.uni";\nimport net;\n' + spec.read_text())
    check_spec(spec, ["kvm"], reuse_results=True)
    reads: list[str] = []
    real = SRC.read_source

    def spy(path, name, span=None):  # type: ignore[no-untyped-def]
        reads.append(name)
        return real(path, name, span)

    monkeypatch.setattr(SRC, "read_source", spy)
    monkeypatch.setattr("unilang.loader.read_source", spy)
    _s, r = check_spec(spec, ["kvm"], reuse_results=True)
    assert reads == [] and r[0].program is None  # a hit, nothing read
    (hidden / "extra.uni").write_text("construct t.hidden;\nconstruct t.more;\n")
    _s, r = check_spec(spec, ["kvm"], reuse_results=True)
    assert r[0].program is not None  # a module under a dot-directory is a fact
    _s, r = check_spec(spec, ["kvm"], reuse_results=True)
    assert r[0].program is None
    (spec.parent / "net.uni").write_text("construct t.mine;\n")  # shadows stdlib's net
    _s, r = check_spec(spec, ["kvm"], reuse_results=True)
    assert r[0].program is not None


def test_digests_equal_hashlibs_and_the_mac_is_keyed() -> None:
    import hashlib

    from unilang import digest

    for data in (b"", b"abc", bytes(range(256)) * 1000):
        assert digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()
        h = digest.sha256()
        h.update(data)
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    key = bytes(range(32))
    tag = digest.mac_hex(key, b"entry")
    assert tag == hashlib.blake2b(b"entry", key=key, digest_size=32).hexdigest()
    assert len(tag) == digest.MAC_HEX_LEN
    assert digest.mac_hex(bytes(32), b"entry") != tag


def test_check_loads_neither_openssl_nor_tempfile(tmp_path: Path, cache_home: Path) -> None:
    """A cold `check` (it writes cache entries) needs SHA-256, a MAC and
    atomic writes, none of which may load OpenSSL or tempfile (unilang.digest,
    unilang.fsutil: memory and start time)."""
    spec = project(tmp_path)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "unilang", "check", str(spec),
                        "-b", "kvm"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert list(cache_home.rglob("check-*/*/*")), "the check wrote no cache entry"
    imported = imported_modules(r.stderr)
    assert "unilang.front" in imported
    assert imported.isdisjoint({"_hashlib", "hashlib", "hmac", "tempfile", "secrets"})


def test_the_mac_of_parts_is_the_mac_of_their_concatenation() -> None:
    from unilang import digest

    key = bytes(range(32))
    assert digest.mac_hex(key, b"name", b"\0", b"payload") == digest.mac_hex(key, b"name\0payload")
