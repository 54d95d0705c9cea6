"""Files sealed into the image (the app's `files` key): the checker's
diagnostics, what the build embeds (the manifest's hashes, the bytes in the
image, deterministic), rebuilding when a file changes, is added or removed,
`max_image_size` counting the files, and a guest reading them back through
<unilang/files.h>."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import needs_qemu, needs_tools, unilang
from unilang.sealed import content_type

MAIN_C = r"""#include <unilang/runtime.h>
#include <unilang/files.h>
#include <unilang/conio.h>
#include <stdint.h>

static void hex(uint32_t v)
{
    char b[9];
    for (int i = 7; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
    b[8] = 0;
    unilang_puts(b);
}

int main(void)
{
    /* each file: its path, its type, its size and a checksum of its bytes */
    for (unsigned i = 0; i < unilang_file_count(); i++) {
        const struct unilang_file *f = unilang_file_at(i);
        uint32_t sum = 2166136261u;
        for (uint32_t k = 0; k < f->size; k++) sum = (sum ^ f->data[k]) * 16777619u;
        unilang_puts(f->path);
        unilang_puts(f->type);
        hex(f->size);
        hex(sum);
        if (unilang_file_find(f->path, f->path_len) != f) return 10;
    }
    if (unilang_file_at(unilang_file_count()) != 0) return 11;
    if (unilang_file_find("index.htm", 9) || unilang_file_find("/index.html", 11)) return 12;
    if (unilang_file_find("index.html\0", 11)) return 13;
    return 0;
}
"""


def fnv(data: bytes) -> str:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


def site(tmp: Path, files: str = '["www"]', extra: str = "") -> Path:
    app = tmp / "site"
    (app / "www" / "img").mkdir(parents=True, exist_ok=True)
    (app / "site.uni").write_text(
        "app site {\n    sources = [\"main.c\"];\n    requires = [console.lines, files];\n"
        f"    memory = 16 MiB;\n    files = {files};\n{extra}}}\n")
    (app / "main.c").write_text(MAIN_C)
    (app / "www" / "index.html").write_bytes(b"<!doctype html><title>t</title>\n")
    (app / "www" / "style.css").write_bytes(b"body { color: #333 }\n")
    (app / "www" / "img" / "dot.png").write_bytes(bytes(range(256)) * 3)
    (app / "www" / "README").write_bytes(b"no extension\n")
    (app / "www" / ".gitkeep").write_bytes(b"")
    return app


def check(app: Path, spec: str = "site.uni") -> tuple[int, list[dict[str, object]]]:
    r = unilang("check", spec, "--backend", "kvm", "--format", "json", cwd=app)
    doc = json.loads(r.stdout)
    return r.returncode, doc["diagnostics"]


def messages(diags: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(d["code"], d["message"]) for d in diags]


def test_content_types() -> None:
    assert [content_type(p) for p in ["a.html", "b/c.HTM", "x.css", "x.js", "x.json",
                                      "x.txt", "x.png", "x.JPG", "x.jpeg", "x.gif", "x.svg",
                                      "x.ico", "x.wasm", "README", "x.tar.gz", "dir.d/x"]] == [
        "text/html", "text/html", "text/css", "text/javascript", "application/json",
        "text/plain", "image/png", "image/jpeg", "image/jpeg", "image/gif", "image/svg+xml",
        "image/x-icon", "application/wasm", "application/octet-stream",
        "application/octet-stream", "application/octet-stream"]


def test_folder_diagnostics(tmp_path: Path) -> None:
    app = site(tmp_path, '["www", "nope", "main.c", "../x", "/abs", "www", "out"]')
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (app / "out").symlink_to(outside)
    rc, diags = check(app)
    assert rc == 1
    assert messages(diags) == [
        ("U0115", "sealed folder `nope` does not exist"),
        ("U0115", "sealed folder `main.c` is not a folder"),
        ("U0115", "sealed folder `../x` is not allowed: it contains `..`"),
        ("U0115", "sealed folder `/abs` is not allowed: it is absolute"),
        ("U0033", "sealed folder `www` is listed more than once in `files`"),
        ("U0115", f"sealed folder `out` resolves outside the spec's directory: its real "
                  f"path is {outside.resolve()}"),
    ]
    spans = [(d["span"]["line"], d["span"]["column"]) for d in diags]  # type: ignore[index]
    assert spans == [(5, 21), (5, 29), (5, 39), (5, 47), (5, 55), (5, 62)]


def test_entry_diagnostics(tmp_path: Path) -> None:
    app = site(tmp_path)
    www = app / "www"
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the image\n")
    (www / "leak.txt").symlink_to(secret)                 # a link out of the root
    (www / "inside.txt").symlink_to(app / "main.c")       # a link inside: sealed
    (www / "gone.txt").symlink_to(www / "nothing")        # broken
    (www / "img" / "loop").symlink_to(www)                # back to an ancestor
    os.mkfifo(www / "pipe")
    (www / "-dash.txt").write_text("x")
    rc, diags = check(app)
    assert rc == 1
    assert messages(diags) == [
        ("U0116", "`www/-dash.txt` cannot be sealed: its name starts with `-`; sealed names "
                  "use letters, digits, `_`, `-`, `.` and `~`, starting with a letter, a digit "
                  "or `_`"),
        ("U0116", "`www/gone.txt` is a broken link"),
        ("U0116", "`www/img/loop` links back to a folder that contains it"),
        ("U0116", f"`www/leak.txt` resolves outside the spec's directory: its real path is "
                  f"{secret.resolve()}"),
        ("U0116", "`www/pipe` is not a regular file or folder: it is a FIFO"),
    ]
    assert all(d["span"]["line"] == 5 for d in diags)  # type: ignore[index]


def test_limits(tmp_path: Path) -> None:
    app = site(tmp_path)
    deep = app / "www" / ("d" * 200) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("x")
    rc, diags = check(app)
    assert rc == 1
    assert messages(diags) == [
        ("U0118", f"sealed file `www/{'d' * 200}/{'e' * 60}/f.txt` has a path of 267 bytes; "
                  "the limit is 255")]


def test_check_cache_sees_folder_changes(tmp_path: Path) -> None:
    """`check` caches its result; a file added to a sealed folder is a new fact."""
    app = site(tmp_path)
    assert check(app) == (0, [])
    (app / "www" / "bad name").write_text("x")
    rc, diags = check(app)
    assert rc == 1 and [d["code"] for d in diags] == ["U0116"]
    (app / "www" / "bad name").unlink()
    assert check(app) == (0, [])


def _build(app: Path, out: str = "out") -> tuple[subprocess.CompletedProcess[str], dict]:
    r = unilang("build", "site.uni", "-b", "kvm", "-o", out, cwd=app)
    manifest = json.loads((app / out / "manifest.json").read_text()) \
        if (app / out / "manifest.json").is_file() else {}
    return r, manifest


def _expected(app: Path) -> dict[str, dict[str, object]]:
    www = app / "www"
    out = {}
    for p in sorted(www.rglob("*"), key=lambda p: p.relative_to(www).as_posix().encode()):
        rel = p.relative_to(www).as_posix()
        if p.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            data = p.read_bytes()
            out[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                        "type": content_type(rel)}
    return out


@needs_tools
def test_manifest_image_and_rebuilds(tmp_path: Path) -> None:
    app = site(tmp_path)
    r, manifest = _build(app)
    assert r.returncode == 0, r.stderr
    assert manifest["files"] == _expected(app)
    assert list(manifest["files"]) == ["README", "img/dot.png", "index.html", "style.css"]
    image = (app / "out" / "site.elf").read_bytes()
    for rel in manifest["files"]:
        assert (app / "www" / rel).read_bytes() in image
    # the bytes sit in their own section of the read-only segment
    from elftools.elf.elffile import ELFFile
    import io

    elf = ELFFile(io.BytesIO(image))
    sec = elf.get_section_by_name(".unilang_files")
    assert sec is not None and not sec["sh_flags"] & 1  # not writable
    assert sec.header.sh_size >= sum(int(f["size"]) for f in manifest["files"].values())

    # unchanged: up to date, nothing rewritten
    r = unilang("build", "site.uni", "-b", "kvm", "-o", "out", cwd=app)
    assert r.returncode == 0 and "up to date" in r.stderr
    # an edit, an addition, a removal: each rebuilds with the new bytes
    (app / "www" / "style.css").write_bytes(b"body { color: red }\n")
    r, manifest = _build(app)
    assert "built:" in r.stderr and manifest["files"] == _expected(app)
    assert b"color: red" in (app / "out" / "site.elf").read_bytes()
    (app / "www" / "img" / "new.json").write_bytes(b"{}\n")
    r, manifest = _build(app)
    assert "built:" in r.stderr and "img/new.json" in manifest["files"]
    assert manifest["files"]["img/new.json"]["type"] == "application/json"
    (app / "www" / "img" / "dot.png").unlink()
    r, manifest = _build(app)
    assert "built:" in r.stderr and "img/dot.png" not in manifest["files"]
    assert bytes(range(256)) * 3 not in (app / "out" / "site.elf").read_bytes()
    assert not (app / ".out.work" / "sealed" / "img" / "dot.png").exists()


@needs_tools
def test_deterministic_across_checkouts(tmp_path: Path) -> None:
    a = site(tmp_path / "a")
    b = site(tmp_path / "b")
    # created in another order: the walk sorts
    for name in sorted(os.listdir(b / "www"), reverse=True):
        p = b / "www" / name
        if p.is_file():
            data = p.read_bytes()
            p.unlink()
            p.write_bytes(data)
    assert _build(a)[0].returncode == 0
    assert _build(b)[0].returncode == 0
    for name in ("site.elf", "manifest.json"):
        assert (a / "out" / name).read_bytes() == (b / "out" / name).read_bytes()
    assert (a / ".out.work" / "gen" / "unilang_files.S").read_bytes() == \
        (b / ".out.work" / "gen" / "unilang_files.S").read_bytes()


@needs_tools
def test_max_image_size_counts_the_files(tmp_path: Path) -> None:
    policy = "    policies = [small];\n"
    app = site(tmp_path, extra=policy)
    with open(app / "site.uni", "a") as f:
        f.write("policy small { max_image_size = 64 KiB; }\n")
    r, manifest = _build(app)
    assert r.returncode == 0, r.stderr
    assert manifest["size"] < 64 * 1024
    (app / "www" / "big.bin").write_bytes(os.urandom(70 * 1024))
    r, _ = _build(app)
    assert r.returncode == 1
    assert "error[U0202]" in r.stderr and "above the policy limit of 65536" in r.stderr
    sealed = sum(p.stat().st_size for p in (app / "www").rglob("*")
                 if p.is_file() and not p.name.startswith("."))
    assert f"= note: {sealed} bytes of the image are its 5 sealed files (`files`)" in r.stderr
    # the failed build left the earlier outputs intact
    assert json.loads((app / "out" / "manifest.json").read_text())["sha256"] == manifest["sha256"]


@needs_tools
def test_changed_during_build_is_U0211(tmp_path: Path) -> None:
    """The build compares each file with what check saw: simulated by a
    checked model whose size no longer matches the file."""
    from unilang.build import Builder
    from unilang.diagnostics import Sink

    app = site(tmp_path)
    from unilang.driver import check_spec

    session, results = check_spec(app / "site.uni", ["kvm"])
    res = results[0].resolution
    assert res is not None
    f = res.app.sealed[0]
    (f.file).write_bytes(b"grown" * 10)
    b = Builder.__new__(Builder)
    b.res, b.sink, b.work, b.inputs = res, Sink(), tmp_path / "work", {}
    b.sealed_manifest = {}
    (tmp_path / "work").mkdir()
    assert b.seal(res.app) is None
    assert [(d.code, d.message) for d in b.sink.items] == [
        ("U0211", f"sealed file `www/{f.path}` changed during the build: it was {f.size} "
                  "bytes when checked and is 50 now")]


@needs_tools
@needs_qemu
def test_guest_reads_its_files(tmp_path: Path) -> None:
    app = site(tmp_path)
    r = unilang("run", "site.uni", "-b", "kvm", "--timeout", "120", cwd=app, timeout=400)
    assert r.returncode == 0, r.stderr
    want = []
    for rel, f in _expected(app).items():
        data = (app / "www" / rel).read_bytes()
        want += [rel, str(f["type"]), f"{len(data):08x}", fnv(data)]
    assert r.stdout.splitlines() == want


@needs_tools
@needs_qemu
def test_sealed_files_are_read_only_at_run_time_beyond_2_mib(tmp_path: Path) -> None:
    """Files of any size sit in a read-only segment of their own (2 MiB aligned,
    after the image's other segments): 3 MiB of them link, read back, and a write
    into them is a page fault the report names (exit 125)."""
    (tmp_path / "www").mkdir()
    blob = bytes((i * 7 + (i >> 8)) & 0xff for i in range(3 << 20))
    (tmp_path / "www" / "big.bin").write_bytes(blob)
    (tmp_path / "main.c").write_text(
        "#include <unilang/files.h>\n#include <stdio.h>\n"
        "int main(void) {\n"
        "    const struct unilang_file *f = unilang_file_find(\"big.bin\", 7);\n"
        "    if (!f) return 1;\n"
        "    unsigned sum = 0;\n"
        "    for (uint32_t i = 0; i < f->size; i++) sum = sum * 31 + f->data[i];\n"
        "    printf(\"size %u sum %08x\\n\", (unsigned)f->size, sum);\n"
        "    ((volatile unsigned char *)f->data)[f->size - 1] = 0;\n"
        "    printf(\"written\\n\");\n"
        "    return 0;\n}\n")
    (tmp_path / "big.uni").write_text(
        'app big {\n    sources = ["main.c"];\n    requires = [files, fmt.printf];\n'
        '    files = ["www"];\n    memory = 32 MiB;\n}\n')
    r = unilang("run", "big.uni", "-b", "kvm", "--timeout", "240", cwd=tmp_path, timeout=400)
    s = 0
    for byte in blob:
        s = (s * 31 + byte) & 0xffffffff
    lines = r.stdout.splitlines()
    assert lines[0] == f"size {len(blob)} sum {s:08x}", r.stdout + r.stderr
    assert "written" not in r.stdout
    assert r.returncode == 125, r.stderr
    assert "unilang: fault: page fault: write to read-only memory at " in r.stdout
