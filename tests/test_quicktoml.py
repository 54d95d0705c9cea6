"""Backend descriptors read without what a check need not import:
unilang.quicktoml reads their plain TOML as tomllib does and declines (None)
everything else, so tomllib decides and words the errors; unilang.backend
tests names without compiling patterns."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from hypothesis import example, given, settings, strategies as st

from unilang import quicktoml
from support import ROOT


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (True is not 1)."""
    return repr(a) == repr(b) and a == b


def _tomllib(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


@pytest.mark.parametrize("descriptor", sorted((ROOT / "backends").glob("*/backend.toml")),
                         ids=lambda p: p.parent.name)
def test_every_backend_descriptor_is_read_without_tomllib(descriptor) -> None:
    text = descriptor.read_text(encoding="utf-8")
    doc = quicktoml.loads(text)
    assert doc is not None, "the descriptor left the plain part: every check imports tomllib"
    assert _same(doc, tomllib.loads(text))


@pytest.mark.parametrize("text,expected", [
    ("", {}),
    ("# only a comment\n\n", {}),
    ('a = "x"  # note "quoted"\n[t]\nb = true\nc = false\n',
     {"a": "x", "t": {"b": True, "c": False}}),
    ('k = []\nl = [ "a" , "b", ]\nm = ["#", "]", "[", ","] # c\n',
     {"k": [], "l": ["a", "b"], "m": ["#", "]", "[", ","]}),
    ('\t x-y_1 \t=\t"é\tz"\t\n[ta-b]', {"x-y_1": "é\tz", "ta-b": {}}),
    ('[a]\na = "1"\n[b]\na = "2"\n', {"a": {"a": "1"}, "b": {"a": "2"}}),
])
def test_the_plain_part_is_read(text: str, expected: dict[str, Any]) -> None:
    assert _same(quicktoml.loads(text), expected)
    assert _same(tomllib.loads(text), expected)


@pytest.mark.parametrize("text", [
    'a = 1\n', 'a = 1.5\n', "a = 'lit'\n", 'a = """x"""\n', 'a = "\\n"\n', 'a = "x\n',
    'a = { b = "c" }\n', 'a.b = "c"\n', '"a" = "c"\n', 'a = [\n"x"\n]\n', 'a = [1]\n',
    'a = [["x"]]\n', 'a = ["x" "y"]\n', 'a = [,]\n', 'a = "x" "y"\n', 'a = truex\n',
    'a = "x"\na = "y"\n', 'a = "x"\n[a]\n', '[a]\n[a]\n', '[a.b]\n', '[[a]]\n', '[ a ]\n',
    '[a]]\n', '[a\n', '= "x"\n', 'a\n', 'é = "x"\n', 'a = 1979-05-27\n', 'a = "x"\r\n',
    '\ufeffa = "x"\n', 'a = "x\x7f"\n', '# \x01\n', 'a = "\u2028"\n', 'a = inf\n',
])
def test_anything_else_is_left_to_tomllib(text: str) -> None:
    assert quicktoml.loads(text) is None


_KEYS = st.sampled_from(["a", "b", "name", "qemu", "1", "-", "a_b-c"])
#: printable text (the quick reader declines the rest); tabs and spaces too
_TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "S"), whitelist_characters=" \t",
                              blacklist_characters='"\\'), max_size=8)
_STRING = _TEXT.map(lambda t: f'"{t}"')
_WS = st.sampled_from(["", " ", "\t", "  "])
_TRAILER = st.one_of(_WS, st.tuples(_WS, _TEXT).map(lambda t: f"{t[0]}#{t[1]}"))


@st.composite
def _array(draw: st.DrawFn) -> str:
    items = draw(st.lists(_STRING, max_size=4))
    ws = draw(_WS)
    comma = draw(st.sampled_from(["", ","])) if items else ""
    return "[" + ws + f"{ws},{ws}".join(items) + comma + ws + "]"


_VALUE = st.one_of(_STRING, st.sampled_from(["true", "false"]), _array())


@st.composite
def _plain(draw: st.DrawFn) -> str:
    """A document of the plain part: keys and tables may repeat (then tomllib errs)."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["kv", "kv", "kv", "table", "comment", "blank"]))
        ws = draw(_WS)
        if kind == "kv":
            lines.append(f"{ws}{draw(_KEYS)}{draw(_WS)}={draw(_WS)}{draw(_VALUE)}{draw(_TRAILER)}")
        elif kind == "table":
            lines.append(f"{ws}[{draw(_KEYS)}]{draw(_TRAILER)}")
        elif kind == "comment":
            lines.append(f"{ws}#{draw(_TEXT)}")
        else:
            lines.append(ws)
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=400, deadline=None)
@given(_plain())
def test_plain_documents_read_as_tomllib_reads_them(text: str) -> None:
    expected = _tomllib(text)
    got = quicktoml.loads(text)
    if expected is None:
        assert got is None  # a redefined key or table: tomllib words the error
    else:
        assert got is not None and _same(got, expected)


_PIECES = st.sampled_from(['"', "'", "\\", "[", "]", "{", "}", "=", ",", ".", "#", " ", "\t",
                           "\n", "\r", "\x00", "\x7f", "\ufeff", "\u2028", "é", "a", "qemu",
                           "true", "false", "1", "-", "+", "inf", ":", '"""'])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_whatever_it_accepts_tomllib_reads_the_same(text: str) -> None:
    got = quicktoml.loads(text)
    if got is not None:
        assert _same(got, tomllib.loads(text))


_NAME_CHARS = st.text(st.sampled_from("aZz09_.-A/ \n\u00e9\u0660"), max_size=40)


@settings(max_examples=600, deadline=None)
@given(_NAME_CHARS)
@example("a" * 32)
@example("a" * 33)
@example("-a")
@example(".j2")
@example("x\n")
def test_descriptor_names_are_tested_as_their_patterns_say(name: str) -> None:
    """backend.py tests emitted file and hypervisor names without compiling a
    pattern on every check; they accept exactly what the patterns accept."""
    from unilang.backend import is_file_name, is_hypervisor_name

    assert is_file_name(name) == bool(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name))
    assert is_hypervisor_name(name) == bool(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", name))
