"""The syntax tree keeps what a formatter and a language server need: every
comment of every shipped spec exactly once, with its text and span, and spans
of the parts of each node (keys, values, targets, doc strings, the closing
`;` or `}`) that point at exactly that text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unilang.diagnostics import Span
from unilang.front import parse, syntax as S
from unilang.front.comments import every_comment
from unilang.front.lark import get_parser
from unilang.front.source import SourceFile, read_source
from unilang.front.tokens import parse_int

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(list((ROOT / "examples").rglob("*.uni")) + list((ROOT / "stdlib").rglob("*.uni"))
               + list((ROOT / "backends").rglob("*.uni")))


def parsed(path: Path) -> tuple[SourceFile, S.Module] | None:
    src = read_source(path, "f.uni")
    if not isinstance(src, SourceFile):
        return None  # the examples of unreadable files
    module, _errors = parse(src)
    return (src, module) if module is not None else None


def text_at(text: str, span: Span) -> str:
    lines = text.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1:span.end_column - 1]
    parts = [lines[span.line - 1][span.column - 1:]] + lines[span.line:span.end_line - 1]
    return "\n".join(parts + [lines[span.end_line - 1][:span.end_column - 1]])


def check_scalar(text: str, v: Any) -> None:
    written = text_at(text, v.span)
    if isinstance(v, S.Int):
        assert parse_int(written) == v.value
    elif isinstance(v, S.Size):
        assert written.split()[0] in v.text or written.startswith(v.text.split()[0][:12])
    elif isinstance(v, S.Str):
        assert written.startswith('"') and written.endswith('"')
    elif isinstance(v, S.Bool):
        assert written == ("true" if v.value else "false")
    else:
        assert "".join(written.split()) == v.value


def check_value(text: str, v: Any) -> None:
    if isinstance(v, S.List):
        written = text_at(text, v.span)
        assert written.startswith("[") and written.endswith("]")
        for item in v.items:
            check_scalar(text, item)
    else:
        check_scalar(text, v)


def check_node(text: str, node: Any) -> None:
    closing = "}" if isinstance(node, (S.Block, S.Device)) else ";"
    assert text_at(text, S.end_span(node.span)) == closing
    if isinstance(node, S.Field):
        assert text_at(text, node.key_span) == node.key
        check_value(text, node.value)
        for name in node.on or ():
            assert text_at(text, name.span) == name.value
    elif isinstance(node, S.Import):
        assert node.target_span is not None
        written = text_at(text, node.target_span)
        assert written.strip('"') == node.target if node.is_path else (
            "".join(written.split()) == node.target)
    elif isinstance(node, (S.Symbol, S.Param)):
        name_span = node.name_span
        assert "".join(text_at(text, name_span).split()) == node.name
        if node.doc is None:
            assert node.doc_span is None
        else:
            assert node.doc_span is not None and text_at(text, node.doc_span)[0] == '"'
        if isinstance(node, S.Param):
            for v in (node.default, node.low, node.high, node.divides):
                if v is not None:
                    check_scalar(text, v)
    elif isinstance(node, (S.Block, S.Device)):
        assert text_at(text, node.name_span) == node.name
        for member in node.members if isinstance(node, S.Block) else node.fields:
            check_node(text, member)
    elif isinstance(node, S.Use):
        assert text_at(text, node.library_span) == node.library
        check_scalar(text, node.construct)
    elif isinstance(node, S.Set):
        check_scalar(text, node.target)
        check_scalar(text, node.value)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_comment_is_in_the_tree_once(path: Path) -> None:
    got = parsed(path)
    if got is None:
        return
    src, module = got
    lexed = [(t.line, t.column, t.end_column, str(t))
             for t in get_parser().lark.lex(src.text, dont_ignore=True) if t.type == "COMMENT"]
    found = every_comment(module)
    assert [(c.span.line, c.span.column, c.span.end_column, c.text) for c in found] == lexed
    lines = src.text.split("\n")
    for c in found:
        assert text_at(src.text, c.span) == c.text
        assert lines[c.span.line - 1][c.span.column - 1:] == c.text  # to the end of its line


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_spans_of_parts_point_at_their_text(path: Path) -> None:
    got = parsed(path)
    if got is None:
        return
    src, module = got
    for decl in module.decls:
        check_node(src.text, decl)


def test_where_comments_go() -> None:
    text = """# head
import core; # after import
// before lib
library x { # first member's
  a = [b, # in a list
       c]; # after a
  device d {
    k = 1;
    # after the last field
  }
  # after the last member
} # after x
# the end
"""
    src = SourceFile("t.uni", Path("t.uni"), text, "")
    module, errors = parse(src)
    assert module is not None and not errors

    def texts(cs: tuple[S.Comment, ...]) -> list[str]:
        return [c.text for c in cs]

    imp, lib = module.decls
    assert isinstance(imp, S.Import) and isinstance(lib, S.Block) and imp.comments and lib.comments
    assert texts(imp.comments.leading) == ["# head"]
    assert texts(imp.comments.trailing) == ["# after import"]
    assert texts(lib.comments.leading) == ["// before lib"]
    assert texts(lib.comments.inner) == ["# after the last member"]
    assert texts(lib.comments.trailing) == ["# after x"]
    field, device = lib.members
    assert field.comments == S.Comments(
        leading=(S.Comment("# first member's", Span("t.uni", 4, 13, 4, 29)),),
        trailing=(S.Comment("# after a", Span("t.uni", 6, 12, 6, 21)),),
        inner=(S.Comment("# in a list", Span("t.uni", 5, 11, 5, 22)),))
    assert isinstance(device, S.Device) and device.comments is not None
    assert texts(device.comments.inner) == ["# after the last field"]
    assert device.fields[0].comments is None
    assert texts(module.comments) == ["# the end"]
    assert module == get_parser().parse(src)[0]


def test_the_shipped_specs_have_comments() -> None:
    """The tests above see comments: the shipped specs are full of them."""
    total = 0
    for path in SPECS:
        got = parsed(path)
        total += len(every_comment(got[1])) if got else 0
    assert total > 100
