"""The parser: every construct, exact spans, string escapes, syntax-error messages,
and two property tests (random well-formed specs round-trip; random and mutated
text never crashes `unilang check`)."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unilang.front import syntax as S
from unilang.cli import main
from unilang.diagnostics import Span
from unilang.front import parse_text

ROOT = Path(__file__).resolve().parents[1]


def parse_ok(text: str, name: str = "t.uni") -> S.Module:
    module, errors = parse_text(text, name)
    assert errors == [], [e.message for e in errors]
    assert module is not None
    return module


def parse_err(text: str, name: str = "t.uni"):
    module, errors = parse_text(text, name)
    assert errors, f"expected a diagnostic for {text!r}"
    return errors


def block(module: S.Module, kind: str) -> S.Block:
    return next(d for d in module.decls if isinstance(d, S.Block) and d.kind == kind)


def fields(b: S.Block | S.Device) -> dict[str, S.Field]:
    members = b.members if isinstance(b, S.Block) else b.fields
    return {m.key: m for m in members if isinstance(m, S.Field)}


# ---------------------------------------------------------------- every construct

EVERYTHING = '''\
import core;
import net.extra;
import "lib/x.uni";
construct t.a "The A construct";
construct t.b;
capability t.cap "A power";
capability t.cap2;
library t-lib {
    doc = "a library";
    provides = [t.a, t.b,];
    requires = [t.c];
    requires on [xen] = [t.d];
    requires on kvm = [t.e, t.f];
    sources = ["src/a.c", "b.S"];
    backends = [kvm, xen];
    exercises = [t.cap];
    conflicts = [other];
    init = lib_init;
    min_memory = 2 MiB;
    max_vcpus = 4;
    default = true;
    rank = 7;
    param count: int = 3 in 1 .. 10 "How many";
    param hexval: int = 0x1F in -5 .. 0xff;
    param max_size: size = 64 MiB in 64 KiB .. 1 TiB;
    param tiny: size = 512 B;
    param on_off: bool = false;
    param label: string = "hi" "A label";
    param mode: enum(fast, slow, safe,) = slow "The mode";
    param nodefault: int;
}
app hello {
    doc = "The app";
    sources = ["hello.c"];
    requires = [console.lines, t.a];
    memory = 16 GiB;
    vcpus = 2;
    cmdline = "";
    policies = [sealed];
    device eth0 {
        kind = net;
        mac = "52:54:00:12:34:56";
    }
    device disk { kind = block; path = "d.img"; readonly = true; }
    use t-lib for t.a;
    set t-lib.count = 5;
    set t-lib.mode = fast;
    set t-lib.label = "x";
    set t-lib.on_off = true;
    set t-lib.max_size = 1 GiB;
}
policy strict {
    doc = "strict";
    include = [sealed];
    deny = [t.cap];
    allow = [t.cap2];
    forbid = [t-lib];
    require = [t.a];
    max_memory = 1 TiB;
    max_vcpus = 8;
    max_image_size = 4 MiB;
}
'''


def test_every_construct_parses() -> None:
    m = parse_ok(EVERYTHING)
    kinds = [type(d).__name__ + ":" + getattr(d, "kind", "") for d in m.decls]
    assert kinds == ["Import:"] * 3 + ["Symbol:construct"] * 2 + ["Symbol:capability"] * 2 + [
        "Block:library", "Block:app", "Block:policy"]

    imports = [d for d in m.decls if isinstance(d, S.Import)]
    assert [(i.target, i.is_path) for i in imports] == [
        ("core", False), ("net.extra", False), ("lib/x.uni", True)]

    symbols = [d for d in m.decls if isinstance(d, S.Symbol)]
    assert [(s.kind, s.name, s.doc) for s in symbols] == [
        ("construct", "t.a", "The A construct"), ("construct", "t.b", None),
        ("capability", "t.cap", "A power"), ("capability", "t.cap2", None)]


def test_library_keys_and_params() -> None:
    lib = block(parse_ok(EVERYTHING), "library")
    assert lib.name == "t-lib"
    all_fields = [m for m in lib.members if isinstance(m, S.Field)]
    # `requires` may be given several times, with and without `on`
    reqs = [f for f in all_fields if f.key == "requires"]
    assert [None if f.on is None else [n.value for n in f.on] for f in reqs] == [
        None, ["xen"], ["kvm"]]
    assert [[i.value for i in f.value.items] for f in reqs] == [["t.c"], ["t.d"], ["t.e", "t.f"]]

    f = fields(lib)
    assert set(f) == {"doc", "provides", "requires", "sources", "backends", "exercises",
                      "conflicts", "init", "min_memory", "max_vcpus", "default", "rank"}
    assert f["doc"].value == S.Str("a library", f["doc"].value.span)
    assert [i.value for i in f["provides"].value.items] == ["t.a", "t.b"]  # trailing comma
    assert [i.value for i in f["sources"].value.items] == ["src/a.c", "b.S"]
    assert isinstance(f["init"].value, S.Name) and f["init"].value.value == "lib_init"
    assert isinstance(f["min_memory"].value, S.Size)
    assert f["min_memory"].value.value == 2 << 20 and f["min_memory"].value.text == "2 MiB"
    assert f["max_vcpus"].value.value == 4 and isinstance(f["max_vcpus"].value, S.Int)
    assert f["default"].value.value is True and isinstance(f["default"].value, S.Bool)
    assert f["rank"].value.value == 7

    params = {p.name: p for p in lib.members if isinstance(p, S.Param)}
    assert list(params) == ["count", "hexval", "max_size", "tiny", "on_off", "label", "mode",
                            "nodefault"]
    c = params["count"]
    assert (c.type.name, c.default.value, c.low.value, c.high.value, c.doc) == (
        "int", 3, 1, 10, "How many")
    h = params["hexval"]
    assert (h.default.value, h.low.value, h.high.value) == (31, -5, 255)
    ms = params["max_size"]
    assert (ms.type.name, ms.default.value, ms.low.value, ms.high.value) == (
        "size", 64 << 20, 64 << 10, 1 << 40)
    assert params["tiny"].default.value == 512
    assert params["on_off"].default.value is False
    lb = params["label"]
    assert (lb.type.name, lb.default.value, lb.doc) == ("string", "hi", "A label")
    md = params["mode"]
    assert md.type.name == "enum"
    assert [n.value for n in md.type.members] == ["fast", "slow", "safe"]
    assert md.default.value == "slow" and md.doc == "The mode"
    nd = params["nodefault"]
    assert nd.default is None and nd.low is None and nd.high is None and nd.doc is None


def test_app_members() -> None:
    app = block(parse_ok(EVERYTHING), "app")
    assert app.name == "hello"
    f = fields(app)
    assert f["memory"].value.value == 16 << 30
    assert f["vcpus"].value.value == 2
    assert f["cmdline"].value.value == ""
    assert [i.value for i in f["policies"].value.items] == ["sealed"]
    devices = [m for m in app.members if isinstance(m, S.Device)]
    assert [d.name for d in devices] == ["eth0", "disk"]
    eth = fields(devices[0])
    assert eth["kind"].value.value == "net" and eth["mac"].value.value == "52:54:00:12:34:56"
    disk = fields(devices[1])
    assert disk["readonly"].value.value is True and disk["path"].value.value == "d.img"
    uses = [m for m in app.members if isinstance(m, S.Use)]
    assert [(u.library, u.construct.value) for u in uses] == [("t-lib", "t.a")]
    sets = [m for m in app.members if isinstance(m, S.Set)]
    assert [(s.target.value, type(s.value).__name__, s.value.value) for s in sets] == [
        ("t-lib.count", "Int", 5), ("t-lib.mode", "Name", "fast"), ("t-lib.label", "Str", "x"),
        ("t-lib.on_off", "Bool", True), ("t-lib.max_size", "Size", 1 << 30)]


def test_policy_members() -> None:
    pol = block(parse_ok(EVERYTHING), "policy")
    f = fields(pol)
    assert pol.name == "strict"
    assert [i.value for i in f["deny"].value.items] == ["t.cap"]
    assert [i.value for i in f["allow"].value.items] == ["t.cap2"]
    assert [i.value for i in f["forbid"].value.items] == ["t-lib"]
    assert f["max_memory"].value.value == 1 << 40
    assert f["max_image_size"].value.value == 4 << 20


def test_comments_and_whitespace() -> None:
    m = parse_ok("# hash comment\n// slash comment\n\tconstruct   t.x ;  # trailing\n\n")
    assert [d.name for d in m.decls] == ["t.x"]


def test_empty_and_comment_only_inputs_parse() -> None:
    assert parse_ok("").decls == ()
    assert parse_ok("# nothing\n").decls == ()
    assert block(parse_ok("app a {}"), "app").members == ()


def test_sizes_and_numbers() -> None:
    app = block(parse_ok("app a { b = 1 B; k = 1KiB; m = 3 MiB; g = 2 GiB; t = 1 TiB; "
                         "n = -12; h = 0x10; z = 0; }"), "app")
    f = fields(app)
    assert [f[k].value.value for k in "bkmgtnhz"] == [1, 1024, 3 << 20, 2 << 30, 1 << 40, -12, 16, 0]
    assert f["k"].value.text == "1 KiB"
    # a unit word is only a unit after a number: elsewhere it is a name
    lst = fields(block(parse_ok("app a { l = [B, KiB]; }"), "app"))["l"].value
    assert [type(i).__name__ for i in lst.items] == ["Name", "Name"]


# ---------------------------------------------------------------- spans

SPAN_TEXT = '''\
import core;
construct t.a "doc";
app hello {
    memory = 16 MiB;
    requires = [t.a, console];
\tuse lib for t.a;
}
'''


def test_exact_spans() -> None:
    m = parse_ok(SPAN_TEXT, "dir/s.uni")
    imp = m.decls[0]
    assert imp.span == Span("dir/s.uni", 1, 1, 1, 13)
    sym = m.decls[1]
    assert sym.name_span == Span("dir/s.uni", 2, 11, 2, 14)
    assert sym.span == Span("dir/s.uni", 2, 1, 2, 21)
    app = m.decls[2]
    assert app.name_span == Span("dir/s.uni", 3, 5, 3, 10)
    assert app.span == Span("dir/s.uni", 3, 1, 7, 2)
    f = fields(app)
    mem = f["memory"]
    assert mem.key_span == Span("dir/s.uni", 4, 5, 4, 11)
    assert mem.value.span == Span("dir/s.uni", 4, 14, 4, 20)
    assert mem.span == Span("dir/s.uni", 4, 5, 4, 21)
    req = f["requires"].value
    assert req.span == Span("dir/s.uni", 5, 16, 5, 30)
    assert [i.span for i in req.items] == [Span("dir/s.uni", 5, 17, 5, 20),
                                           Span("dir/s.uni", 5, 22, 5, 29)]
    use = next(x for x in app.members if isinstance(x, S.Use))
    # a tab counts as one column
    assert use.library_span == Span("dir/s.uni", 6, 6, 6, 9)
    assert use.construct.span == Span("dir/s.uni", 6, 14, 6, 17)


def test_spans_with_crlf_and_non_ascii() -> None:
    m = parse_ok('construct t.a "é";\r\nconstruct t.b;\r\n')
    assert m.decls[1].name_span == Span("t.uni", 2, 11, 2, 14)
    # columns count characters, not bytes
    m = parse_ok('app a { doc = "ééé"; x = 1; }')
    assert fields(m.decls[0])["x"].key_span == Span("t.uni", 1, 22, 1, 23)


# ---------------------------------------------------------------- strings

def _doc(text: str) -> str:
    return fields(block(parse_ok(f"app a {{ doc = {text}; }}"), "app"))["doc"].value.value


def test_string_escapes() -> None:
    assert _doc(r'"a\\b"') == "a\\b"
    assert _doc(r'"say \"hi\""') == 'say "hi"'
    assert _doc(r'"l1\nl2\tt\rr"') == "l1\nl2\tt\rr"
    assert _doc(r'"caf\u{e9}"') == "café"
    assert _doc(r'"\u{1F600}\u{10FFFF}"') == "\U0001F600\U0010FFFF"
    assert _doc('"unicode as is: é ü"') == "unicode as is: é ü"
    assert _doc('""') == ""


@pytest.mark.parametrize("text, escape, column, end", [
    (r'"a\qb"', r"\q", 17, 19),
    (r'"\u{0}"', r"\u{0}", 16, 21),
    (r'"é\u{D800}"', r"\u{D800}", 17, 25),
    (r'"\u{110000}"', r"\u{110000}", 16, 26),
    (r'"\u{}"', r"\u", 16, 18),
    (r'"\x41"', r"\x", 16, 18),
])
def test_invalid_escape(text: str, escape: str, column: int, end: int) -> None:
    errors = parse_err(f"app a {{ doc = {text}; }}")
    assert len(errors) == 1
    e = errors[0]
    assert e.code == "U0011"
    assert e.message == f"invalid escape sequence `{escape}` in string"
    assert e.span == Span("t.uni", 1, column, 1, end)
    assert e.help == 'the escapes are \\\\ \\" \\n \\t \\r and \\u{HEX} (not \\u{0})'


def test_several_invalid_escapes_all_reported() -> None:
    errors = parse_err(r'app a { doc = "\a\b"; cmdline = "\c"; }')
    assert [(e.code, e.span.column) for e in errors] == [("U0011", 16), ("U0011", 18),
                                                         ("U0011", 34)]


# ---------------------------------------------------------------- syntax errors

SEMI_HELP = "every field, param, use and set ends with `;`"
TOP = '"app", "capability", "construct", "import", "library" or "policy"'
SCALAR = 'a name, a number, a string, "false" or "true"'


@pytest.mark.parametrize("text, pos, message, help_", [
    ("app x { a = 1 }", (1, 15, 1, 16),
     'unexpected `}`, expected a unit (B, KiB, MiB, GiB, TiB) or ";"', SEMI_HELP),
    ("app x {\n a = 1\n b = 2;\n}", (3, 2, 3, 3),
     'unexpected name `b`, expected a unit (B, KiB, MiB, GiB, TiB) or ";"', SEMI_HELP),
    ('app x { a = "s" }', (1, 17, 1, 18), 'unexpected `}`, expected ";"', SEMI_HELP),
    ("app x { a = [1, [2]]; }", (1, 17, 1, 18),
     'unexpected `[`, expected a name, a number, a string, "]", "false" or "true"',
     "lists hold names, numbers, sizes, strings and booleans; they do not nest"),
    ("app x { set l.p = [1]; }", (1, 19, 1, 20), f"unexpected `[`, expected {SCALAR}",
     "this takes a single name, number, size, string or boolean, not a list"),
    ("[[[", (1, 1, 1, 2), f"unexpected `[`, expected end of file, {TOP}", None),
    ("app { }", (1, 5, 1, 6), "unexpected `{`, expected a name", None),
    ("construct 1;", (1, 11, 1, 12), "unexpected number `1`, expected a name", None),
    ("import ;", (1, 8, 1, 9), "unexpected `;`, expected a name or a string", None),
    ("foo", (1, 1, 1, 4), f"unexpected name `foo`, expected end of file, {TOP}", None),
    ("app x { a = 1; } }", (1, 18, 1, 19), f"unexpected `}}`, expected end of file, {TOP}",
     None),
    ("app x { use a b; }", (1, 15, 1, 16), 'unexpected name `b`, expected "for"', None),
    ('app x { a = "x" "y"; }', (1, 17, 1, 20), 'unexpected string `"y"`, expected ";"', None),
    ("app x { a = 1 MiB MiB; }", (1, 19, 1, 22),
     'unexpected unit (B, KiB, MiB, GiB, TiB) `MiB`, expected ";"', None),
    ("library l { param p: int = ; }", (1, 28, 1, 29), f"unexpected `;`, expected {SCALAR}",
     None),
    ("library l { param p: enum() = a; }", (1, 27, 1, 28), "unexpected `)`, expected a name",
     None),
    ("library l { requires on [] = [a]; }", (1, 26, 1, 27), "unexpected `]`, expected a name",
     None),
    ("app x { device d { param p: int = 1; } }", (1, 26, 1, 27),
     'unexpected name `p`, expected "=" or "on"', None),
    ("app x {", (1, 8, 1, 8),
     'unexpected end of file, expected a name, "device", "param", "set", "use" or "}"', None),
    ('import "a.uni"', (1, 15, 1, 15), 'unexpected end of file, expected ";"', None),
])
def test_syntax_error_messages(text, pos, message, help_) -> None:
    errors = parse_err(text)
    assert len(errors) == 1
    e = errors[0]
    assert (e.code, e.message, e.help) == ("U0010", message, help_)
    assert (e.span.line, e.span.column, e.span.end_line, e.span.end_column) == pos


@pytest.mark.parametrize("text, pos, message, note", [
    ("app x { a = @; }", (1, 13), "unexpected character `@`",
     'expected a name, a number, a string or "["'),
    ("app x { a = \\; }", (1, 13), "unexpected character `\\`",
     'expected a name, a number, a string or "["'),
    ("\x01", (1, 1), "unexpected character `\\u{1}`", f"expected {TOP}"),
])
def test_unexpected_character(text, pos, message, note) -> None:
    (e,) = parse_err(text)
    assert (e.code, e.message, e.notes) == ("U0010", message, (note,))
    assert (e.span.line, e.span.column, e.span.end_column) == pos + (pos[1] + 1,)


@pytest.mark.parametrize("text, pos", [
    ('app x { doc = "no end; }', (1, 15)),
    ('app x { doc = "ok";\n cmdline = "two\nlines"; }', (2, 12)),
    ('app x { doc = "ends in a backslash\\"; }', (1, 15)),
])
def test_unterminated_string(text, pos) -> None:
    (e,) = parse_err(text)
    assert (e.code, e.message) == ("U0010", "unterminated string")
    assert (e.span.line, e.span.column) == pos
    assert "same line" in e.help


# ---------------------------------------------------------------- property: well-formed specs

NAME_START = string.ascii_letters + "_"
NAME_REST = string.ascii_letters + string.digits + "_-"
KEYWORDS = {"import", "construct", "capability", "library", "app", "policy", "param",
            "device", "use", "set", "for", "on", "in", "divides", "enum", "true", "false",
            "B", "KiB", "MiB", "GiB", "TiB"}

names = st.builds(lambda a, b: a + b, st.sampled_from(NAME_START),
                  st.text(NAME_REST, max_size=8)).filter(lambda n: n not in KEYWORDS)
dotted = st.lists(names, min_size=1, max_size=3).map(".".join)
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\n\r'),
                     max_size=12)
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
UNIT_SHIFT = {"B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}


def encode_string(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable() and ch != " ":
            out.append(f"\\u{{{ord(ch):x}}}" if ord(ch) else "\\u{1}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def decoded(s: str) -> str:
    return s.replace("\0", "\x01")  # \u{0} is not allowed: the encoder writes \u{1}


@st.composite
def scalars(draw):
    kind = draw(st.sampled_from(["int", "hex", "size", "str", "bool", "name"]))
    if kind == "int":
        n = draw(st.integers(-10**12, 10**12))
        return str(n), ("int", n)
    if kind == "hex":
        n = draw(st.integers(0, 2**40))
        return hex(n), ("int", n)
    if kind == "size":
        n = draw(st.integers(0, 4096))
        unit = draw(st.sampled_from(list(UNIT_SHIFT)))
        sep = draw(st.sampled_from(["", " "]))
        return f"{n}{sep}{unit}", ("size", n << UNIT_SHIFT[unit])
    if kind == "str":
        s = draw(any_text)
        return encode_string(s), ("str", decoded(s))
    if kind == "bool":
        b = draw(st.booleans())
        return ("true" if b else "false"), ("bool", b)
    n = draw(dotted)
    return n, ("name", n)


def fact(v: S.Value):
    if isinstance(v, S.List):
        return ("list", [fact(i) for i in v.items])
    kind = {S.Int: "int", S.Size: "size", S.Str: "str", S.Bool: "bool", S.Name: "name"}[type(v)]
    return (kind, v.value)


@st.composite
def values(draw):
    if draw(st.booleans()):
        return draw(scalars())
    items = draw(st.lists(scalars(), max_size=4))
    trailing = "," if items and draw(st.booleans()) else ""
    return "[" + ", ".join(t for t, _ in items) + trailing + "]", ("list", [f for _, f in items])


@st.composite
def specs(draw):
    """(text, expected facts) for a random well-formed module."""
    lines: list[str] = []
    expected: list[tuple] = []
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            t = draw(dotted)
            lines.append(f"import {t};")
            expected.append(("import", t, False))
        else:
            t = draw(plain_text.filter(bool))
            lines.append(f"import {encode_string(t)};")
            expected.append(("import", decoded(t), True))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["construct", "capability"]))
        n = draw(dotted)
        doc = draw(st.none() | any_text)
        lines.append(f"{kind} {n}" + (f" {encode_string(doc)}" if doc is not None else "") + ";")
        expected.append((kind, n, None if doc is None else decoded(doc)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["library", "app", "policy"]))
        bname = draw(names)
        members: list[tuple] = []
        body: list[str] = []
        for _ in range(draw(st.integers(0, 5))):
            what = draw(st.sampled_from(["field", "field", "param", "use", "set", "device"]))
            if what == "field":
                key = draw(names)
                on = draw(st.none() | st.lists(names, min_size=1, max_size=2))
                text, f = draw(values())
                on_text = "" if on is None else " on [" + ", ".join(on) + "]"
                body.append(f"{key}{on_text} = {text};")
                members.append(("field", key, on, f))
            elif what == "param":
                pname = draw(names)
                typ = draw(st.sampled_from(["int", "size", "bool", "string", "enum"]))
                tt = typ
                members_ = ()
                if typ == "enum":
                    members_ = tuple(draw(st.lists(names, min_size=1, max_size=3)))
                    tt = "enum(" + ", ".join(members_) + ")"
                default = draw(st.none() | scalars())
                rng = draw(st.none() | st.tuples(scalars(), scalars()))
                divides = draw(st.none() | scalars())
                doc = draw(st.none() | plain_text)
                text = f"param {pname}: {tt}"
                if default is not None:
                    text += f" = {default[0]}"
                if rng is not None:
                    text += f" in {rng[0][0]} .. {rng[1][0]}"
                if divides is not None:
                    text += f" divides {divides[0]}"
                if doc is not None:
                    text += f" {encode_string(doc)}"
                body.append(text + ";")
                members.append(("param", pname, typ, members_,
                                default and default[1], rng and (rng[0][1], rng[1][1]),
                                divides and divides[1], None if doc is None else decoded(doc)))
            elif what == "use":
                lib, c = draw(names), draw(dotted)
                body.append(f"use {lib} for {c};")
                members.append(("use", lib, c))
            elif what == "set":
                target = draw(dotted)
                text, f = draw(scalars())
                body.append(f"set {target} = {text};")
                members.append(("set", target, f))
            else:
                dname = draw(names)
                fs = draw(st.lists(st.tuples(names, scalars()), max_size=3))
                body.append(f"device {dname} {{ " + " ".join(f"{k} = {v[0]};" for k, v in fs)
                            + " }")
                members.append(("device", dname, [(k, v[1]) for k, v in fs]))
        sep = draw(st.sampled_from([" ", "\n    ", "\r\n\t", " # c\n", " // c\n"]))
        lines.append(f"{kind} {bname} {{" + sep + sep.join(body) + sep + "}")
        expected.append((kind, bname, members))
    return "\n".join(lines) + "\n", expected


def facts_of(module: S.Module) -> list[tuple]:
    out: list[tuple] = []
    for d in module.decls:
        if isinstance(d, S.Import):
            out.append(("import", d.target, d.is_path))
        elif isinstance(d, S.Symbol):
            out.append((d.kind, d.name, d.doc))
        else:
            members: list[tuple] = []
            for m in d.members:
                if isinstance(m, S.Field):
                    on = None if m.on is None else [n.value for n in m.on]
                    members.append(("field", m.key, on, fact(m.value)))
                elif isinstance(m, S.Param):
                    t = m.type
                    members.append(("param", m.name, t.name, tuple(n.value for n in t.members),
                                    m.default and fact(m.default),
                                    m.low and (fact(m.low), fact(m.high)),
                                    m.divides and fact(m.divides), m.doc))
                elif isinstance(m, S.Use):
                    members.append(("use", m.library, m.construct.value))
                elif isinstance(m, S.Set):
                    members.append(("set", m.target.value, fact(m.value)))
                else:
                    members.append(("device", m.name, [(f.key, fact(f.value)) for f in m.fields]))
            out.append((d.kind, d.name, members))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_random_well_formed_specs_round_trip(spec) -> None:
    text, expected = spec
    module = parse_ok(text)
    assert facts_of(module) == expected
    # every span lies inside the text and is well ordered
    lines = text.split("\n")
    for d in module.decls:
        s = d.span
        assert 1 <= s.line <= s.end_line <= len(lines)
        assert (s.line, s.column) < (s.end_line, s.end_column)


# ---------------------------------------------------------------- property: never crash

SEED_FILES = [ROOT / "examples/hello/hello.uni"] + sorted((ROOT / "stdlib").glob("*.uni"))
SEEDS = [p.read_text(encoding="utf-8") for p in SEED_FILES]
TOKENS = ["{", "}", "[", "]", ";", ",", "=", ":", "..", ".", "(", ")", '"', "\\", "#", "\n",
          "app", "library", "param", "use", "set", "device", "on", "in", "divides", "enum",
          "import", "construct", "capability", "policy", "requires", "provides", "x", "0x", "-1",
          "64 MiB", '"s"', "true", "\x00", "\ufeff", "é", "\r", "\t", "\\u{", "🙂"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        op = rnd.choice(["del", "ins", "dup", "tok", "deltok", "swap"])
        i = rnd.randrange(len(text) + 1)
        j = min(len(text), i + rnd.randrange(1, 40))
        if op == "del":
            text = text[:i] + text[j:]
        elif op == "ins":
            text = text[:i] + rnd.choice(string.printable + "\x00\x7f\u00e9") + text[i:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "tok":
            text = text[:i] + rnd.choice(TOKENS) + text[i:]
        elif op == "deltok":
            words = text.split(" ")
            if len(words) > 1:
                del words[rnd.randrange(len(words))]
            text = " ".join(words)
        else:
            k = rnd.randrange(len(text) + 1)
            a, b = sorted((i, k))
            text = text[:a] + text[b:] + text[a:b]
    return text


def run_check(tmp: Path, data: bytes, *args: str):
    spec = tmp / "fuzz.uni"
    spec.write_bytes(data)
    (tmp / "hello.c").write_text("int main(void) { return 0; }\n")
    return CliRunner().invoke(main, ["check", str(spec), *args], catch_exceptions=True)


def assert_clean_exit(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert "U0999" not in result.output, result.output


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_mutated_specs_never_crash(tmp_path: Path, text: str) -> None:
    result = run_check(tmp_path, text.encode("utf-8", "surrogatepass"), "-b", "kvm")
    assert_clean_exit(result)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(
    lambda s: s.encode("utf-8", "surrogatepass")))
def test_random_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    result = run_check(tmp_path, data, "-b", "kvm")
    assert_clean_exit(result)
    assert result.exit_code == 1  # nothing random declares a valid app


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_mutated_specs_never_crash_all_backends_json(tmp_path: Path, text: str) -> None:
    import json

    result = run_check(tmp_path, text.encode("utf-8", "surrogatepass"), "--format", "json")
    assert_clean_exit(result)
    doc = json.loads(result.stdout)
    assert doc["ok"] == (result.exit_code == 0)
