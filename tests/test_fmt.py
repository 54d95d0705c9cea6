"""`unilang fmt`: the canonical layout (exact output), idempotence and meaning
(the same tree, the same comments, the same resolution) on every shipped spec
and on random ones, the shipped specs already formatted, and the command
(`--check`, writing only when changed, syntax errors left alone, the project)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from unilang.cli import main
from unilang.diagnostics import Span
from unilang.fmt import WIDTH, format_text
from unilang.front import parse_text
from unilang.front import syntax as S
from unilang.front.comments import every_comment
from unilang.front.tokens import fast_token_regex

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for top in ("examples", "stdlib", "backends")
                 for p in (ROOT / top).rglob("*.uni"))
#: The shipped specs that do not parse or read, on purpose (syntax-error examples).
UNFORMATTABLE = {"U0002-latin1-file.uni", "U0003-nul-byte.uni", "U0010-missing-semicolon.uni",
                 "U0010-nested-list.uni", "U0011-invalid-escape.uni"}


# ---------------------------------------------------------------- helpers

def shape(node: Any) -> Any:
    """A tree without spans and comments: what the checker reads."""
    if isinstance(node, Span):
        return None
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    if attrs.has(type(node)):
        return (type(node).__name__,) + tuple(
            (a.name, shape(getattr(node, a.name))) for a in attrs.fields(type(node))
            if a.name != "comments" and not a.name.endswith("span"))
    return node


def tree(text: str) -> S.Module:
    module, errors = parse_text(text, "t.uni")
    assert module is not None and not [e for e in errors if e.is_error], (text, errors)
    return module


def comment_texts(module: S.Module) -> list[str]:
    return [c.text.rstrip() for c in every_comment(module)]


def fmt(text: str) -> str:
    res = format_text(text, "t.uni")
    assert res.text is not None, res.diagnostics
    return res.text


def same_meaning(before: str, after: str) -> None:
    a, b = tree(before), tree(after)
    assert shape(a) == shape(b)
    assert comment_texts(a) == comment_texts(b)


def formatted_ok(text: str) -> str:
    once = fmt(text)
    assert fmt(once) == once, "not idempotent"
    same_meaning(text, once)
    for line in once.split("\n"):
        assert line == line.rstrip(), "trailing space"
        assert "\t" not in line[:len(line) - len(line.lstrip())], "tab indent"
    assert once == "" or (once.endswith("\n") and not once.endswith("\n\n"))
    assert "\n\n\n" not in once
    return once


# ---------------------------------------------------------------- layout

MESSY = '''

# header comment


import   core ;
construct  a.b"A doc";   // trailing on a construct
app demo{doc="x";sources=[ "main.c" ,];   # after sources



    # before requires
    requires = [console.lines,mem.alloc,fmt.printf,time.monotonic,net.udp,net.ip,net.eth,net.link];
    memory=0x10MiB ; vcpus =1;
    requires on [kvm] = [a , b ,];
    device net0 { kind = net; # the kind
        mac = "52:54:00:12:34:56";
        # last in the device
    }
    policies = [ # why these
        production,  # strict
        # then
        offline
        # nothing after
    ];
    param p : enum( a,b ) = a in a..b divides 4 "the \\u{41} doc" ;
    param q: int # inside a param
        = 3;
    use heap for mem . alloc;
    set heap.max_size=16MiB on [ kvm , xen ];
    # end of app
}
library empty { }
policy p2 { # only a comment
}
# the end

'''

EXPECTED = '''# header comment

import core;
construct a.b "A doc";  // trailing on a construct
app demo {
    doc = "x";
    sources = ["main.c"];  # after sources

    # before requires
    requires = [
        console.lines,
        mem.alloc,
        fmt.printf,
        time.monotonic,
        net.udp,
        net.ip,
        net.eth,
        net.link,
    ];
    memory = 0x10 MiB;
    vcpus = 1;
    requires on kvm = [a, b];
    device net0 {
        kind = net;  # the kind
        mac = "52:54:00:12:34:56";
        # last in the device
    }
    policies = [  # why these
        production,  # strict
        # then
        offline,
        # nothing after
    ];
    param p: enum(a, b) = a in a .. b divides 4 "the \\u{41} doc";
    # inside a param
    param q: int = 3;
    use heap for mem.alloc;
    set heap.max_size = 16 MiB on [kvm, xen];
    # end of app
}
library empty {}
policy p2 {}  # only a comment
# the end
'''


def test_canonical_layout() -> None:
    assert formatted_ok(MESSY) == EXPECTED


def test_list_wraps_past_the_width_only() -> None:
    items = ", ".join(f"c{i:02}" for i in range(17))  # `    require = [...];` is 100 wide
    line = f"    require = [{items}];"
    assert len(line) == WIDTH
    assert fmt(f"app a {{\n{line}\n}}\n") == f"app a {{\n{line}\n}}\n"
    longer = fmt(f"app a {{ requires = [{items}]; }}")
    assert longer.split("\n")[1:4] == ["    requires = [", "        c00,", "        c01,"]


def test_empty_and_comment_only_files() -> None:
    assert fmt("") == ""
    assert fmt("\n\n  \n") == ""
    assert fmt("  # only\n\n\n// comments  \n") == "# only\n\n// comments\n"


def test_crlf_and_literals_as_written() -> None:
    text = 'app a {\r\n  cmdline = "a\\tb\\u{e9}";\r\n  x = [0x1F, -7, 007, 1KiB, true];\r\n}\r\n'
    res = format_text(text)
    assert res.changed
    assert res.text == ('app a {\n    cmdline = "a\\tb\\u{e9}";\n'
                        '    x = [0x1F, -7, 007, 1 KiB, true];\n}\n')


def test_syntax_error_gives_diagnostics_and_no_text() -> None:
    res = format_text('app a { x = "y" }', "bad.uni")
    assert res.text is None and not res.changed
    assert [(d.code, d.message) for d in res.diagnostics] == [
        ("U0010", 'unexpected `}`, expected ";"')]


# ---------------------------------------------------------------- shipped specs

def _name(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", SHIPPED, ids=_name)
def test_shipped_specs_are_formatted(path: Path) -> None:
    data = path.read_bytes()
    if path.name in UNFORMATTABLE:
        try:
            res = format_text(data.decode("utf-8"), path.name)
        except UnicodeDecodeError:
            return
        assert res.text is None
        return
    text = data.decode("utf-8")
    res = format_text(text, path.name)
    assert res.text == text, f"{_name(path)} is not formatted: run `unilang fmt {_name(path)}`"
    assert not res.changed
    same_meaning(text, res.text)


def test_unformattable_examples_exist() -> None:
    assert UNFORMATTABLE <= {p.name for p in SHIPPED}


_TOKEN = fast_token_regex()
_COMMENT = re.compile(r"(?:#|//)[^\n]*")


def relayout(text: str, draw: Any) -> str:
    """``text`` with every stretch between tokens written differently but to
    the same effect for the formatter: other horizontal space (or none next
    to punctuation), other indentation, 2 or 3 line ends for a blank line,
    comments kept with the line ends around them."""
    out: list[str] = []
    pos = 0
    prev_word = False
    while True:
        m = _TOKEN.match(text, pos)
        assert m is not None
        gap = text[pos:m.start(m.lastgroup or "end")]
        kind = m.lastgroup
        tok = m.group(kind) if kind else ""
        word = kind in ("name", "int", "str")
        out.append(_regap(gap, draw, prev_word and word, kind == "end"))
        out.append(tok)
        prev_word = word
        pos = m.end()
        if kind == "end":
            return "".join(out)


def _regap(gap: str, draw: Any, need_space: bool, at_end: bool) -> str:
    spaces = st.sampled_from(["", " ", "   ", "\t"])
    pieces = re.split(r"((?:#|//)[^\n]*)", gap)
    out = []
    for k, piece in enumerate(pieces):
        if k % 2:  # a comment, with trailing spaces perhaps
            out.append(piece + draw(st.sampled_from(["", "  "])))
            continue
        newlines = piece.count("\n")
        if newlines == 0:
            sp = draw(spaces)
            out.append(sp if sp or not need_space or len(pieces) > 1 else " ")
        else:
            n = newlines if newlines == 1 else draw(st.sampled_from([2, 3]))
            out.append(draw(spaces) + "\n" * n + draw(spaces))
    return "".join(out)


_FORMATTABLE = [p for p in SHIPPED if p.name not in UNFORMATTABLE]


@pytest.mark.parametrize("path", _FORMATTABLE, ids=_name)
@settings(max_examples=8)
@given(data=st.data())
def test_any_layout_of_a_shipped_spec_formats_back_to_it(path: Path, data: Any) -> None:
    text = path.read_text(encoding="utf-8")
    messy = relayout(text, data.draw)
    assert fmt(messy) == text
    same_meaning(messy, text)


# ---------------------------------------------------------------- random specs

NAMES = ["x", "a-b", "k_2", "heap", "net0", "kvm", "xen"]
DOTTED = ["c", "a.b", "mem.alloc", "console.lines"]


def _scalar() -> st.SearchStrategy[str]:
    return st.sampled_from(["1", "-2", "0x10", "007", "64 MiB", "1KiB", "0x2 GiB", '"str"',
                            '"e\\u{e9}\\n"', '""', "true", "false", "name", "dotted.name",
                            "18446744073709551616", "0x" + "f" * 30 + " KiB", "7" * 50 + "MiB"])


def _field() -> st.SearchStrategy[str]:
    value = st.one_of(_scalar(), st.lists(_scalar(), max_size=25).map(
        lambda xs: "[" + ", ".join(xs) + "]"), st.just("[a,]"))
    on = st.sampled_from(["", " on kvm", " on [kvm, xen]", " on [xen,]", " on [kvm]"])
    return st.tuples(st.sampled_from(["doc", "requires", "k-2", "on", "in"]), on, value).map(
        lambda t: f"{t[0]}{t[1]} = {t[2]};")


def _member() -> st.SearchStrategy[str]:
    param = st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from(["int", "size", "bool", "string", "enum(a, b)", "enum(a,)"]),
        st.sampled_from(["", " = 1", " = 4 KiB", " = a", ' = "s"']),
        st.sampled_from(["", " in 1 .. 2", " in 1..2", " in a..b"]),
        st.sampled_from(["", " divides 8", " divides 4 KiB"]),
        st.sampled_from(["", ' "doc \\"q\\""'])).map(
            lambda t: f"param {t[0]}: {t[1]}{t[2]}{t[3]}{t[4]}{t[5]};")
    device = st.tuples(st.sampled_from(NAMES), st.lists(_field(), max_size=3)).map(
        lambda t: f"device {t[0]} {{ " + " ".join(t[1]) + " }")
    use = st.tuples(st.sampled_from(NAMES), st.sampled_from(DOTTED)).map(
        lambda t: f"use {t[0]} for {t[1]};")
    set_ = st.tuples(st.sampled_from(["lib.p", "heap.max_size"]), _scalar(),
                     st.sampled_from(["", " on xen", " on [kvm, xen,]"])).map(
        lambda t: f"set {t[0]} = {t[1]}{t[2]};")
    return st.one_of(_field(), param, device, use, set_)


def _decl() -> st.SearchStrategy[str]:
    block = st.tuples(st.sampled_from(["library", "app", "policy"]), st.sampled_from(NAMES),
                      st.lists(_member(), max_size=5)).map(
        lambda t: f"{t[0]} {t[1]} {{ " + " ".join(t[2]) + " }")
    symbol = st.tuples(st.sampled_from(["construct", "capability"]), st.sampled_from(DOTTED),
                       st.sampled_from(["", ' "doc"'])).map(lambda t: f"{t[0]} {t[1]}{t[2]};")
    imp = st.sampled_from(["import core;", 'import "x/y.uni";', "import a.b;"])
    return st.one_of(block, symbol, imp)


#: between two tokens: space, line ends, blank lines, comments of both kinds
_SEPARATORS = [" ", "  ", "\n", "\n\n", "\n\n\n", "\t", " # c\n", "  // d  \n", "\n# e\n\n",
               "", ""]


def _scatter(text: str, seps: list[str]) -> str:
    out: list[str] = []
    pos = 0
    k = 0
    prev_word = False
    while True:
        m = _TOKEN.match(text, pos)
        assert m is not None
        kind = m.lastgroup
        tok = m.group(kind) if kind else ""
        word = kind in ("name", "int", "str")
        sep = seps[k % len(seps)] if seps else " "
        if sep == "" and prev_word and word:
            sep = " "
        out.append(sep if out else "")
        out.append(tok)
        k += 1
        prev_word = word
        pos = m.end()
        if kind == "end":
            return "".join(out)


@settings(max_examples=150)
@given(st.lists(_decl(), max_size=5), st.lists(st.sampled_from(_SEPARATORS), max_size=60))
def test_random_specs(decls: list[str], seps: list[str]) -> None:
    text = _scatter("\n".join(decls), seps)
    module, errors = parse_text(text, "t.uni")
    assume(module is not None and not any(e.is_error for e in errors))
    formatted_ok(text)


# ---------------------------------------------------------------- resolution

_PLACE = re.compile(r"\.uni:\d+:\d+")


def _placeless(doc: Any) -> Any:
    """A JSON document without line and column numbers (formatting moves them)."""
    if isinstance(doc, dict):
        return {k: _placeless(v) for k, v in doc.items()
                if k not in ("line", "column", "end_line", "end_column")}
    if isinstance(doc, list):
        return [_placeless(v) for v in doc]
    if isinstance(doc, str):
        return _PLACE.sub(".uni:L:C", doc)
    return doc


def _resolution(spec: Path, backend: str) -> Any:
    """The exit status and the JSON of `resolve` (or of its diagnostics)."""
    res = CliRunner().invoke(main, ["resolve", str(spec), "-b", backend, "--format", "json"])
    return res.exit_code, _placeless(json.loads(res.stdout))


def _check(spec: Path) -> Any:
    res = CliRunner().invoke(main, ["check", str(spec), "--format", "json"])
    doc = json.loads(res.output)
    return res.exit_code, [(d["code"], d["message"], d["backend"]) for d in doc["diagnostics"]]


APPS = sorted(p for p in (ROOT / "examples").glob("*/*.uni") if p.parent.name != "errors")


@settings(max_examples=6)
@given(st.sampled_from(APPS), st.data())
def test_formatting_keeps_resolution(tmp_path_factory: Any, spec: Path, data: Any) -> None:
    tmp = tmp_path_factory.mktemp("res")
    shutil.copytree(spec.parent, tmp, dirs_exist_ok=True)  # sources, sealed folders
    messy = tmp / spec.name
    # a layout that is nothing like the canonical one
    messy.write_text(relayout(spec.read_text(encoding="utf-8"), data.draw), encoding="utf-8")
    before = {b: _resolution(messy, b) for b in ("kvm", "xen")}
    checked = _check(messy)
    assert CliRunner().invoke(main, ["fmt", str(messy)]).exit_code == 0
    assert messy.read_text(encoding="utf-8") == spec.read_text(encoding="utf-8")
    assert {b: _resolution(messy, b) for b in ("kvm", "xen")} == before
    assert _check(messy) == checked


@pytest.mark.parametrize("name", ["U0035-baud-not-a-divisor.uni", "U0102-dependency-cycle.uni",
                                  "U0153-use-without-effect.uni"])
def test_formatting_keeps_diagnostics(tmp_path: Path, name: str) -> None:
    src = ROOT / "examples" / "errors" / name
    squashed = tmp_path / name
    lines = src.read_text(encoding="utf-8").split("\n")
    # every line not a comment joined into one: the diagnostics move, but stay the same
    code = " ".join(l for l in lines if not l.lstrip().startswith("#"))
    squashed.write_text("\n".join(l for l in lines if l.lstrip().startswith("#")) + "\n" + code,
                        encoding="utf-8")
    shutil.copy(ROOT / "examples" / "errors" / "main.c", tmp_path / "main.c")
    before = _check(squashed)
    assert before[0] == 1 or before[1]
    assert CliRunner().invoke(main, ["fmt", str(squashed)]).exit_code == 0
    assert _check(squashed) == before


# ---------------------------------------------------------------- the command

def _run(args: list[str], cwd: Path, input: str | None = None) -> Any:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, input=input)
    finally:
        os.chdir(old)


def test_fmt_check_lists_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.uni").write_text("app a { sources = [\"m.c\"]; }\n")
    (tmp_path / "b.uni").write_text("construct b;\n")
    res = _run(["fmt", "--check", "a.uni", "b.uni"], tmp_path)
    assert res.exit_code == 1
    assert res.stdout == "a.uni\n"
    assert "1 of 2 files would be reformatted" in res.stderr
    assert (tmp_path / "a.uni").read_text() == "app a { sources = [\"m.c\"]; }\n"
    res = _run(["fmt", "--check", "b.uni"], tmp_path)
    assert (res.exit_code, res.stdout) == (0, "")


def test_fmt_writes_only_what_changes_and_keeps_the_mode(tmp_path: Path) -> None:
    a, b = tmp_path / "a.uni", tmp_path / "b.uni"
    a.write_text("app a { sources = [\"m.c\"]; }\n")
    b.write_text("construct b;\n")
    a.chmod(0o600)
    b_inode = b.stat().st_ino
    res = _run(["fmt", "a.uni", "b.uni"], tmp_path)
    assert res.exit_code == 0, res.output
    assert a.read_text() == 'app a {\n    sources = ["m.c"];\n}\n'
    assert stat.S_IMODE(a.stat().st_mode) == 0o600
    assert b.stat().st_ino == b_inode  # not rewritten
    assert "1 of 2 files reformatted" in res.stderr
    assert _run(["fmt", "a.uni"], tmp_path).exit_code == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_fmt_leaves_a_file_with_errors_alone(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.uni", tmp_path / "good.uni"
    bad.write_text('app a {\n  x = "y"\n}\n')
    good.write_text("construct   g;\n")
    res = _run(["fmt", "bad.uni", "good.uni"], tmp_path)
    assert res.exit_code == 1
    assert bad.read_text() == 'app a {\n  x = "y"\n}\n'
    assert good.read_text() == "construct g;\n"
    assert 'bad.uni:3:1: error[U0010]: unexpected `}`, expected ";"' in res.stderr
    assert "1 left as it is (errors above)" in res.stderr
    res = _run(["fmt", "missing.uni"], tmp_path)
    assert res.exit_code == 1
    assert "error[U0001]: cannot read `missing.uni`: no such file" in res.stderr


def test_fmt_without_files_formats_the_project(tmp_path: Path) -> None:
    (tmp_path / "unilang.toml").write_text("")
    (tmp_path / "apps" / "one").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".unilang-output").write_text("[]")
    for rel in ("top.uni", "apps/one/one.uni", ".hidden/h.uni", "out/o.uni"):
        (tmp_path / rel).write_text("construct  x;\n")
    res = _run(["fmt", "--check"], tmp_path / "apps" / "one")
    assert res.exit_code == 1
    assert res.stdout.splitlines() == [str(tmp_path / "apps/one/one.uni"),
                                       str(tmp_path / "top.uni")] or \
        res.stdout.splitlines() == ["one.uni", "../../top.uni"]
    res = _run(["fmt"], tmp_path / "apps")
    assert res.exit_code == 0
    assert (tmp_path / "top.uni").read_text() == "construct x;\n"
    assert (tmp_path / "apps/one/one.uni").read_text() == "construct x;\n"
    assert (tmp_path / ".hidden/h.uni").read_text() == "construct  x;\n"
    assert (tmp_path / "out/o.uni").read_text() == "construct  x;\n"


def test_fmt_stdin(tmp_path: Path) -> None:
    res = _run(["fmt", "-"], tmp_path, input="construct  x ;")
    assert (res.exit_code, res.stdout) == (0, "construct x;\n")
    res = _run(["fmt", "--check", "-"], tmp_path, input="construct x;\n")
    assert (res.exit_code, res.stdout) == (0, "")
    res = _run(["fmt", "-"], tmp_path, input="construct x")
    assert res.exit_code == 1 and res.stdout == ""
    assert "<stdin>:1:12: error[U0010]" in res.stderr


def _unwritable(folder: Path, monkeypatch: Any) -> Any:
    """Make ``folder`` refuse new files for real (not writable; immutable for
    root, who ignores permissions); where neither works, make the write fail."""
    import subprocess

    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True,
                                 check=False).returncode == 0:
        return lambda: subprocess.run([chattr, "-i", str(folder)], check=True)

    def refuse(*_a: Any, **_k: Any) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("unilang.fsutil.atomic_write", refuse)
    return lambda: None


def test_fmt_cannot_write(tmp_path: Path, monkeypatch: Any) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    spec = folder / "a.uni"
    spec.write_text("construct  a;\n")
    undo = _unwritable(folder, monkeypatch)
    try:
        res = _run(["fmt", "ro/a.uni"], tmp_path)
    finally:
        undo()
    assert res.exit_code == 1, res.output
    assert re.search(r"^error\[U0217\]: cannot write the formatted `ro/a.uni`: "
                     r"(Permission denied|Operation not permitted|Read-only file system)$",
                     res.stderr, re.M), res.stderr
    assert spec.read_text() == "construct  a;\n"
    assert sorted(p.name for p in folder.iterdir()) == ["a.uni"]
