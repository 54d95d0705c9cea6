"""Issue 14, "diagnostics that never mislead": each slip seen in the wild gets a
diagnostic that says what is wrong and, where there is one, a fix that is itself
valid.  Exact texts are asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from unilang.cli import main


def run(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def app(tmp: Path, body: str) -> Path:
    (tmp / "main.c").write_text("int main(void) { return 0; }\n")
    p = tmp / "app.uni"
    p.write_text("app a {\n" + body + "}\n", encoding="utf-8")
    return p


def diag(path: Path, *args: str) -> dict:
    r = run("check", str(path), "--format", "json", *args)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1, doc
    assert len(doc["diagnostics"]) == 1, doc["diagnostics"]
    return doc["diagnostics"][0]


OK = '    sources = ["main.c"];\n    requires = [console.lines];\n'


@pytest.mark.parametrize("body,code,message,help_", [
    # a quoted list of names: the fix is the unquoted list, never `["console.lines"]`
    ('    sources = ["main.c"];\n    requires = "console.lines";\n', "U0034",
     "`requires` expects a list of names, found a string",
     "write a list of names, without quotes: `[console.lines]`"),
    ('    sources = "main.c";\n    requires = [console.lines];\n', "U0034",
     "`sources` expects a list of strings, found a string", 'write a list: `["main.c"]`'),
    # single quotes
    ("    sources = ['main.c'];\n    requires = [console.lines];\n", "U0010",
     "unexpected character `'`", 'strings are written in double quotes: `"main.c"`'),
    # decimal unit, upper-case hex prefix, full-width digit
    (OK + "    memory = 64 MB;\n", "U0010",
     'unexpected name `MB`, expected a unit (B, KiB, MiB, GiB, TiB) or ";"',
     "`MB` is not a unit: did you mean `MiB`? units: B, KiB, MiB, GiB, TiB"),
    (OK + "    vcpus = 0X2;\n", "U0010",
     'unexpected name `X2`, expected a unit (B, KiB, MiB, GiB, TiB) or ";"',
     "a hexadecimal number starts with a lower-case `0x`: `0x2`"),
    (OK + "    vcpus = \uff12;\n", "U0010",
     "unexpected character `\uff12`", "numbers are written with ASCII digits: `2`"),
    # `./main.c`: say what is wrong, and the fix
    ('    sources = ["./main.c"];\n    requires = [console.lines];\n', "U0041",
     "source path `./main.c` is not allowed: it starts with `./`", "write `main.c`"),
    ('    sources = ["src//main.c"];\n    requires = [console.lines];\n', "U0041",
     "source path `src//main.c` is not allowed: it has an empty part (`//` or a trailing `/`)",
     None),
])
def test_slip_has_a_true_hint(tmp_path: Path, body: str, code: str, message: str,
                              help_: str | None) -> None:
    d = diag(app(tmp_path, body))
    assert (d["code"], d["message"], d["help"]) == (code, message, help_)
    assert "ends with `;`" not in (d["help"] or "")


def test_quoted_enum_value_gets_help(tmp_path: Path) -> None:
    d = diag(app(tmp_path, OK + '    device d {\n        kind = "net";\n    }\n'))
    assert d["code"] == "U0034"
    assert d["help"] == "write the name without quotes: `net`"


def test_two_apps_get_the_app_code(tmp_path: Path) -> None:
    p = app(tmp_path, OK)
    p.write_text(p.read_text() + "app b {\n" + OK + "}\n")
    d = diag(p)
    assert (d["code"], d["message"]) == ("U0039", "a spec declares one app, but `b` is a second one")
    assert d["span"]["line"] == 5
    assert [lab["message"] for lab in d["labels"]] == ["app `a` is declared here"]


def test_library_named_like_stdlib_is_reported_in_the_users_file(tmp_path: Path) -> None:
    p = app(tmp_path, OK)
    p.write_text('construct x.y "x";\nlibrary heap {\n    provides = [x.y];\n}\n' + p.read_text())
    d = diag(p)
    assert (d["code"], d["message"]) == (
        "U0030", "library `heap` is defined more than once: the standard library defines it too")
    assert (d["span"]["file"], d["span"]["line"], d["span"]["column"]) == (str(p), 2, 9)
    assert d["labels"][0]["message"] == "the standard library defines it here"
    assert d["labels"][0]["span"]["file"].endswith("heap.uni")
    assert d["help"] == "rename this library"


def test_mac_any_case_is_normalised_to_lower_case(tmp_path: Path) -> None:
    from unilang.driver import check_spec

    p = app(tmp_path, OK + '    device eth0 {\n        kind = net;\n'
            '        mac = "52:54:00:AB:cd:EF";\n    }\n')
    session, results = check_spec(p, ["kvm"])
    assert not [d for d in session.sink.items if d.is_error]
    program = results[0].program
    assert program is not None and program.app is not None
    assert dict(program.app.devices[0].props)["mac"] == "52:54:00:ab:cd:ef"


def test_resolve_json_on_an_error_has_the_documented_shape(tmp_path: Path) -> None:
    p = app(tmp_path, '    sources = ["main.c"];\n    requires = [consol];\n')
    r = run("resolve", str(p), "-b", "kvm", "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert set(doc) == {"ok", "spec", "backends", "diagnostics"}
    assert (doc["ok"], doc["spec"], doc["backends"]) == (False, str(p), ["kvm"])
    assert doc["diagnostics"][0]["message"] == "unknown construct `consol`"


def test_why_names_the_backend_a_library_exists_on(tmp_path: Path) -> None:
    r = run("why", str(app(tmp_path, OK)), "debugcon", "-b", "kvm")
    assert r.exit_code == 0
    assert r.output == ("`debugcon` is not in the image for backend kvm: the library exists "
                        "only on backend xen\n  = help: try `-b xen`\n")


def test_margin_is_one_width_within_a_diagnostic(tmp_path: Path) -> None:
    p = app(tmp_path, OK)
    p.write_text(p.read_text() + "\n" * 6 + "app b {\n" + OK + "}\n")
    r = run("check", str(p))
    lines = r.output.splitlines()
    bars = [ln.index("|") for ln in lines if "|" in ln]
    assert len(bars) == 6 and len(set(bars)) == 1, r.output
    assert " 1 | app a {" in lines


def test_a_very_long_line_is_cut_around_the_span(tmp_path: Path) -> None:
    p = app(tmp_path, OK + '    cmdline = "' + "x" * 50_000 + '"; memory = 64 MB;'
            + " " * 50_000 + "\n")
    r = run("check", str(p))
    assert r.exit_code == 1
    shown = next(ln for ln in r.output.splitlines() if ln.startswith("4 | "))
    assert shown.startswith("4 | ...xxx") and shown.endswith("...")
    assert "memory = 64 MB;" in shown and len(shown) < 200


def test_set_of_a_user_library_of_another_backend_is_skipped(tmp_path: Path) -> None:
    """A user library declared `backends = [kvm]` is handled like a shipped kvm
    library: its `set` applies on kvm and is skipped on xen (not U0112)."""
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    p = tmp_path / "app.uni"
    p.write_text('construct fast.path "f";\n'
                 'library turbo {\n    provides = [fast.path];\n    backends = [kvm];\n'
                 '    default = true;\n    param level: int = 1;\n}\n'
                 'library plain {\n    provides = [fast.path];\n}\n'
                 'app a {\n' + OK.replace("[console.lines]", "[console.lines, fast.path]")
                 + '    set turbo.level = 3;\n}\n')
    r = run("check", str(p), "-b", "kvm", "--format", "json")
    assert json.loads(r.stdout)["diagnostics"] == [] and r.exit_code == 0
    r = run("resolve", str(p), "-b", "kvm")
    assert "turbo.level = 3" in r.output, r.output
    # on xen the library is unsupported (`plain` provides it): the `set` does not apply
    r = run("check", str(p), "-b", "xen", "--format", "json")
    doc = json.loads(r.stdout)
    assert [d["code"] for d in doc["diagnostics"]] == [], doc


def test_set_on_backends_applies_only_there(tmp_path: Path) -> None:
    body = ('    sources = ["main.c"];\n    requires = [console.lines, mem.alloc];\n'
            '    set heap.max_size = 2 MiB on xen;\n    set heap.max_size = 4 MiB on [kvm];\n')
    p = app(tmp_path, body)
    r = run("check", str(p), "-b", "all", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["diagnostics"] == []
    for backend, value, line in (("xen", "2 MiB", 4), ("kvm", "4 MiB", 5)):
        r = run("resolve", str(p), "-b", backend)
        assert f"  heap.max_size = {value}  (set at {p}:{line}:5)\n" in r.output, r.output


def test_set_on_is_checked(tmp_path: Path) -> None:
    d = diag(app(tmp_path, OK + "    set heap.max_size = 2 MiB on qemu;\n"), "-b", "kvm")
    assert (d["code"], d["message"], d["help"]) == ("U0037", "unknown backend `qemu`", None)
    d = diag(app(tmp_path, '    sources = ["main.c"];\n    requires = [console.lines, mem.alloc];\n'
                 "    set heap.max_size = 2 MiB on kvm;\n    set heap.max_size = 3 MiB;\n"),
             "-b", "kvm")
    assert (d["code"], d["message"]) == ("U0033", "`heap.max_size` is set more than once")


def test_import_of_a_near_miss_suggests_the_module(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "sensors.uni").write_text('construct s.r "r";\n')
    p = app(tmp_path, OK)
    p.write_text("import lib.sensor;\n" + p.read_text())
    d = diag(p, "-b", "kvm")
    assert (d["code"], d["message"], d["help"]) == (
        "U0020", "cannot find module `lib.sensor`", "did you mean `lib.sensors`?")


def test_set_of_the_provider_that_lost_suggests_use(tmp_path: Path) -> None:
    p = app(tmp_path, OK.replace("[console.lines]", "[console.lines, kv]")
            + "    set kv-fast.slots = 8;\n")
    p.write_text('construct kv "kv";\nlibrary kv-small { provides = [kv]; default = true; }\n'
                 'library kv-fast { provides = [kv]; param slots: int = 4; }\n' + p.read_text())
    d = diag(p, "-b", "kvm")
    assert (d["code"], d["notes"], d["help"]) == (
        "U0112", ["`kv-fast` is not chosen: `kv-small` provides `kv` instead"],
        "to use it, choose it: `use kv-fast for kv;`")


def test_unknown_name_declared_in_a_file_not_imported(tmp_path: Path, monkeypatch) -> None:
    """The construct exists in the project, in a module the spec does not import:
    the error names the file and the exact `import` line (relative to the spec)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "sensors.uni").write_text(
        'construct sensor.temp "A temperature sensor";\n')
    spec = app(tmp_path, '    sources = ["main.c"];\n    requires = [sensor.temp];\n')
    d = diag(spec)
    assert (d["code"], d["message"], d["help"]) == (
        "U0031", "unknown construct `sensor.temp`",
        "`sensor.temp` is declared in `common/sensors.uni`, which is not imported: "
        'add `import "common/sensors.uni";`')
    # the suggested line is itself valid: with it the spec gets past the name
    spec.write_text('import "common/sensors.uni";\n' + spec.read_text())
    r = run("check", str(spec), "--format", "json")
    assert "U0031" not in r.stdout
    # two files declaring it: no guess which one is meant
    (tmp_path / "common" / "more.uni").write_text('construct sensor.temp "Again";\n')
    spec.write_text(spec.read_text().split("\n", 1)[1])
    assert diag(spec).get("help") is None
