"""The fast parser agrees with the grammar: whenever it produces a tree, lark
produces the same tree (nodes, values and spans), and whenever lark rejects
an input the fast parser does too."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unilang.front.fast import parse_fast
from unilang.front import reference_parse
from unilang.front.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent

WORDS = ["import", "construct", "capability", "library", "app", "policy", "param", "device",
         "use", "for", "set", "on", "in", "divides", "enum", "true", "false", "B", "KiB", "MiB", "x",
         "a-b", "kvm", "mem", "alloc", "int", "size", "string", "bool"]
PUNCT = ["{", "}", "[", "]", "(", ")", ";", ":", "=", ",", ".", ".."]
LITERALS = ["0", "42", "-7", "0x1F", '"s"', '"a\\"b"', '"\\u{e9}"', '"\\q"', "5MiB"]
#: Literals past Python's 4,300-digit int-str limit, or past 64 bits: both parsers
#: keep them as +-2**64 (and abbreviate a size's text) without converting them.
HUGE = ["9" * 4301, "-" + "9" * 4400, "0x" + "f" * 5000, "0" * 30 + "7",
        "18446744073709551616", "1" * 60 + " MiB"]
LITERALS += HUGE
SPACE = [" ", "\n", "  ", "\t", " # c\n", " // c\n"]

token = st.sampled_from(WORDS + PUNCT + LITERALS)
soup = st.lists(st.tuples(token, st.sampled_from(SPACE)), max_size=40).map(
    lambda ts: "".join(t + s for t, s in ts))


def scalar() -> st.SearchStrategy[str]:
    return st.sampled_from(["1", "-2", "0x10", "64 MiB", "1KiB", '"str"', '"e\\u{e9}"',
                            "true", "false", "name", "dotted.name", "a.b-c"] + HUGE)


def field() -> st.SearchStrategy[str]:
    value = st.one_of(scalar(), st.lists(scalar(), max_size=4).map(
        lambda xs: "[" + ", ".join(xs) + "]"))
    on = st.sampled_from(["", " on kvm", " on [kvm, xen]", " on [xen,]"])
    return st.tuples(st.sampled_from(["doc", "provides", "requires", "k-2", "on", "in"]), on,
                     value).map(lambda t: f"{t[0]}{t[1]} = {t[2]};")


def member() -> st.SearchStrategy[str]:
    param = st.tuples(
        st.sampled_from(["p", "q_1"]),
        st.sampled_from(["int", "size", "bool", "enum(a, b)", "enum(a,)"]),
        st.sampled_from(["", " = 1", " = 4 KiB", " = a"]),
        st.sampled_from(["", " in 1 .. 2", " in 1..2", " in a..b"]),
        st.sampled_from(["", " divides 8", " divides 4 KiB", " divides a.b", " divides"]),
        st.sampled_from(["", ' "doc"'])).map(
            lambda t: f"param {t[0]}: {t[1]}{t[2]}{t[3]}{t[4]}{t[5]};")
    device = st.lists(field(), max_size=3).map(lambda fs: "device d { " + " ".join(fs) + " }")
    other = st.sampled_from(["use lib for mem.alloc;", "set lib.p = 3;", 'set a.b = "x";',
                                 "set lib.p = 3 on xen;", "set a.b = x on [kvm, xen,];"])
    return st.one_of(field(), param, device, other)


def decl() -> st.SearchStrategy[str]:
    block = st.tuples(st.sampled_from(["library", "app", "policy"]),
                      st.sampled_from(["x", "app", "l-1"]),
                      st.lists(member(), max_size=4)).map(
        lambda t: f"{t[0]} {t[1]} {{\n  " + "\n  ".join(t[2]) + "\n}")
    symbol = st.tuples(st.sampled_from(["construct", "capability"]),
                       st.sampled_from(["c", "a.b", "in.x"]),
                       st.sampled_from(["", ' "doc"'])).map(lambda t: f"{t[0]} {t[1]}{t[2]};")
    imp = st.sampled_from(["import core;", 'import "x/y.uni";', "import a.b;"])
    return st.one_of(block, symbol, imp)


specs = st.lists(decl(), max_size=5).map("\n".join)


def agree(text: str) -> None:
    src = SourceFile("t.uni", Path("t.uni"), text, "")
    ref, ref_errors = reference_parse(src)
    errors: list = []
    fast = parse_fast(text, "t.uni", errors)
    if ref is not None:
        comments_in_place(text, ref)
    if fast is None:
        return  # lark decides; nothing to compare
    assert ref is not None, f"fast parser accepted what the grammar rejects: {text!r}"
    assert fast == ref  # declarations, spans and comments
    assert errors == ref_errors


def comments_in_place(text: str, module) -> None:  # type: ignore[no-untyped-def]
    """Every comment lark's lexer sees is in the tree once, with its text and span."""
    from unilang.front.comments import every_comment
    from unilang.front.lark import get_parser

    lexed = [(t.line, t.column, str(t)) for t in get_parser().lark.lex(text, dont_ignore=True)
             if t.type == "COMMENT"]
    found = every_comment(module)
    assert [(c.span.line, c.span.column, c.text) for c in found] == lexed
    lines = text.split("\n")
    for c in found:
        assert c.span.line == c.span.end_line
        assert lines[c.span.line - 1][c.span.column - 1:c.span.end_column - 1] == c.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_well_formed_specs_agree(text: str) -> None:
    agree(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soup)
def test_token_soup_agrees(text: str) -> None:
    agree(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.data())
def test_commented_specs_agree(text: str, data: st.DataObject) -> None:
    """Comments anywhere a space may be: before, inside and after every kind of
    declaration and member, on lines of their own or trailing."""
    gaps = [i for i, ch in enumerate(text) if ch in " \n"]
    chosen = data.draw(st.lists(st.sampled_from(gaps), unique=True, max_size=8)) if gaps else []
    out = []
    last = 0
    for k, i in enumerate(sorted(chosen)):
        comment = data.draw(st.sampled_from([" # c", "# ", "// d", "//", " #x # y", "# \"x\""]))
        out += [text[last:i], f" {comment}{k}\n" if text[i] == " " else f"\n{comment}{k}\n"]
        last = i + 1
    out.append(text[last:])
    agree("".join(out) + data.draw(st.sampled_from(["", "\n# end", "// end\n"])))


@settings(max_examples=200, deadline=None)
@given(specs, st.integers(min_value=0, max_value=10_000), st.sampled_from(
    ["", ";", "}", "[", '"', ".", "..", " in ", " divides ", "KiB", "-", "#"]))
def test_mutated_specs_agree(text: str, where: int, insert: str) -> None:
    i = where % (len(text) + 1)
    agree(text[:i] + insert + text[i:])


def test_every_shipped_file_takes_the_fast_path() -> None:
    for path in sorted(list((ROOT / "stdlib").rglob("*.uni")) + list(
            (ROOT / "backends").rglob("*.uni")) + list((ROOT / "examples").rglob("*.uni"))):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        agree(text)
        if "errors" not in path.parts:
            assert parse_fast(text, "f", []) is not None, path


def test_one_token_table() -> None:
    """The grammar's named terminals come from unilang.front.tokens, and the
    literals its rules spell out are exactly the table's keywords, punctuation
    and units: nothing about tokens is written in two places."""
    from unilang.front import tokens
    from unilang.front.lark import get_parser
    from unilang.units import UNITS

    terminals = get_parser().lark.terminals
    literal = {t.pattern.value for t in terminals if type(t.pattern).__name__ == "PatternStr"}
    words = {w for w in literal if w[0].isalpha()}
    assert words == set(tokens.KEYWORDS)
    assert literal - words == set(tokens.PUNCTUATION)
    regexes = {t.name: t.pattern.value for t in terminals
               if type(t.pattern).__name__ == "PatternRE"}
    unit = re.compile(regexes.pop("UNIT"))
    assert all(unit.fullmatch(u) for u in UNITS) and not unit.fullmatch("kib")
    table = {"NAME": tokens.NAME, "INT": tokens.INT, "STRING": tokens.STRING,
             "COMMENT": tokens.COMMENT, "WS": tokens.WS}
    assert set(regexes) == set(table)
    samples = ["a", "a-b_1", "1a", "-7", "0x1F", "0x", '"s"', '"a\\"b"', '"a\nb"', '"', "# c",
               "// c", "/ c", "# a\nb", " \t\r\n", "\f", "é", ""]
    for name, pattern in table.items():  # lark unescapes what it reads: same language
        assert [bool(re.fullmatch(regexes[name], x)) for x in samples] == [
            bool(re.fullmatch(pattern, x)) for x in samples], name
    assert "NAME:" not in (ROOT / "grammar" / "unilang.lark").read_text()


def test_blank_runs_before_a_stray_character_take_linear_time() -> None:
    """The fast tokenizer skips blanks and comments possessively: a long run of
    them before a character no token matches (a lone `/`) used to be tried in
    every split of the run, exponential in its length (30 spaces: hours)."""
    from unilang.front import parse_text

    for text in [" " * 5000 + "/", "\n" * 5000 + "/", "# c\n" * 2000 + "  /", "\t \n" * 2000 + "/"]:
        module, diags = parse_text(text)
        assert module is None and [d.code for d in diags] == ["U0010"]
        assert diags[0].message == "unexpected character `/`"


def test_comment_starts_are_those_of_the_regular_expression() -> None:
    """``_comment_starts`` (str.find) finds what ``re.finditer("#|//")`` finds,
    overlaps and all."""
    import random
    import re

    from unilang.front.fast import _comment_starts

    rng = random.Random(20261130)
    for _ in range(5000):
        text = "".join(rng.choice('#/a\n"') for _ in range(rng.randint(0, 14)))
        assert list(_comment_starts(text)) == [m.start() for m in re.finditer("#|//", text)]
