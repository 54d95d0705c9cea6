"""Attaching comments to the syntax tree, the same way for both parsers.

Each parser collects the comments of the file (lark's lexer, or the fast
parser's scan of the text between tokens) and builds the tree without them;
``attach`` then places every comment, in one of these places:

* inside a declaration or member: in its innermost member that holds it
  (a block's members, a device's fields), else ``inner`` of that node;
* between siblings (declarations of the module, members of a block, fields of
  a device): ``trailing`` of the one before when on its last line, else
  ``leading`` of the one after; after the last one, ``inner`` of the block or
  device that holds them, or ``Module.comments`` at the top level.

A line comment runs to the end of its line, so nothing starts on its line
after it: "on the last line of the one before" and "before the one after"
never compete.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import attrs

from . import syntax as S

_N = TypeVar("_N")


def _start(span: Any) -> tuple[int, int]:
    return (span.line, span.column)


def _end(span: Any) -> tuple[int, int]:
    return (span.end_line, span.end_column)


def _with(node: _N, leading: Sequence[S.Comment] = (), trailing: Sequence[S.Comment] = (),
          inner: Sequence[S.Comment] = ()) -> _N:
    if not (leading or trailing or inner):
        return node
    if isinstance(node, S.LazyBlock):
        node = node.full()  # type: ignore[assignment]  # attrs.evolve needs the real one
    old = node.comments or S.Comments()  # type: ignore[attr-defined]
    comments = S.Comments(old.leading + tuple(leading), old.trailing + tuple(trailing),
                          old.inner + tuple(inner))
    return attrs.evolve(node, comments=comments)  # type: ignore[misc]


def _children(node: Any) -> tuple[str, tuple[Any, ...]] | None:
    if isinstance(node, S.Block):
        return "members", node.members
    if isinstance(node, S.Device):
        return "fields", node.fields
    return None


def _place(nodes: Sequence[_N], comments: Sequence[S.Comment]) -> tuple[list[_N], list[S.Comment]]:
    """``nodes`` (siblings, in order) with ``comments`` (in order) attached, and the
    comments after the last one, which belong to their container.  Only the nodes
    that get a comment are touched (a module may have 100,000 declarations and
    one comment)."""
    out = list(nodes)
    rest: list[S.Comment] = []
    # per sibling that gets any: comments before it, inside it, after it on its last line
    got: dict[int, tuple[list[S.Comment], list[S.Comment], list[S.Comment]]] = {}
    i = 0
    for c in comments:
        at = _start(c.span)
        while i < len(out) and _end(out[i].span) <= at:  # type: ignore[attr-defined]
            i += 1
        if i < len(out) and _start(out[i].span) <= at:  # type: ignore[attr-defined]
            got.setdefault(i, ([], [], []))[1].append(c)
        elif i > 0 and out[i - 1].span.end_line == c.span.line:  # type: ignore[attr-defined]
            got.setdefault(i - 1, ([], [], []))[2].append(c)
        elif i < len(out):
            got.setdefault(i, ([], [], []))[0].append(c)
        else:
            rest.append(c)
    for k, (before, inside, after) in got.items():
        node = out[k]
        if isinstance(node, S.LazyBlock):
            node = node.full()  # type: ignore[assignment]  # it gets comments: a real one
        inner = inside
        if inside:
            kids = _children(node)
            if kids is not None:
                name, members = kids
                placed, inner = _place(members, inside)
                node = attrs.evolve(node, **{name: tuple(placed)})  # type: ignore[misc]
        out[k] = _with(node, before, after, inner)
    return out, rest


def attach(decls: Sequence[S.Decl], comments: Sequence[S.Comment]
           ) -> tuple[tuple[S.Decl, ...], tuple[S.Comment, ...]]:
    """The declarations with ``comments`` (sorted by position) attached, and the
    comments that belong to the module itself."""
    if not comments:
        return tuple(decls), ()
    placed, rest = _place(decls, comments)
    return tuple(placed), tuple(rest)


def every_comment(module: S.Module) -> list[S.Comment]:
    """Every comment in the tree, in the order of the file (for tools and tests)."""
    found: list[S.Comment] = list(module.comments)
    stack: list[Any] = list(module.decls)
    while stack:
        node = stack.pop()
        if node.comments is not None:
            found.extend(node.comments.all())
        kids = _children(node)
        if kids is not None:
            stack.extend(kids[1])
    return sorted(found, key=lambda c: _start(c.span))
