"""Check-time errors instead of build-time surprises (issue 9, "Trust").

Each of these was once accepted by `check` and only failed (or silently
misbehaved) later, in gcc, ninja, a C `_Static_assert` or the booted guest.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

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
        members = tuple(p.type[5:-1].split(", ")) if p.type.startswith("enum(") else None
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
