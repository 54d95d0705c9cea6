"""Every path and every value (issue 9, "Trust"): files reached through links,
special files, names and numbers too long for the system, strings that a
generated format cannot carry, and what diagnostics print back.

Anything that could hang on a regression (FIFOs, devices) runs in a
subprocess with a timeout, so a regression fails instead of hanging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unilang.cli import main

from support import ROOT

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")

MAIN_C = "int main(void) { return 0; }\n"


def app(sources: str = '"main.c"', extra: str = "") -> str:
    return (f"app a {{\n    sources = [{sources}];\n    requires = [console.lines];\n"
            f"{extra}}}\n")


def project(tmp: Path, text: str, files: dict[str, str] | None = None) -> Path:
    root = tmp / "proj"
    root.mkdir(exist_ok=True)
    for name, data in (files if files is not None else {"main.c": MAIN_C}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(data)
    spec = root / "a.uni"
    spec.write_text(text, encoding="utf-8", newline="")
    return spec


def check_json(spec: Path, *args: str) -> tuple[int, list[dict]]:
    r = CliRunner().invoke(main, ["check", str(spec), "--format", "json", *args],
                           catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, json.loads(r.stdout)["diagnostics"]


def check_process(spec: Path, *args: str, env: dict[str, str] | None = None,
                  timeout: float = 60) -> tuple[int, list[dict]]:
    """`unilang check` in its own process: a hang is a TimeoutExpired, not a hung suite."""
    proc = subprocess.run([sys.executable, "-m", "unilang", "check", str(spec), "--format",
                           "json", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["diagnostics"]


def only(diags: list[dict]) -> dict:
    assert len(diags) == 1, diags
    return diags[0]


def where(d: dict) -> tuple[int, int]:
    return d["span"]["line"], d["span"]["column"]


# ---------------------------------------------------------------- 1. links out of the root

def test_source_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "outside.c"
    secret.write_text(MAIN_C)
    spec = project(tmp_path, app('"main.c", "link.c"'))
    (spec.parent / "link.c").symlink_to(secret)
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert d["code"] == "U0041" and where(d) == (2, 26)
    assert d["message"] == ("source `link.c` resolves outside the spec's directory: "
                            f"its real path is {secret}")


def test_source_in_a_folder_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.c").write_text(MAIN_C)
    spec = project(tmp_path, app('"main.c", "sub/x.c"'))
    (spec.parent / "sub").symlink_to(tmp_path / "elsewhere")
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    assert only(diags)["message"] == ("source `sub/x.c` resolves outside the spec's directory: "
                                      f"its real path is {tmp_path / 'elsewhere' / 'x.c'}")


def test_source_linked_inside_the_root_is_fine(tmp_path: Path) -> None:
    spec = project(tmp_path, app('"link.c"'), {"real/main.c": MAIN_C})
    (spec.parent / "link.c").symlink_to(spec.parent / "real" / "main.c")
    code, diags = check_json(spec, "-b", "kvm")
    assert (code, diags) == (0, [])


def test_header_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "passwd.h").write_text("root:x:0:0\n")
    spec = project(tmp_path, app())
    (spec.parent / "evil.h").symlink_to(tmp_path / "passwd.h")
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert d["code"] == "U0041" and where(d) == (2, 16)
    assert d["message"] == ("header `evil.h` beside source `main.c` resolves outside the "
                            f"spec's directory: its real path is {tmp_path / 'passwd.h'}")
    assert d["help"] == "the build copies every `*.h` beside a source; move or remove this one"


def test_a_result_reused_from_the_cache_sees_a_new_link(tmp_path: Path) -> None:
    """`check` reuses its last verdict only when no source or header changed kind or target."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("UNILANG_NO_CACHE", None)
    spec = project(tmp_path, app(), {"main.c": MAIN_C, "util.h": "\n"})
    assert check_process(spec, "-b", "kvm", env=env) == (0, [])
    (tmp_path / "passwd.h").write_text("\n")
    (spec.parent / "util.h").unlink()
    (spec.parent / "util.h").symlink_to(tmp_path / "passwd.h")
    code, diags = check_process(spec, "-b", "kvm", env=env)
    assert code == 1 and only(diags)["code"] == "U0041"


# ---------------------------------------------------------------- 4. numbers and names too long

@pytest.mark.parametrize("literal, message, note", [
    ("9" * 4300, "vcpus is out of range: it is 2^64 or more", "allowed: 1 to 256"),
    ("-" + "9" * 5000, "vcpus is out of range: it is -2^64 or less", "allowed: 1 to 256"),
    ("0x" + "f" * 5000, "vcpus is out of range: it is 2^64 or more", "allowed: 1 to 256"),
    ("18446744073709551616", "vcpus is out of range: it is 2^64 or more", "allowed: 1 to 256"),
    ("18446744073709551615", "vcpus 18446744073709551615 is out of range", "allowed: 1 to 256"),
])
def test_huge_integer_is_out_of_range(tmp_path: Path, literal: str, message: str,
                                      note: str) -> None:
    spec = project(tmp_path, app(extra=f"    vcpus = {literal};\n"))
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], d["notes"], where(d)) == ("U0035", message, [note], (4, 13))


def test_huge_size_and_parameter(tmp_path: Path) -> None:
    spec = project(tmp_path, app(extra="    memory = " + "1" * 5000 + " MiB;\n"
                                 "    set heap.max_size = 99999999999999999999999 B;\n"))
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    assert [(d["code"], d["message"], d["notes"]) for d in diags] == [
        ("U0035", "memory 111111111111...1111 (5000 characters) MiB is out of range",
         ["allowed: 1 MiB to 1 TiB"]),
        ("U0035", "`heap.max_size` is out of range: it is 99999999999999999999999 B",
         ["allowed: 0 B to 18446744073709551615 B (the generated C macro is a 64-bit "
          "unsigned integer)"]),
    ]


def test_huge_parameter_declaration(tmp_path: Path) -> None:
    spec = project(tmp_path, "library big {\n    provides = [console.lines];\n"
                   "    param n: int = " + "7" * 4400 + ";\n}\n" + app())
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], where(d)) == (
        "U0042", "default of `big.n` is out of range: it is 2^64 or more", (3, 20))
    assert d["notes"] == ["allowed: -9223372036854775807 to 9223372036854775807 (the "
                          "generated C macro is a 64-bit integer)"]


def test_both_parsers_read_huge_literals_alike() -> None:
    from unilang.front import parse_text, reference_parse
    from unilang.front.source import SourceFile

    text = ("library x { a = " + "9" * 4400 + "; b = -0x" + "f" * 20 + "; c = "
            + "1" * 4500 + " KiB; d = 0x10 MiB; e = 00000000000000000000000000042; }\n")
    fast, errs = parse_text(text, "t.uni")
    assert not errs and fast is not None
    ref, errs = reference_parse(SourceFile("t.uni", Path("t.uni"), text, ""))
    assert not errs and ref == fast
    values = [m.value.value for m in fast.decls[0].members]
    assert values == [1 << 64, -(1 << 64), (1 << 64) * 1024, 16 << 20, 42]


@pytest.mark.parametrize("size", [252, 255])
def test_source_name_too_long_for_its_object(tmp_path: Path, size: int) -> None:
    """A 255-byte name is a legal file name, but the build's `<name>.o.d` is not."""
    name = "a" * (size - 2) + ".c"
    spec = project(tmp_path, app(f'"{name}"'), {name: MAIN_C})
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert d["code"] == "U0041" and where(d) == (2, 16)
    assert d["message"] == (f"source file name `{name}` is {size} bytes long; the limit is "
                            "251 bytes")
    assert d["notes"] == ["the build names the object `<name>.o` and its dependency file "
                          "`<name>.o.d`, and a file name may have at most 255 bytes"]


@pytest.mark.skipif(not __import__("shutil").which("gcc"), reason="gcc is needed")
def test_longest_source_name_builds(tmp_path: Path) -> None:
    name = "b" * 249 + ".c"
    spec = project(tmp_path, app(f'"{name}"'), {name: MAIN_C})
    assert check_json(spec, "-b", "kvm") == (0, [])
    proc = subprocess.run([sys.executable, "-m", "unilang", "build", spec.name, "-b", "kvm"],
                          cwd=spec.parent, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("source, message", [
    ("a" * 300 + ".c", "source file name `" + "a" * 300 + ".c` is 302 bytes long; the limit "
     "is 251 bytes"),
    ("d" * 256 + "/x.c", "source path `" + "d" * 256 + "/x.c` has a folder name of 256 bytes; "
     "the limit is 255 bytes"),
    ("/".join(["d" * 200] * 25) + "/x.c", "cannot read source `" + "/".join(["d" * 200] * 25)
     + "/x.c`: File name too long"),
])
def test_source_path_too_long(tmp_path: Path, source: str, message: str) -> None:
    spec = project(tmp_path, app(f'"{source}"'))
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], where(d)) == ("U0041", message, (2, 16))


@pytest.mark.parametrize("target, message", [
    ('"' + "m" * 300 + '.uni"', "cannot find module `" + "m" * 40 + "..." + "m" * 8 + ".uni`: "
     "a file name in it is 304 bytes long, and file names are limited to 255 bytes"),
    ("m" * 300, "cannot find module `" + "m" * 40 + "..." + "m" * 12 + "`: a file name in it "
     "is 304 bytes long, and file names are limited to 255 bytes"),
    ('"' + "/".join(["d" * 200] * 25) + '.uni"', "cannot find module `" + "d" * 40 + "..."
     + "d" * 8 + ".uni`: File name too long"),
])
def test_import_name_too_long(tmp_path: Path, target: str, message: str) -> None:
    spec = project(tmp_path, f"import {target};\n" + app())
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], where(d)) == ("U0020", message, (1, 1))


# ---------------------------------------------------------------- 5. special files

@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_special_file_as_source(tmp_path: Path, kind: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    spec = project(tmp_path, app('"main.c", "odd.c"'))
    odd = spec.parent / "odd.c"
    if kind == "fifo":
        os.mkfifo(odd)
        what = "a FIFO"
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        monkeypatch.chdir(spec.parent)  # AF_UNIX paths are short: bind a relative one
        sock.bind("odd.c")
        what = "a socket"
    else:
        odd.symlink_to("/dev/zero")
        what = "a character device"
    code, diags = check_process(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], where(d)) == (
        "U0041", f"source `odd.c` is not a regular file: it is {what}", (2, 26))


def test_fifo_header_is_refused_at_check_time(tmp_path: Path) -> None:
    spec = project(tmp_path, app())
    os.mkfifo(spec.parent / "pipe.h")
    code, diags = check_process(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert d["code"] == "U0041"
    assert d["message"] == "header `pipe.h` beside source `main.c` is not a regular file: it is a FIFO"


@pytest.mark.parametrize("kind", ["fifo", "outside"])
def test_build_neither_hangs_on_nor_copies_a_bad_header(tmp_path: Path, kind: str) -> None:
    spec = project(tmp_path, app())
    if kind == "fifo":
        os.mkfifo(spec.parent / "bad.h")
    else:
        (tmp_path / "secret.h").write_text("#define SECRET 1\n")
        (spec.parent / "bad.h").symlink_to(tmp_path / "secret.h")
    proc = subprocess.run([sys.executable, "-m", "unilang", "build", spec.name, "-b", "kvm"],
                          cwd=spec.parent, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 1
    assert "error[U0041]: header `bad.h` beside source `main.c`" in proc.stderr
    assert not list(spec.parent.glob("build/**/bad.h"))


def test_directory_as_source(tmp_path: Path) -> None:
    spec = project(tmp_path, app('"dir.c"'))
    (spec.parent / "dir.c").mkdir()
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    assert only(diags)["message"] == "source `dir.c` is not a regular file: it is a directory"


def test_fifo_module_in_the_spec_folder_does_not_block_the_build_key(tmp_path: Path) -> None:
    """The up-to-date check once hashed every .uni below the spec's folder; a FIFO
    there blocked it forever.  Neither the key nor a file's hash may block."""
    spec = project(tmp_path, app())
    os.mkfifo(spec.parent / "pipe.uni")
    (spec.parent / "zero.uni").symlink_to("/dev/zero")
    code = ("import sys; from unilang.fresh import build_key, _sha_file; "
            "print(build_key(sys.argv[1], 'kvm', None) is not None, _sha_file(sys.argv[2]))")
    proc = subprocess.run([sys.executable, "-c", code, str(spec),
                           str(spec.parent / "pipe.uni")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True None\n"


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_special_cache_entries_are_misses_and_replaced(tmp_path: Path, kind: str) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("UNILANG_NO_CACHE", None)
    spec = project(tmp_path, app())
    assert check_process(spec, "-b", "kvm", env=env) == (0, [])
    entries = [p for p in (tmp_path / "cache" / "unilang").rglob("*")
               if p.is_file() and p.name != "key"]
    assert entries
    for p in entries:
        p.unlink()
        if kind == "dev-zero":
            p.symlink_to("/dev/zero")
        elif kind == "fifo":
            os.mkfifo(p)
        else:
            p.mkdir()
    assert check_process(spec, "-b", "kvm", env=env, timeout=60) == (0, [])
    if kind != "directory":  # rename cannot replace a directory: it stays a miss
        assert all(p.is_file() and not p.is_symlink() for p in entries)


def test_special_cache_key_turns_the_cache_off(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("UNILANG_NO_CACHE", None)
    (tmp_path / "cache" / "unilang").mkdir(parents=True, mode=0o700)
    os.mkfifo(tmp_path / "cache" / "unilang" / "key", 0o600)
    spec = project(tmp_path, app())
    assert check_process(spec, "-b", "kvm", env=env, timeout=60) == (0, [])


# ---------------------------------------------------------------- 2. generated C

INJECTED = "\n#define UNILANG_INJECTED 1\n"


@pytest.mark.skipif(not __import__("shutil").which("gcc"), reason="gcc is needed")
def test_spec_path_cannot_inject_into_the_params_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder named `e*` ends the comment at the `/` after it; a file name with
    newlines then starts lines of its own."""
    from unilang.driver import check_spec
    from unilang.emit import cgen

    folder = tmp_path / "e*"
    folder.mkdir()
    (folder / "main.c").write_text(MAIN_C)
    name = INJECTED + ".uni"
    (folder / name).write_text('app a {\n    sources = ["main.c"];\n    requires = [console.lines, '
                               'mem.alloc];\n    set heap.max_size = 2 MiB;\n}\n')
    monkeypatch.chdir(tmp_path)
    session, results = check_spec(Path("e*") / name, ["kvm"])
    assert not session.sink.has_errors, session.sink.items
    header = cgen.params_header(results[0].resolution)
    (tmp_path / "params.h").write_text(header)
    proc = subprocess.run(["gcc", "-std=c11", "-E", "-dM", "-x", "c", "-include", "params.h",
                           "/dev/null"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "UNILANG_INJECTED" not in proc.stdout
    assert "#define UNILANG_PARAM_HEAP_MAX_SIZE (2097152ULL)" in proc.stdout
    comment = next(line for line in header.split("\n") if line.startswith("/* heap.max_size"))
    assert "UNILANG_INJECTED 1\n" not in header
    assert comment == ("/* heap.max_size: size, set at e* /\\n#define UNILANG_INJECTED 1\\n"
                       ".uni:4 */")


@pytest.mark.parametrize("value, text", [
    ("a */ b", "a * / b"),
    ("a /* b", "a / * b"),
    ("*/*/", "* / * /"),
    ("**//", "** //"),
    ("line\nbreak\r\ttab\x1b[31m", "line\\nbreak\\r\\ttab\\x1b[31m"),
    ("back\\", "back\\\\"),
    ("é€😀", "\\x" + "e9" + "\\u20ac\\U0001f600"),
])
def test_c_comment_escaping(value: str, text: str) -> None:
    from unilang.emit.escape import c_comment

    assert c_comment(value) == text


def test_generated_c_refuses_unescaped_values() -> None:
    from unilang.emit import cgen

    with pytest.raises(TypeError, match="unescaped value"):
        cgen._c("#define X {v}", v="raw */ text")


# ---------------------------------------------------------------- 3. what XML cannot carry

@pytest.mark.parametrize("written, point", [
    ("\ufffe", "U+FFFE"),
    ("\\u{ffff}", "U+FFFF"),
    ("ok \\u{FFFE} ok", "U+FFFE"),
])
def test_cmdline_that_xml_cannot_carry(tmp_path: Path, written: str, point: str) -> None:
    spec = project(tmp_path, app(extra=f'    cmdline = "console={written}";\n'))
    code, diags = check_json(spec)
    assert code == 1
    d = only(diags)
    assert (d["code"], d["message"], d["help"]) == (
        "U0044", f"cmdline contains {point}, which XML 1.0 cannot carry",
        "libvirt.xml could not be read back; remove the character")
    assert d["span"] == {"file": d["span"]["file"], "line": 4, "column": 15, "end_line": 4,
                         "end_column": 15 + len(written) + len('"console="')}


def test_string_parameter_that_xml_cannot_carry(tmp_path: Path) -> None:
    spec = project(tmp_path, "library g {\n    provides = [console.lines];\n"
                   '    param s: string = "\\u{fffe}";\n}\n' + app())
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    assert [(d["code"], d["message"]) for d in diags] == [
        ("U0044", "default of `g.s` contains U+FFFE, which XML 1.0 cannot carry")]


@pytest.mark.parametrize("value", ["\ufffe", "\uffff", "\ud800", "\x1b"])
def test_xml_escaping_refuses_what_xml_cannot_carry(value: str) -> None:
    from unilang.emit.escape import Unrepresentable, xml_text

    with pytest.raises(Unrepresentable):
        xml_text(f"a{value}b")


# ---------------------------------------------------------------- 6. what diagnostics print

def check_text(spec: Path, *args: str) -> str:
    r = CliRunner().invoke(main, ["check", str(spec), *args], catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.stderr


def test_escape_sequences_in_an_excerpt_are_shown_not_sent(tmp_path: Path) -> None:
    spec = project(tmp_path, 'app a { doc = "\x1b[2J\x07"; sources = ["main.c"]; '
                   'requires = [console.lines]; vcpus = 0; } # \x1b]0;owned\x07\n')
    out = check_text(spec, "-b", "kvm")
    assert "\x1b" not in out and "\x07" not in out
    lines = out.split("\n")
    assert lines[2] == ('1 | app a { doc = "\\x1b[2J\\x07"; sources = ["main.c"]; '
                        'requires = [console.lines]; vcpus = 0; } # \\x1b]0;owned\\x07')
    # the carets sit under `0`, although each escape is four columns wide
    assert lines[3] == "  |" + " " * (lines[2].index("= 0;") + 2 - 3) + "^"


def test_quoted_values_and_file_names_are_shown_not_sent(tmp_path: Path) -> None:
    spec = project(tmp_path, app('"\x1b[31mred.c"'))
    renamed = spec.parent / "sp\x1b[8mec\u202e.uni"
    spec.rename(renamed)
    out = check_text(renamed, "-b", "kvm")
    assert "\x1b" not in out and "\u202e" not in out
    assert "sp\\x1b[8mec\\u202e.uni:2:16: error[U0041]: source path `\\x1b[31mred.c` is " \
           "not allowed" in out
    code, diags = check_json(renamed, "-b", "kvm")
    assert only(diags)["message"] == ("source path `\x1b[31mred.c` is not allowed: "
                                      "it contains `U+001B`")  # data as is
    r = CliRunner().invoke(main, ["check", str(renamed), "-b", "kvm", "--format", "json"])
    assert "\x1b" not in r.stdout and "\u202e" not in r.stdout  # escaped by JSON itself


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_end_counts_alike(tmp_path: Path, end: str) -> None:
    text = end.join(["# a comment", "app a {", '    sources = ["main.c"];',
                     "    requires = [console.lines];", "    vcpus = 0;", "}", ""])
    spec = project(tmp_path, text)
    code, diags = check_json(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], where(d)) == ("U0035", (5, 13))
    out = check_text(spec, "-b", "kvm")
    assert "\r" not in out
    assert out.split("\n")[1:4] == ["  |", "5 |     vcpus = 0;", "  |             ^"]


def test_bare_cr_ends_a_comment(tmp_path: Path) -> None:
    """A comment ends at a CR: the app after it is parsed, not swallowed."""
    spec = project(tmp_path, "# comment\rapp a {\r    sources = [\"main.c\"];\r"
                   "    requires = [console.lines];\r}\r")
    assert check_json(spec, "-b", "kvm") == (0, [])


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_utf8_error_position_with_any_line_end(tmp_path: Path, end: str) -> None:
    spec = project(tmp_path, "")
    spec.write_bytes(end.join(["app a {", "    doc = \"caf\xe9\";"]).encode("latin-1"))
    code, diags = check_json(spec, "-b", "kvm")
    d = only(diags)
    assert (d["code"], where(d)) == ("U0002", (2, 15))


@pytest.mark.parametrize("target", ["pipe", '"pipe.uni"'])
def test_fifo_module_is_refused_where_it_is_imported(tmp_path: Path, target: str) -> None:
    spec = project(tmp_path, f"import {target};\n" + app())
    os.mkfifo(spec.parent / "pipe.uni")
    code, diags = check_process(spec, "-b", "kvm")
    assert code == 1
    d = only(diags)
    assert (d["code"], where(d)) == ("U0001", (1, 1))
    assert d["message"].endswith("pipe.uni`: it is not a regular file")
