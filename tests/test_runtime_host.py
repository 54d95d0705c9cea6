"""The runtime's pure C parts, compiled for the host and checked against models.

One convention for all runtime C: a library's sources are found by its
folder (stdlib/lib/<name>/ or backends/<b>/lib/<name>/, by discovery, as the
loader finds them), compiled for the host with the system gcc together with
a driver from tests/host_c/, under a name prefix where they would clash with
libc (UNILANG_FMT_PREFIX, UNILANG_HEAP_PREFIX, UNILANG_STRING_PREFIX).  The
library's own src/ is on the include path (its private headers).  Each driver
reads operations on stdin and prints a trace that the tests here check.
Library parameters come as -D options, as the generated unilang_params.h
would give them: the C has no defaults of its own.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import library_folders

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = ROOT / "tests" / "host_c"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed")

CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-format-truncation"]


#: the heap's parameters, as unilang_params.h defines them for the defaults
HEAP_PARAMS = ["-DUNILANG_PARAM_HEAP_MAX_SIZE=(67108864ULL)", "-DUNILANG_PARAM_HEAP_GUARD=0",
               "-DUNILANG_PARAM_HEAP_GUARD_NONE=0", "-DUNILANG_PARAM_HEAP_GUARD_CANARY=1",
               "-DUNILANG_PARAM_HEAP_GUARD_EXIT_CODE=(99)"]

#: binary -> (driver in tests/host_c, library, its sources to compile, -D options)
HOST_BUILDS = {
    "fmt": ("fmt_driver.c", "printf", ["printf.c"], ["-DUNILANG_FMT_PREFIX=u_"]),
    "heap": ("heap_driver.c", "heap", ["heap.c"], ["-DUNILANG_HEAP_PREFIX=h_", *HEAP_PARAMS]),
    "heap_canary": ("heap_driver.c", "heap", ["heap.c"],
                    ["-DUNILANG_HEAP_PREFIX=h_",
                     *[d.replace("GUARD=0", "GUARD=1") for d in HEAP_PARAMS]]),
    "string": ("string_driver.c", "libc-string", ["string.c"], ["-DUNILANG_STRING_PREFIX=s_"]),
    "ring": ("ring_driver.c", "debugcon", ["xencons_ring.c"], []),
}


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("host-c")
    folders = library_folders()
    out = {}
    for name, (driver, lib, sources, defs) in HOST_BUILDS.items():
        src = folders[lib] / "src"
        exe = d / name
        r = subprocess.run(["gcc", *CFLAGS, *defs, f"-I{src}", "-o", str(exe),
                            str(DRIVERS / driver), *(str(src / s) for s in sources)],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        out[name] = exe
    return out


def run(exe: Path, stdin: str = "", *args: str) -> str:
    r = subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    return r.stdout


# --------------------------------------------------------------------- printf

INT_VALUES = {
    "": ["0", "1", "-1", "42", "-42", "2147483647", "-2147483648", "4294967295", "305419896"],
    "l": ["0", "-1", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
          "81985529216486895"],
    "ll": ["0", "-1", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
           "1311768467463790320"],
    "z": ["0", "12345", "18446744073709551615", "9223372036854775807"],
}
FLAGS = ["", "-", "0", "-0", "0-"]
WIDTHS = ["", "1", "2", "5", "12", "25"]


def int_cases() -> list[str]:
    lines = []
    for length, values in INT_VALUES.items():
        for conv in "diuxX":
            for flag in FLAGS:
                for width in WIDTHS:
                    for v in values:
                        lines.append(f"%{flag}{width}{length}{conv}\t{v}")
    return lines


def test_printf_matches_host_snprintf(bins: dict[str, Path]) -> None:
    lines = int_cases()
    out = run(bins["fmt"], "\n".join(lines) + "\n")
    mismatches = [l for l in out.splitlines() if l.startswith("MISMATCH")]
    assert mismatches == []
    # 7 buffer sizes per case: 0, 1, 2, 3, 7, 16 (truncation) and ample
    checked = int(out.splitlines()[-1].split()[1])
    assert checked >= 7 * len(lines)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(FLAGS), st.integers(0, 40),
                          st.sampled_from(["", "l", "ll", "z"]), st.sampled_from("diuxX"),
                          st.integers(-(2 ** 63), 2 ** 64 - 1)), min_size=1, max_size=30))
def test_printf_random_integers(bins: dict[str, Path], cases: list) -> None:
    lines = []
    for flag, width, length, conv, v in cases:
        if length == "" and conv in "di":
            v = (v + 2 ** 31) % 2 ** 32 - 2 ** 31
        elif length == "":
            v %= 2 ** 32
        elif conv in "di":
            v = (v + 2 ** 63) % 2 ** 64 - 2 ** 63
        else:
            v %= 2 ** 64
        lines.append(f"%{flag}{width or ''}{length}{conv}\t{v}")
    out = run(bins["fmt"], "\n".join(lines) + "\n")
    assert [l for l in out.splitlines() if l.startswith("MISMATCH")] == []


# ----------------------------------------------------------------------- heap

HDR, ALIGN, MIN_BLOCK = 16, 16, 32


def need(size: int, canary: bool) -> int:
    n = -(-(size + (8 if canary else 0)) // ALIGN) * ALIGN + HDR
    return max(n, MIN_BLOCK)


def gen_ops(rng: random.Random, count: int, max_size: int) -> list[tuple]:
    """A random operation sequence: (op, id, args...)."""
    ops: list[tuple] = []
    live: set[int] = set()
    next_id = 0
    for _ in range(count):
        k = rng.random()
        if live and k < 0.35:
            i = rng.choice(sorted(live))
            live.discard(i)
            ops.append(("f", i))
        elif live and k < 0.5:
            i = rng.choice(sorted(live))
            ops.append(("r", i, rng.choice([0, 1, rng.randrange(max_size), rng.randrange(64)])
                        if rng.random() < 0.2 else rng.randrange(1, max_size)))
        else:
            i = next_id
            next_id += 1
            live.add(i)
            size = rng.choice([0, 1, 15, 16, 17, rng.randrange(max_size), rng.randrange(256)])
            kind = rng.random()
            if kind < 0.15:
                ops.append(("c", i, rng.randrange(1, 8), size // 8))
            elif kind < 0.3:
                ops.append(("a", i, rng.choice([1, 8, 16, 32, 64, 256, 4096]), size))
            else:
                ops.append(("m", i, size))
    return ops


def check_heap_trace(ops: list[tuple], out: str, region: tuple[int, int], canary: bool) -> None:
    """Replays the trace against a model of the live blocks."""
    lines = out.splitlines()
    assert not [l for l in lines if l.startswith(("BAD", "CORRUPT"))], lines
    lo, hi = region
    total = int(lines[0].split()[1])
    assert total <= hi - lo and total > hi - lo - 32
    live: dict[int, tuple[int, int]] = {}  # id -> (address, size)
    largest = total
    pos = 1

    def overlaps(i: int, addr: int, size: int) -> bool:
        s = max(size, 1)
        return any(j != i and addr < a + max(n, 1) and a < addr + s for j, (a, n) in live.items())

    for op in ops:
        kind, i = op[0], op[1]
        if kind != "f":
            rid, res = lines[pos].split()
            pos += 1
            assert int(rid) == i
            size = {"m": lambda: op[2], "c": lambda: op[2] * op[3], "a": lambda: op[3],
                    "r": lambda: op[2]}[kind]()
            if res == "null":
                if kind == "r" and size == 0:
                    live.pop(i, None)  # realloc(p, 0) frees
                elif kind in "mc":
                    assert need(size, canary) > largest, (op, largest)
                elif kind == "r":
                    # in place was impossible and no free block was big enough
                    assert need(size, canary) > largest, (op, largest)
                # aligned_alloc: NULL can also come from the alignment padding
            else:
                addr = int(res)
                align = op[2] if kind == "a" else ALIGN
                assert addr % max(align, ALIGN) == 0, (op, addr)
                assert lo + HDR <= addr and addr + size <= hi, (op, addr)
                assert not overlaps(i, addr, size), (op, addr, live)
                live[i] = (addr, size)
        else:
            live.pop(i, None)
        _, count, largest_s, free_s = lines[pos].split()
        pos += 1
        assert int(count) >= 0, f"free list damaged after {op}"
        largest = int(largest_s)
        assert int(free_s) <= total
        if not live:
            # everything back and coalesced into one block
            assert (int(count), int(free_s)) == (1, total), op
    end = lines[pos].split()
    assert end == ["end", "1", str(total), str(total)]


@pytest.mark.parametrize("variant", ["heap", "heap_canary"])
@pytest.mark.parametrize("seed", range(6))
def test_heap_random_sequences(bins: dict[str, Path], variant: str, seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([4096, 65536, 1 << 20])
    off = rng.choice([0, 1, 8, 13])
    ops = gen_ops(rng, 1500, max_size=size // 6)
    text = "\n".join(" ".join(map(str, op)) for op in ops) + "\n"
    out = run(bins[variant], text, str(size), str(off))
    check_heap_trace(ops, out, (off, off + size), variant == "heap_canary")


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2 ** 32), st.integers(1, 300), st.sampled_from([512, 4096, 20000]))
def test_heap_hypothesis_sequences(bins: dict[str, Path], seed: int, count: int,
                                   size: int) -> None:
    ops = gen_ops(random.Random(seed), count, max_size=size // 3)
    text = "\n".join(" ".join(map(str, op)) for op in ops) + "\n"
    out = run(bins["heap"], text, str(size), "0")
    check_heap_trace(ops, out, (0, size), False)


def test_heap_exhaustion_returns_null_and_recovers(bins: dict[str, Path]) -> None:
    ops = [("m", i, 1000) for i in range(100)] + [("f", i) for i in range(100)] + [("m", 200, 60000)]
    out = run(bins["heap"], "\n".join(" ".join(map(str, o)) for o in ops) + "\n", "65536", "0")
    results = [l.split()[1] for l in out.splitlines()[1:] if not l.startswith(("chk", "end"))]
    assert "null" in results[:100] and results[0] != "null"
    n_ok = sum(r != "null" for r in results[:100])
    assert 60 <= n_ok <= 64  # 1016-byte blocks in 64 KiB
    assert results[-1] != "null"  # after freeing everything, one big block fits
    assert out.splitlines()[-1] == "end 1 65536 65536"


def test_heap_guard_reports_overflow_and_double_free(bins: dict[str, Path]) -> None:
    ops = "m 1 24\nx 1\nm 2 1\nx 2\nm 3 100\nm 4 5\nd 4\nm 5 7\nf 5\n"
    out = run(bins["heap_canary"], ops, "65536", "0").splitlines()
    corrupt = [l for l in out if l.startswith("CORRUPT")]
    assert corrupt == ["CORRUPT canary 24", "CORRUPT canary 1", "CORRUPT double-free 0"]
    # without the guard the same overflows go unnoticed (and nothing crashes)
    out = run(bins["heap"], "m 1 24\nx 1\nm 4 5\nd 4\n", "65536", "0")
    assert "CORRUPT" not in out


# -------------------------------------------------------------- string, ring

def test_string_functions_match_libc(bins: dict[str, Path]) -> None:
    out = run(bins["string"]).splitlines()
    assert [l for l in out if l.startswith("BAD")] == []
    assert int(out[-1].split()[1]) >= 200000


def test_xen_console_ring(bins: dict[str, Path]) -> None:
    out = run(bins["ring"]).splitlines()
    assert [l for l in out if l.startswith("BAD")] == []
    assert int(out[-1].split()[1]) >= 80
