"""Building and booting real images: GNU ld links them, QEMU boots them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support import ROOT, needs_qemu, needs_tools, unilang
from unilang.elfcheck import inspect, verify

EXAMPLES = ROOT / "examples"


# (example spec, expected console output, expected exit code)
BOOTS = [
    ("hello/hello.uni", "Hello from unilang!\n", 0),
    ("exitcode/exitcode.uni", "exiting with code 3\n", 3),
]


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
@pytest.mark.parametrize("spec,output,code", BOOTS)
def test_run_boots_and_propagates_exit_code(tmp_path: Path, backend: str, spec: str,
                                            output: str, code: int) -> None:
    r = unilang("run", str(EXAMPLES / spec), "--backend", backend, "-o", str(tmp_path / "out"),
                "--timeout", "60")
    assert r.stdout == output, r.stderr
    assert r.returncode == code, r.stderr


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_stats_example(tmp_path: Path, backend: str) -> None:
    r = unilang("run", str(EXAMPLES / "stats/stats.uni"), "--backend", backend, "-o",
                str(tmp_path / "out"), "--timeout", "120")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "sorted 2000 numbers: min 58, median 504416, max 999600, mean 499888"
    assert lines[1] == "heap: 8192 KiB total, 8192 KiB free"  # capped by `set heap.max_size`
    assert lines[2].startswith("clock: monotonic ok, work took ")
    assert lines[3].startswith("boot: entry to main in ") and lines[3].endswith(" us")


@pytest.fixture(scope="module")
def hello_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (shutil.which("gcc") and shutil.which("ld")):
        pytest.skip("gcc and GNU ld are needed")
    out = {}
    for backend in ("kvm", "xen"):
        d = tmp_path_factory.mktemp(f"hello-{backend}") / "out"
        r = unilang("build", str(EXAMPLES / "hello/hello.uni"), "--backend", backend, "-o", str(d))
        assert r.returncode == 0, r.stderr
        out[backend] = d
    return out


@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_elf_properties(hello_builds: dict[str, Path], backend: str) -> None:
    image = (hello_builds[backend] / "hello.elf").read_bytes()
    facts, problems = verify(image, None)
    assert problems == []
    assert facts is not None
    loads = [(f, a) for t, f, _v, _m, a in facts.segments if t == "PT_LOAD"]
    assert [f for f, _a in loads] == [5, 4, 6, 6]  # R+X, R, R+W (stack), R+W: never W+X
    notes = [s for s in facts.segments if s[0] == "PT_NOTE"]
    assert len(notes) == 1 and notes[0][4] == 4
    assert ("Xen", 18) in facts.notes and ("unilang", 1) in facts.notes
    assert facts.pvh_entry is not None and facts.entry == facts.pvh_entry
    assert facts.size <= 8 * 1024


def _program_headers(path: Path) -> list[dict[str, int]]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        return [dict(s.header) for s in ELFFile(f).iter_segments()]


def _loaded_bytes(path: Path) -> list[tuple[int, int, bytes]]:
    """(p_paddr, p_memsz, file bytes) of every PT_LOAD: what a PVH loader copies,
    less the ELF header's section-header fields (e_shoff, e_shnum, e_shstrndx),
    which stripping changes and nothing at run time reads."""
    from elftools.elf.elffile import ELFFile

    out = []
    with open(path, "rb") as f:
        for s in ELFFile(f).iter_segments():
            if s.header.p_type == "PT_LOAD":
                data = s.data()
                if s.header.p_offset == 0:
                    data = data[:0x28] + data[0x30:0x3c] + data[0x40:]
                out.append((s.header.p_paddr, s.header.p_memsz, data))
    return out


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_hello_image_is_small_sealed_and_boots(hello_builds: dict[str, Path], backend: str) -> None:
    """Issue 10: hello's image is at most 8 KiB on both backends, without
    giving up W^X (separate R+X, R and R+W segments, page aligned in memory;
    issue 13 added the stack segment above its guard page),
    and it still boots and prints its greeting."""
    d = hello_builds[backend]
    image = (d / "hello.elf").read_bytes()
    assert len(image) <= 8 * 1024, len(image)
    facts, problems = verify(image, None)
    assert problems == [] and facts is not None
    loads = [h for h in _program_headers(d / "hello.elf") if h["p_type"] == "PT_LOAD"]
    assert [h["p_flags"] for h in loads] == [5, 4, 6, 6]  # text, rodata, stack, data+bss
    for h in loads:
        assert not (h["p_flags"] & 2 and h["p_flags"] & 1)  # never W+X
        assert h["p_vaddr"] == h["p_paddr"] and h["p_vaddr"] % 4096 == 0
        assert h["p_offset"] % h["p_align"] == h["p_vaddr"] % h["p_align"]
        assert h["p_offset"] + h["p_filesz"] <= len(image)
    # no page of padding in the file: each segment with bytes follows the previous
    # one, with at most its alignment between them
    filed = [h for h in loads if h["p_filesz"]]
    for prev, h in zip(filed, filed[1:]):
        assert 0 <= h["p_offset"] - (prev["p_offset"] + prev["p_filesz"]) < h["p_align"] < 4096
    # the shipped image has no symbol table (the debug file has)
    assert facts.symbols == ()
    assert inspect((d / "hello.debug.elf").read_bytes()).symbols
    r = unilang("run", str(EXAMPLES / "hello/hello.uni"), "--backend", backend, "-o", str(d),
                "--timeout", "60")
    assert (r.stdout, r.returncode) == ("Hello from unilang!\n", 0), r.stderr
    assert (d / "hello.elf").read_bytes() == image  # run found it up to date


@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_debug_file_loads_the_same_bytes(hello_builds: dict[str, Path], backend: str) -> None:
    """`<app>.debug.elf` is the image's link with symbols: the same segments and
    loaded bytes, so its symbols describe the image that ships."""
    d = hello_builds[backend]
    assert _loaded_bytes(d / "hello.debug.elf") == _loaded_bytes(d / "hello.elf")
    assert _program_headers(d / "hello.debug.elf") == _program_headers(d / "hello.elf")
    assert (d / "hello.debug.elf").stat().st_mode & 0o777 == 0o644


def test_manifest_and_pruned_symbols(hello_builds: dict[str, Path]) -> None:
    d = hello_builds["kvm"]
    manifest = json.loads((d / "manifest.json").read_text())
    image = (d / "hello.elf").read_bytes()
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(image).hexdigest()
    assert manifest["size"] == len(image)
    assert [l["name"] for l in manifest["libraries"]] == ["qemu-exit", "pvh", "uart16550", "conio"]
    pruned = {p["name"] for p in manifest["pruned"]}
    assert {"heap", "printf", "tsc-clock", "libc-string"} <= pruned
    # the image ships stripped; its symbols are in the debug file
    symbols = set(inspect((d / "hello.debug.elf").read_bytes()).symbols)
    # what the selected libraries define is there ...
    assert {"_start32", "uart_init", "unilang_puts", "unilang_shutdown", "main"} <= symbols
    # ... and nothing of the pruned ones is
    for sym in ("malloc", "heap_init", "printf", "vsnprintf", "time_init", "memcpy", "strlen"):
        assert sym not in symbols


def test_unilang_note_describes_image(hello_builds: dict[str, Path]) -> None:
    from elftools.elf.elffile import ELFFile

    with open(hello_builds["xen"] / "hello.elf", "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".notes")
        assert sec is not None
        data = sec.data()
    from unilang.elfcheck import parse_notes

    descs = [desc for name, ntype, desc in parse_notes(data) if (name, ntype) == ("unilang", 1)]
    assert len(descs) == 1
    payload = json.loads(descs[0])
    assert payload["app"] == "hello" and payload["backend"] == "xen"
    assert payload["libraries"] == ["debugcon", "conio", "xen-shutdown", "pvh"]


def test_outputs_per_backend(hello_builds: dict[str, Path]) -> None:
    kvm = sorted(p.name for p in hello_builds["kvm"].iterdir())
    xen = sorted(p.name for p in hello_builds["xen"].iterdir())
    common = [".unilang-output", "build.ninja", "hello.debug.elf", "hello.elf", "image.lds",
              "libvirt.xml", "manifest.json",
              "qemu.json", "run-qemu.sh", "unilang_init.c", "unilang_params.h"]
    assert kvm == sorted(common + ["firecracker.json"])
    assert xen == sorted(common + ["xl.cfg"])
    xl = (hello_builds["xen"] / "xl.cfg").read_text()
    assert 'type = "pvh"\n' in xl and 'kernel = "hello.elf"\n' in xl and "memory = 16\n" in xl
    fc = json.loads((hello_builds["kvm"] / "firecracker.json").read_text())
    assert fc["boot-source"]["kernel_image_path"] == "hello.elf"
    assert fc["machine-config"] == {"vcpu_count": 1, "mem_size_mib": 16}
    assert fc["drives"] == []
    dom = ET.parse(hello_builds["xen"] / "libvirt.xml").getroot()
    assert dom.get("type") == "xen"
    assert dom.find("os/type").get("machine") == "xenpvh"  # type: ignore[union-attr]
    dom = ET.parse(hello_builds["kvm"] / "libvirt.xml").getroot()
    assert dom.get("type") == "kvm"
    assert dom.findtext("os/kernel") == "/var/lib/libvirt/images/hello-kvm.elf"


@pytest.mark.skipif(shutil.which("virt-xml-validate") is None,
                    reason="libvirt-clients (virt-xml-validate) is not installed")
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_libvirt_xml_validates_against_libvirt_schema(hello_builds: dict[str, Path],
                                                      backend: str) -> None:
    r = subprocess.run(["virt-xml-validate", str(hello_builds[backend] / "libvirt.xml"), "domain"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def _snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.iterdir())}


@needs_tools
def test_noop_rebuild_rewrites_nothing_and_failed_build_keeps_outputs(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "hello", app)
    out = tmp_path / "out"
    assert unilang("build", str(app / "hello.uni"), "-o", str(out)).returncode == 0
    before = _snapshot(out)
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 0 and "up to date" in r.stderr
    assert "CC " not in r.stderr  # nothing recompiled
    assert _snapshot(out) == before
    # an edited source is recompiled (the no-op shortcut never hides a change);
    # a comment does not change the image, only the source hash the manifest reports
    (app / "hello.c").write_text((app / "hello.c").read_text() + "/* edited */\n")
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 0 and "CC src/app/hello.c" in r.stderr and "built:" in r.stderr
    after = _snapshot(out)
    assert after["hello.elf"][0] == before["hello.elf"][0]
    assert {n for n in after if after[n][0] != before[n][0]} == {"manifest.json"}
    before = after
    # a changed spec value reaches the outputs
    (app / "hello.uni").write_text((app / "hello.uni").read_text().replace("16 MiB", "24 MiB"))
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 0 and "built:" in r.stderr
    assert json.loads((out / "manifest.json").read_text())["memory"] == 24 << 20
    before = _snapshot(out)
    # a compile error: exit 1, a diagnostic, and the previous outputs untouched
    (app / "hello.c").write_text("int main(void) { return }\n")
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 1
    assert "error[U0201]" in r.stderr
    assert _snapshot(out) == before


@needs_tools
def test_image_size_policy_rejects_image(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "hello", app)
    spec = (app / "hello.uni").read_text().replace(
        'cmdline = "";', 'cmdline = "";\n    policies = [tiny];')
    spec += "\npolicy tiny { max_image_size = 1 KiB; }\n"
    (app / "hello.uni").write_text(spec)
    out = tmp_path / "out"
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 1
    assert "error[U0202]" in r.stderr and "above the policy limit of 1024" in r.stderr
    assert not out.exists()


def _checkout_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@needs_tools
def test_builds_from_two_checkouts_are_byte_identical(tmp_path: Path) -> None:
    a = _checkout_copy(tmp_path / "a")
    b = _checkout_copy(tmp_path / "somewhere" / "else" / "entirely-b")
    outs = []
    for root in (a, b):
        env = dict(os.environ, PYTHONPATH=str(root))
        for backend in ("kvm", "xen"):
            r = unilang("build", "examples/hello/hello.uni", "--backend", backend, cwd=root,
                        env=env)
            assert r.returncode == 0, r.stderr
        outs.append({f"{backend}/{p.name}": p.read_bytes()
                     for backend in ("kvm", "xen")
                     for p in sorted((root / "build/hello" / backend).iterdir())})
    assert outs[0].keys() == outs[1].keys()
    for name in outs[0]:
        assert outs[0][name] == outs[1][name], name
    assert str(tmp_path).encode() not in outs[0]["kvm/hello.elf"]


@needs_tools
def test_quick_up_to_date_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`unilang build` answers a no-op before importing the CLI, and only when sure."""
    from unilang.fresh import up_to_date_build

    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "hello", app)
    out = tmp_path / "out"
    first = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert first.returncode == 0
    second = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert second.returncode == 0
    assert second.stderr == f"up to date: {out}/hello.elf ({len((out / 'hello.elf').read_bytes())} bytes, 4 libraries)\n"
    monkeypatch.chdir(ROOT)
    assert up_to_date_build([str(app / "hello.uni"), "-o", str(out)])
    assert up_to_date_build([str(app / "hello.uni"), "--output", str(out), "-b", "kvm"])
    # anything it does not understand, or any change that might matter: not sure
    assert not up_to_date_build([str(app / "hello.uni"), "-o", str(out), "--verbose"])
    assert not up_to_date_build([str(app / "hello.uni"), "-o", str(out), "-b", "xen"])
    # a module nothing imports changes nothing: the stamp lists the files read
    (app / "unrelated.uni").write_text("construct x.y;\n")
    assert up_to_date_build([str(app / "hello.uni"), "-o", str(out)])
    (app / "hello.c").write_text((app / "hello.c").read_text() + "\n")
    assert not up_to_date_build([str(app / "hello.uni"), "-o", str(out)])
    assert unilang("build", str(app / "hello.uni"), "-o", str(out)).returncode == 0
    assert up_to_date_build([str(app / "hello.uni"), "-o", str(out)])
    (out / "manifest.json").write_text("{}")
    assert not up_to_date_build([str(app / "hello.uni"), "-o", str(out)])
    r = unilang("build", str(app / "hello.uni"), "-o", str(out))
    assert r.returncode == 0 and "built:" in r.stderr  # the full build repaired the output
