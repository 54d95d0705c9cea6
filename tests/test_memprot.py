"""Memory protection at run time (issue 13): the page tables pvh builds from
the image's segments, and the fault report.

Each app in tests/apps/fault-*/ breaks one rule and must end with the report
and exit code 125 instead of carrying on ("NOT CAUGHT" is never printed).
Booted under TCG (QEMU started directly on the build's qemu.json), so the
tests hold where KVM is unusable; the expected addresses and functions are
read from the build's debug ELF."""

from __future__ import annotations

import io
import re
import struct
import subprocess
from pathlib import Path

import pytest

from support import ROOT, needs_qemu, needs_tools, unilang

APPS = ROOT / "tests" / "apps"
EXIT_FAULT = 125
LAST = f"unilang: fault: shutting down with exit code {EXIT_FAULT}"
RIP_IN = re.compile(r"unilang: fault: rip 0x([0-9a-f]+) <([\w.]+)\+0x([0-9a-f]+)>")


def _symbols(debug_elf: Path) -> dict[str, tuple[int, int]]:
    """name -> (address, size) of every named symbol of the debug link."""
    from elftools.elf.elffile import ELFFile

    with open(debug_elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_size"]) for s in symtab.iter_symbols() if s.name}


def _boot(out: Path, cpu: str = "max") -> tuple[list[str], int | None]:
    from unilang.run import decode, runtime_argv

    argv = runtime_argv(out, "tcg")
    argv[argv.index("-cpu") + 1] = cpu
    p = subprocess.run(argv, cwd=out, capture_output=True, text=True, timeout=120,
                       check=False)
    return p.stdout.splitlines(), decode(p.returncode)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Builds an app once per backend: (app, backend) -> output directory."""
    cache: dict[tuple[str, str], Path] = {}
    base = tmp_path_factory.mktemp("memprot")

    def get(app: str, backend: str) -> Path:
        if (app, backend) not in cache:
            out = base / app / backend
            r = unilang("build", str(APPS / app / f"{app}.uni"), "--backend", backend,
                        "-o", str(out))
            assert r.returncode == 0, r.stderr
            cache[app, backend] = out
        return cache[app, backend]
    return get


def _rip_in(line: str, syms: dict[str, tuple[int, int]], function: str) -> None:
    m = RIP_IN.fullmatch(line)
    assert m, line
    rip, name, off = int(m[1], 16), m[2], int(m[3], 16)
    start, size = syms[function]
    assert name == function and rip == start + off and start <= rip < start + size, line


BACKENDS = pytest.mark.parametrize("backend", ["kvm", "xen"])
pytestmark = [needs_tools, needs_qemu, pytest.mark.boot]


@BACKENDS
def test_write_to_own_code(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    out = built("fault-write-text", backend)
    syms = _symbols(out / "fault-write-text.debug.elf")
    main = syms["main"][0]
    # with 1 GiB pages, without (2 MiB pages above the first 2 MiB), without NX
    for cpu in ("max", "max,-pdpe1gb", "max,-nx"):
        lines, code = _boot(out, cpu)
        assert lines[0] == "fault-write-text: writing to the code of main", (cpu, lines)
        assert lines[1] == (f"unilang: fault: page fault: write to read-only memory at "
                            f"0x{main:x} (text)"), (cpu, lines)
        _rip_in(lines[2], syms, "main")
        assert lines[3:] == [LAST], (cpu, lines)
        assert code == EXIT_FAULT, cpu


def _executes_from(built, backend: str, app: str, region: str  # type: ignore[no-untyped-def]
                   ) -> tuple[int, dict[str, tuple[int, int]]]:
    """Boot ``app``, which calls code placed in ``region`` (stack, heap): the
    report names a no-execute fault there, rip is that address, exit 125.
    Returns the address and the debug link's symbols."""
    out = built(app, backend)
    syms = _symbols(out / f"{app}.debug.elf")
    lines, code = _boot(out)
    assert lines[0] == f"{app}: calling code on the {region}"
    m = re.fullmatch(r"unilang: fault: page fault: execute from no-execute memory at "
                     rf"0x([0-9a-f]+) \({region}\)", lines[1])
    assert m, lines
    addr = int(m[1], 16)
    assert lines[2] == f"unilang: fault: rip 0x{addr:x} ({region})"
    assert lines[3:] == [LAST]
    assert code == EXIT_FAULT
    return addr, syms


@BACKENDS
def test_execute_from_stack(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    addr, syms = _executes_from(built, backend, "fault-exec-stack", "stack")
    assert syms["unilang_boot_stack"][0] <= addr < syms["unilang_boot_stack_top"][0]


@BACKENDS
def test_execute_from_heap(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    addr, syms = _executes_from(built, backend, "fault-exec-heap", "heap")
    assert syms["__image_end"][0] <= addr < 16 << 20  # above the image, in the 16 MiB of RAM


@BACKENDS
def test_read_page_0(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    out = built("fault-read-page0", backend)
    syms = _symbols(out / "fault-read-page0.debug.elf")
    lines, code = _boot(out)
    assert lines[:2] == ["fault-read-page0: reading address 0",
                         "unilang: fault: page fault: read from unmapped memory at 0x0 (page 0)"]
    _rip_in(lines[2], syms, "main")
    assert lines[3:] == [LAST]
    assert code == EXIT_FAULT


@BACKENDS
def test_stack_overflow_hits_the_guard_page(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    out = built("fault-stack-overflow", backend)
    syms = _symbols(out / "fault-stack-overflow.debug.elf")
    guard = syms["__stack_guard"][0]
    assert syms["__stack_bottom"][0] == guard + 4096 == syms["unilang_boot_stack"][0]
    for cpu in ("max", "max,-pdpe1gb"):
        lines, code = _boot(out, cpu)
        assert lines[0] == "fault-stack-overflow: recursing"
        m = re.fullmatch(r"unilang: fault: stack overflow at 0x([0-9a-f]+) \(stack guard page\)",
                         lines[1])
        assert m, (cpu, lines)
        assert guard <= int(m[1], 16) < guard + 4096
        _rip_in(lines[2], syms, "recurse")
        assert lines[3:] == [LAST], (cpu, lines)
        assert code == EXIT_FAULT


@BACKENDS
def test_invalid_opcode(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    out = built("fault-invalid-opcode", backend)
    syms = _symbols(out / "fault-invalid-opcode.debug.elf")
    lines, code = _boot(out)
    assert lines[:2] == ["fault-invalid-opcode: executing ud2", "unilang: fault: invalid opcode"]
    _rip_in(lines[2], syms, "main")
    assert lines[3:] == [LAST]
    assert code == EXIT_FAULT


@BACKENDS
def test_hello_still_boots_with_and_without_nx(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    out = built("fault-write-text", backend).parent.parent / "hello" / backend
    r = unilang("build", str(ROOT / "examples/hello/hello.uni"), "--backend", backend,
                "-o", str(out))
    assert r.returncode == 0, r.stderr
    for cpu in ("max", "max,-nx", "max,-pdpe1gb"):
        assert _boot(out, cpu) == (["Hello from unilang!"], 0), cpu


# ------------------------------------------------------- the symbol table

@BACKENDS
def test_symbol_table_matches_the_debug_link(built, backend: str) -> None:  # type: ignore[no-untyped-def]
    """The image's .unilang_symtab lists exactly the debug link's functions."""
    from elftools.elf.elffile import ELFFile

    from unilang.emit import symtab

    out = built("fault-write-text", backend)
    image = (out / "fault-write-text.elf").read_bytes()
    debug = (out / "fault-write-text.debug.elf").read_bytes()
    data = ELFFile(io.BytesIO(image)).get_section_by_name(".unilang_symtab").data()
    (n,) = struct.unpack_from("<I", data)
    pairs = [struct.unpack_from("<II", data, 4 + 8 * i) for i in range(n)]
    names = data[4 + 8 * n:]
    table = [(addr, names[off:names.index(b"\0", off)].decode()) for addr, off in pairs]
    assert table == symtab.functions(debug)
    assert {"main", "unilang_fault", "unilang_boot_main", "_start32"} <= {n for _a, n in table}
    assert [a for a, _n in table] == sorted({a for a, _n in table})


def test_symbol_table_source_is_escaped_and_deterministic(built) -> None:  # type: ignore[no-untyped-def]
    from unilang.emit import symtab

    assert symtab._asm_string("main") == '"main"'
    assert symtab._asm_string("f.part.0") == '"f.part.0"'
    assert symtab._asm_string('a"b\\c\n') == '"a\\042b\\134c\\012"'
    debug = (built("fault-write-text", "kvm") / "fault-write-text.debug.elf").read_bytes()
    src = symtab.source(debug)
    assert src == symtab.source(debug)
    funcs = symtab.functions(debug)
    assert f"        .long   {len(funcs)}\n" in src
    main = dict((n, a) for a, n in funcs)["main"]
    assert f"        .long   0x{main:x}, " in src and '        .asciz  "main"\n' in src
