"""The runtime libraries booted under QEMU on both backends, the sealed
examples, and "each image contains only the libraries it reaches"."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import ROOT, include_flags, library_folders, library_sources, param_defines, needs_qemu, needs_tools, unilang
from unilang.elfcheck import inspect

EXAMPLES = ROOT / "examples"
APPS = ROOT / "tests" / "apps"


# ------------------------------------------------------------------ booting

RTCHECK_OUTPUT = """\
heap: ok
printf: [  -42|42   |00042|ff|FF|x|hi|%|-9223372036854775808|123]
printf: ok
clock: sleep 1 ms: ok
rng: ok
string: ok
"""


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_runtime_app_boots(tmp_path: Path, backend: str) -> None:
    r = unilang("run", str(APPS / "rtcheck/rtcheck.uni"), "--backend", backend, "-o",
                str(tmp_path / "out"), "--timeout", "60")
    assert r.stdout == RTCHECK_OUTPUT, r.stderr
    assert r.returncode == 0, r.stderr


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_heap_guard_catches_overflow(tmp_path: Path, backend: str) -> None:
    r = unilang("run", str(APPS / "guard/guard.uni"), "--backend", backend, "-o",
                str(tmp_path / "out"), "--timeout", "60")
    lines = r.stdout.splitlines()
    assert lines[0] == "guard: overflowing a block by one byte"
    assert re.fullmatch(r"heap: corruption: canary after block 0x[0-9a-f]+ of size 0x18 "
                        r"overwritten", lines[1]), lines
    assert len(lines) == 2  # "NOT CAUGHT" never printed
    assert r.returncode == 42, r.stderr  # set heap.guard_exit_code = 42


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_sealed_example_runs(tmp_path: Path, backend: str) -> None:
    r = unilang("run", str(EXAMPLES / "sealed/sealed.uni"), "--backend", backend, "-o",
                str(tmp_path / "out"), "--timeout", "60")
    assert r.stdout == "sealed: running under the sealed policy, no code loaded at run time\n", \
        r.stderr
    assert r.returncode == 0


@needs_tools
@needs_qemu
@pytest.mark.boot
@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_memory_above_1gib_is_mapped_with_and_without_1gib_pages(tmp_path: Path,
                                                                 backend: str) -> None:
    """pvh_entry.S maps 0..4 GiB with 1 GiB pages when the CPU has them; without,
    it maps only the image (2 MiB pages, here three: a 3 MiB .bss) and boot.c
    maps the rest from 64-bit code.  Both ways, RAM above 1 GiB is usable."""
    from unilang.run import decode, runtime_argv

    out = tmp_path / "out"
    r = unilang("build", str(APPS / "himem/himem.uni"), "--backend", backend, "-o", str(out))
    assert r.returncode == 0, r.stderr
    for cpu in ("max", "max,-pdpe1gb"):
        argv = runtime_argv(out, "tcg")  # TCG: the same CPU model on every machine
        argv[argv.index("-cpu") + 1] = cpu
        p = subprocess.run(argv, cwd=out, capture_output=True, text=True, timeout=120,
                           check=False)
        assert (p.stdout, decode(p.returncode)) == ("himem: ok\n", 0), (cpu, p.stderr)


def test_sealed_jit_is_rejected_with_the_chain() -> None:
    r = unilang("check", str(EXAMPLES / "sealed/sealed-jit.uni"))
    assert r.returncode == 1
    for backend in ("kvm", "xen"):
        assert ("examples/sealed/sealed-jit.uni:8:17: error[U0107]: policy `sealed` denies "
                f"capability `code.dynamic`, which `jit` exercises [backend {backend}]") in r.stderr
    assert r.stderr.count("= note: `jit` is selected by: app sealed_jit -> code.loader -> jit") == 2
    assert "2 errors emitted" in r.stderr
    r = unilang("check", str(EXAMPLES / "sealed/sealed.uni"))
    assert r.returncode == 0, r.stderr


# ------------------------------------------- images hold only what they reach

@pytest.fixture(scope="module")
def library_functions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """library -> the global (non-weak) functions its sources define, found by
    compiling each source as the build does and reading the object's symbols."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed")
    from elftools.elf.elffile import ELFFile

    d = tmp_path_factory.mktemp("objs")
    inc = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True,
                         check=True).stdout.strip()
    out: dict[str, set[str]] = {}
    defines = param_defines()
    for lib, sources in library_sources().items():
        funcs: set[str] = set()
        for i, src in enumerate(sources):
            obj = d / f"{lib}-{i}.o"
            r = subprocess.run(["gcc", "-std=c11", "-O2", "-ffreestanding", "-nostdinc",
                                "-mgeneral-regs-only", "-mno-red-zone", "-isystem", inc,
                                *include_flags(), *defines[lib], "-I", str(src.parent),
                                "-c", str(src), "-o", str(obj)],
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0, r.stderr
            with open(obj, "rb") as f:
                for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
                    if (sym["st_info"]["type"] == "STT_FUNC"
                            and sym["st_info"]["bind"] == "STB_GLOBAL"
                            and sym["st_shndx"] != "SHN_UNDEF"):
                        funcs.add(sym.name)
        if sources:
            assert funcs, f"{lib} has sources but defines no function"
        out[lib] = funcs
    return out


IMAGE_SPECS = [EXAMPLES / "hello/hello.uni", EXAMPLES / "stats/stats.uni",
               EXAMPLES / "sealed/sealed.uni", APPS / "rtcheck/rtcheck.uni",
               APPS / "guard/guard.uni"]


@needs_tools
@pytest.mark.parametrize("backend", ["kvm", "xen"])
@pytest.mark.parametrize("spec", IMAGE_SPECS, ids=lambda p: p.stem)
def test_image_contains_only_reached_libraries(tmp_path: Path, spec: Path, backend: str,
                                               library_functions: dict[str, set[str]]) -> None:
    r = unilang("resolve", str(spec), "--backend", backend, "--format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    selected = [lib["name"] for lib in res["libraries"]]
    pruned = [p["name"] for p in res["pruned"]]
    out = tmp_path / "out"
    r = unilang("build", str(spec), "--backend", backend, "-o", str(out))
    assert r.returncode == 0, r.stderr
    # the image ships stripped: its symbols are in the debug file beside it
    image_name = json.loads((out / "manifest.json").read_text())["image"]
    assert not inspect((out / image_name).read_bytes()).symbols
    symbols = set(inspect((out / image_name.replace(".elf", ".debug.elf")).read_bytes()).symbols)
    for lib in selected:
        if library_functions[lib]:
            assert library_functions[lib] & symbols, f"selected {lib} contributes nothing"
    kept = set().union(*(library_functions[lib] for lib in selected))
    for lib in pruned:
        leaked = (library_functions.get(lib, set()) - kept) & symbols
        assert not leaked, f"pruned {lib} leaked {sorted(leaked)}"
    # different apps really get different images
    if spec.stem == "hello":
        assert not {"heap", "printf", "tsc-clock", "rdrand", "libc-string"} & set(selected)
    if spec.stem == "rtcheck":
        assert {"heap", "printf", "tsc-clock", "rdrand", "libc-string"} <= set(selected)


# ---------------------------------------------------------------- the docs

DECL_RE = re.compile(r"^\s*(construct|capability|library|policy)\s+([\w.-]+)", re.M)
LIB_RE = re.compile(r"^library\s+([\w-]+)\s*\{(.*?)^\}", re.S | re.M)


def test_stdlib_doc_names_every_declaration() -> None:
    doc = (ROOT / "docs/stdlib.md").read_text()
    files = [*sorted((ROOT / "stdlib").glob("*.uni")),
             *sorted((ROOT / "backends").glob("*/backend.uni")),
             *(f / f"{name}.uni" for name, f in sorted(library_folders().items()))]
    names = [(kind, name) for f in files for kind, name in DECL_RE.findall(f.read_text())]
    assert len(names) > 40
    missing = [f"{kind} {name}" for kind, name in names if f"`{name}`" not in doc]
    assert missing == []
    # and every library parameter
    for f in files:
        for lib, body in LIB_RE.findall(f.read_text()):
            for param in re.findall(r"^\s*param\s+(\w+)", body, re.M):
                assert f"`{param}" in doc, f"{lib}.{param}"
