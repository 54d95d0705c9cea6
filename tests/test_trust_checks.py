"""Check-time errors instead of build-time surprises (issue 9, "Trust").

Each of these was once accepted by `check` and only failed (or silently
misbehaved) later, in gcc, ninja, a C `_Static_assert` or the booted guest.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from click.testing import CliRunner
from support import ROOT, library_folders, needs_tools, unilang

from unilang import cnames
from unilang.cli import main
from unilang.driver import check_spec
from unilang.emit import cgen

MAIN_C = "int main(void) { return 0; }\n"


def check_json(tmp: Path, spec: str, *args: str, name: str = "app.uni") -> tuple[int, list[dict]]:
    (tmp / "main.c").write_text(MAIN_C)
    (tmp / name).write_text(spec, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(tmp / name), "--format", "json", *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r.exit_code, json.loads(r.stdout)["diagnostics"]


def brief(d: dict) -> tuple[str, int, int, int, str]:
    s = d["span"]
    return d["code"], s["line"], s["column"], s["end_column"], d["message"]


def label_brief(d: dict) -> list[tuple[int, int, int, str]]:
    return [(l["span"]["line"], l["span"]["column"], l["span"]["end_column"], l["message"])
            for l in d["labels"]]


# ---------------------------------------------------------------- 1. generated C names

COLLIDING = """\
construct link "A link";
library net-stack { param mtu: int = 1500; }
library net {
    provides = [link];
    param stack_mtu: int = 1500;
    param mode: enum(fast-path, fast_path, slow) = slow;
    param mode_name: string = "x";
    param mode_slow: int = 1;
}
app a { sources = ["main.c"]; requires = [link]; }
"""


def test_every_generated_c_name_collision_names_both_declarations(tmp_path: Path) -> None:
    code, diags = check_json(tmp_path, COLLIDING, "-b", "kvm")
    assert code == 1
    got = [(brief(d), label_brief(d)) for d in diags]
    assert got == [
        (("U0038", 5, 11, 20, "parameters `net-stack.mtu` and `net.stack_mtu` generate the same "
                              "C name `UNILANG_PARAM_NET_STACK_MTU`"),
         [(2, 27, 30, "first generates `UNILANG_PARAM_NET_STACK_MTU` here")]),
        (("U0038", 6, 33, 42, "enum members `fast-path` and `fast_path` of `net.mode` generate "
                              "the same C name `UNILANG_PARAM_NET_MODE_FAST_PATH`"),
         [(6, 22, 31, "first generates `UNILANG_PARAM_NET_MODE_FAST_PATH` here")]),
        (("U0038", 7, 11, 20, "parameters `net.mode` and `net.mode_name` generate the same C "
                              "name `UNILANG_PARAM_NET_MODE_NAME`"),
         [(6, 11, 15, "first generates `UNILANG_PARAM_NET_MODE_NAME` here")]),
        (("U0038", 8, 11, 20, "enum member `slow` of `net.mode` and parameter `net.mode_slow` "
                              "generate the same C name `UNILANG_PARAM_NET_MODE_SLOW`"),
         [(6, 44, 48, "first generates `UNILANG_PARAM_NET_MODE_SLOW` here")]),
    ]
    assert all(d["help"] == "generated C turns `-` into `_` and upper-cases macro names; "
                            "rename one of them" for d in diags)


def test_parameters_differing_in_case_and_libraries_differing_in_dash(tmp_path: Path) -> None:
    spec = """\
library a-b { param Level: int = 1; param level: int = 2; }
library a_b { param x: int = 1; }
app a { sources = ["main.c"]; }
"""
    code, diags = check_json(tmp_path, spec, "-b", "kvm")
    assert code == 1
    # one diagnostic per clashing pair: `a_b`'s own parameters are not reported again
    assert [(brief(d), label_brief(d)) for d in diags] == [
        (("U0038", 1, 43, 48, "parameters `a-b.Level` and `a-b.level` generate the same C name "
                              "`UNILANG_PARAM_A_B_LEVEL`"),
         [(1, 21, 26, "first generates `UNILANG_PARAM_A_B_LEVEL` here")]),
        (("U0038", 2, 9, 12, "libraries `a-b` and `a_b` generate the same C name "
                             "`UNILANG_HAVE_A_B`"),
         [(1, 9, 12, "first generates `UNILANG_HAVE_A_B` here")]),
    ]


def test_checked_names_are_the_names_cgen_writes(tmp_path: Path) -> None:
    """The checker's names come from `unilang.cnames`; so do the generated header's."""
    (tmp_path / "main.c").write_text(MAIN_C)
    spec = tmp_path / "all.uni"
    spec.write_text('app all { sources = ["main.c"]; requires = [console.lines, mem.alloc, '
                    'rng, time.monotonic, fmt.printf]; set heap.guard = canary; }\n')
    _session, results = check_spec(spec, ["kvm"])
    res = results[0].resolution
    assert res is not None
    header = cgen.params_header(res)
    init = cgen.init_source(res)
    defined = {line.split()[1] for line in header.splitlines() if line.startswith("#define ")}
    expected: set[str] = set()
    for name in res.order:
        lib = res.selected[name].library
        names = list(cnames.library_names(lib.name, lib.init is not None))
        expected.add(names[0])
        for n in names[1:]:
            assert f" {n}\n" in init
    for p in res.params:
        members = p.type.members if p.type.kind == "enum" else None
        expected |= {m.name for m in cnames.param_macros(p.library, p.name, members)}
    assert "UNILANG_PARAM_HEAP_GUARD_CANARY" in expected
    assert expected == defined - {"UNILANG_PARAMS_H", "UNILANG_APP_NAME", "UNILANG_BACKEND",
                                  "UNILANG_BACKEND_KVM", "UNILANG_APP_MEMORY",
                                  "UNILANG_APP_VCPUS"}


# ---------------------------------------------------------------- 2. a source listed twice

def test_source_listed_twice_or_under_another_name(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "b.c").write_text("int b;\n")
    (tmp_path / "alias.c").symlink_to("main.c")
    (tmp_path / "src" / "hard.c").hardlink_to(tmp_path / "src" / "b.c")
    spec = """\
app a {
    sources = ["main.c", "src/b.c", "main.c", "alias.c", "src/hard.c"];
    requires = [console.lines];
}
"""
    code, diags = check_json(tmp_path, spec)
    assert code == 1
    assert [(brief(d), label_brief(d)) for d in diags] == [
        (("U0033", 2, 37, 45, "source `main.c` is listed more than once in `sources`"),
         [(2, 16, 24, "first listed here")]),
        (("U0033", 2, 47, 56, "source `alias.c` is the same file as `main.c`, which is "
                              "listed already in `sources`"),
         [(2, 16, 24, "first listed here")]),
        (("U0033", 2, 58, 70, "source `src/hard.c` is the same file as `src/b.c`, which is "
                              "listed already in `sources`"),
         [(2, 26, 35, "first listed here")]),
    ]


def test_library_source_listed_twice(tmp_path: Path) -> None:
    (tmp_path / "ring.c").write_text("int ring;\n")
    spec = """\
construct ring "A ring";
library ring { provides = [ring]; sources = ["ring.c", "ring.c"]; }
app a { sources = ["main.c"]; requires = [ring]; }
"""
    code, diags = check_json(tmp_path, spec, "-b", "kvm")
    assert code == 1
    assert [brief(d) for d in diags] == [
        ("U0033", 2, 56, 64, "source `ring.c` is listed more than once in `sources`")]


# ---------------------------------------------------------------- 3. constraints of a library's C

def test_baud_that_does_not_divide_115200_is_a_check_error(tmp_path: Path) -> None:
    spec = """\
app a {
    sources = ["main.c"];
    requires = [console.lines];
    set uart16550.baud = 9601;
}
"""
    code, diags = check_json(tmp_path, spec, "-b", "kvm")
    assert code == 1
    [d] = diags
    assert brief(d) == ("U0035", 4, 26, 30,
                        "`uart16550.baud` is 9601, which does not divide 115200")
    [label] = d["labels"]
    assert label["message"] == "`baud` is declared to divide 115200"
    assert label["span"]["file"].endswith("backends/kvm/lib/uart16550/uart16550.uni")
    decl = (ROOT / "backends/kvm/lib/uart16550/uart16550.uni").read_text().splitlines()[label["span"]["line"] - 1]
    assert decl[label["span"]["column"] - 1:label["span"]["end_column"] - 1] == "115200"
    assert "divides 115200" in decl
    assert d["help"] == "the nearest allowed values are 9600 and 11520"


def test_divides_declaration_errors(tmp_path: Path) -> None:
    spec = """\
library x {
    param a: size = 4 KiB divides 3;
    param b: size = 4 KiB divides 0 B;
    param c: string = "s" divides 2;
    param d: size = 3 KiB in 1 KiB .. 1 MiB divides 1 MiB;
    param e: int = -4 divides 8;
    param f: size = 64 KiB in 4 KiB .. 1 MiB divides 1 MiB;
}
app a { sources = ["main.c"]; }
"""
    code, diags = check_json(tmp_path, spec, "-b", "kvm")
    assert code == 1
    assert [(brief(d), d["help"]) for d in diags] == [
        (("U0042", 2, 35, 36, "`divides` of `x.a` must be a size, found an integer"),
         "sizes need a unit: `3 KiB`, `3 MiB` or `3 B`"),
        (("U0042", 3, 35, 38, "`divides` of `x.b` must be positive, not 0 B"), None),
        (("U0042", 4, 35, 36, "`divides` is only allowed for int and size parameters, not "
                              "string"), None),
        (("U0042", 5, 21, 26, "default of `x.d` is 3 KiB, which does not divide 1 MiB"),
         "the nearest allowed values are 2 KiB and 4 KiB"),
        (("U0042", 6, 20, 22, "default of `x.e` is -4, which is not a positive divisor of 8"),
         "the nearest allowed value is 1"),
    ]


def test_set_to_a_divisor_checks_clean(tmp_path: Path) -> None:
    spec = """\
app a {
    sources = ["main.c"];
    requires = [console.lines];
    set uart16550.baud = 9600;
}
"""
    assert check_json(tmp_path, spec, "-b", "kvm") == (0, [])


def test_no_parameter_constraint_lives_only_in_c() -> None:
    """Every parameter a `_Static_assert` or `#error` in a library's C tests is declared
    with a constraint in its `.uni` (a remainder, `%`, needs `divides`; a comparison
    needs a range): the C may repeat a constraint, never own it."""
    decls: dict[str, str] = {}
    for f in [*sorted((ROOT / "stdlib").glob("*.uni")), *sorted(ROOT.glob("backends/*/*.uni")),
              *(folder / f"{name}.uni" for name, folder in sorted(library_folders().items()))]:
        for lib, body in re.findall(r"^library\s+([\w-]+)\s*\{(.*?)^\}", f.read_text(),
                                    re.S | re.M):
            for name, rest in re.findall(r"^\s*param\s+(\w+)\s*:(.*?);\s*$", body, re.M):
                decls[cnames.param_macro(lib, name)] = rest
    conditions: list[str] = []
    for c in sorted([*ROOT.glob("stdlib/**/*.[chS]"), *ROOT.glob("backends/**/*.[chS]")]):
        text = c.read_text()
        conditions += re.findall(r"_Static_assert\s*\((.*?)\);", text, re.S)
        conditions += [b for b in re.findall(r"^#\s*if(.*?)^#\s*endif", text, re.S | re.M)
                       if re.search(r"^#\s*error", b, re.M)]
    needs: dict[str, set[str]] = {}
    for cond in conditions:
        # `#if !defined(X) #error` only says X must come from unilang_params.h
        # (defaults live in the .uni alone): not a constraint on its value
        cond = re.sub(r"!?\s*defined\s*\(?\s*\w+\s*\)?|^#\s*error.*$|\|\|", "", cond,
                      flags=re.M)
        for macro in re.findall(r"UNILANG_PARAM_\w+", cond):
            needs.setdefault(macro, set()).update(
                {" divides " if "%" in cond else " in "} | ({" in "} if re.search(r"[<>]", cond)
                                                           else set()))
    assert needs.get("UNILANG_PARAM_UART16550_BAUD") == {" in ", " divides "}
    for macro, clauses in sorted(needs.items()):
        assert macro in decls, f"{macro}: no such parameter"
        for clause in clauses:
            assert clause in decls[macro], \
                f"{macro}: the C checks it with `{clause.strip()}`, the .uni does not declare it"


@needs_tools
def test_check_accepts_exactly_the_bauds_the_c_accepts(tmp_path: Path) -> None:
    """The `divides 115200` of uart16550.baud agrees with its C `_Static_assert`."""
    src = ROOT / "backends/kvm/lib/uart16550/src/uart16550.c"
    include = ROOT / "stdlib/include"
    (tmp_path / "main.c").write_text(MAIN_C)
    for baud in (50, 75, 110, 300, 1800, 3200, 9600, 9601, 11520, 14400, 76800, 115200):
        cc = subprocess.run(["gcc", "-std=c11", "-ffreestanding", "-fsyntax-only", "-I",
                             str(include), f"-DUNILANG_PARAM_UART16550_BAUD={baud}", str(src)],
                            capture_output=True, text=True, check=False)
        spec = tmp_path / f"b{baud}.uni"
        spec.write_text(f'app b {{ sources = ["main.c"]; requires = [console.lines]; '
                        f'set uart16550.baud = {baud}; }}\n')
        session, _results = check_spec(spec, ["kvm"])
        assert (cc.returncode == 0) == (not session.sink.has_errors), (baud, cc.stderr)


# ---------------------------------------------------------------- 4. memory below the image

BIG_C = """\
#include <unilang/runtime.h>
static char buffer[4 << 20];
int main(void)
{
    for (unsigned long i = 0; i < sizeof buffer; i += 4096)
        buffer[i] = 1;
    unilang_puts("big: done");
    return buffer[4096] == 1 ? 0 : 1;  /* read back: the array is not optimised away */
}
"""


@needs_tools
def test_memory_smaller_than_the_image_stops_the_build(tmp_path: Path) -> None:
    (tmp_path / "big.c").write_text(BIG_C)
    spec = tmp_path / "big.uni"
    spec.write_text('app big {\n    sources = ["big.c"];\n    requires = [console.lines];\n'
                    '    memory = 4 MiB;\n}\n')
    out = tmp_path / "out"
    r = unilang("build", "big.uni", "-b", "kvm", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "big.uni:4:14: error[U0208]: `memory = 4 MiB` is smaller than the image's footprint " \
           "of 5.1 MiB (loaded segments, bss, stack and page tables)" in r.stderr.splitlines()
    assert "  = help: set `memory = 6 MiB;` or more: the heap, if the app has one, takes the " \
           "RAM above the image" in r.stderr.splitlines()
    assert "Traceback" not in r.stderr
    assert not out.exists()
    # with enough memory the same app builds
    spec.write_text(spec.read_text().replace("4 MiB", "6 MiB"))
    r = unilang("build", "big.uni", "-b", "kvm", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "big.elf").is_file()


def test_memory_shortfall_is_measured_from_the_load_segments(tmp_path: Path) -> None:
    import attrs

    from unilang.elfcheck import ImageFacts, footprint, memory_shortfall

    (tmp_path / "main.c").write_text(MAIN_C)
    spec = tmp_path / "a.uni"
    spec.write_text('app a { sources = ["main.c"]; requires = [console.lines]; }\n')
    _session, results = check_spec(spec, ["kvm"])
    app = results[0].program.app
    assert app is not None and app.memory == 32 << 20 and app.memory_span is None
    end = (32 << 20) + 1  # one byte past the default memory: a page more is needed
    facts = ImageFacts(0, 0, None, (), (), (), end)
    assert footprint(facts) == (32 << 20) + 4096
    d = memory_shortfall(facts, app)
    assert d is not None and d.code == "U0208" and d.span == app.span
    assert d.message == ("`memory = 32 MiB` is smaller than the image's footprint of 32.1 MiB "
                         "(loaded segments, bss, stack and page tables)")
    assert d.notes == ("the image is loaded at 1 MiB and ends at 0x2001000; guest RAM is "
                       "0x0 .. 0x2000000",
                       "app `a` does not set `memory`; 32 MiB is the default")
    assert memory_shortfall(facts, attrs.evolve(app, memory=(32 << 20) + 4096)) is None
    assert memory_shortfall(attrs.evolve(facts, load_end=32 << 20), app) is None
