"""The formatter: one canonical layout for a ``.uni`` source.

A pure function of the text (``format_source``, ``format_text``) or of a parsed
tree and the text it came from (``format_module``); ``unilang fmt`` and the
language server call it.  It works on the front end's syntax tree
(``unilang.front.syntax``) with its comments and part spans; literals are copied
from the source as written (a string keeps its escapes, a number its hex
digits), so formatting never changes a value.

The layout:

* top-level declarations start in column 1; the members of a block and the
  fields of a device are indented by four spaces, one per line;
* one space around ``=``, after ``:`` and ``,``, around ``..``; none inside
  ``[ ]`` and ``( )``; a size is ``NUMBER UNIT``; a dotted name has no spaces;
* a block always spans lines (``app x {`` ... ``}``), an empty one is ``{}``;
* a list that does not fit in ``WIDTH`` columns, or that holds a comment, has
  one item per line, each followed by a comma;
* ``on`` names one backend bare (``on kvm``), several in brackets;
* blank lines: where the source had one or more between two declarations,
  members or comments, there is exactly one; none after ``{`` or before ``}``,
  none at the start or end of the file, which ends with one newline;
* comments stay where they were: before the declaration or member they
  preceded (on their own lines), after the one they followed on its line (two
  spaces before the marker), inside a list beside the item they followed or
  before the one they preceded.  A comment inside a one-line construct (between
  ``param`` and its ``;``, say) cannot stay there once the construct is on one
  line: it moves to its own line just before the construct; a comment between
  a size's number and unit goes before it too.  Where two comments would end
  up at the end of one line (``[ # a`` ... ``] # b`` of an empty list), the
  second gets a line of its own below.  A block or device with nothing but a
  comment on its first line becomes ``{}`` with that comment after it.
  Trailing spaces of a comment are dropped, nothing else of its text changes.

The result parses to the same tree (spans and comment positions aside), and
formatting it again changes nothing (``tests/test_fmt.py`` checks both, on
every shipped spec and on random ones).
"""

from __future__ import annotations

import re
from typing import Sequence

import attrs

from .diagnostics import Diagnostic, Span
from .front import syntax as S
from .front.source import SourceFile
from .front.tokens import INT

#: Lists longer than this (with their indentation and key) are wrapped.
WIDTH = 100
INDENT = "    "
#: Before a comment that follows code on its line.
TRAILING_GAP = "  "


@attrs.frozen
class Formatted:
    """The outcome of formatting one source: the new text (None when it does
    not parse: then ``diagnostics`` say why), and whether it differs."""

    text: str | None
    diagnostics: tuple[Diagnostic, ...]
    changed: bool


def format_source(source: SourceFile) -> Formatted:
    """Format a decoded source file (``unilang.front.source.read_source``)."""
    from .front import parse

    module, diags = parse(source)
    errors = tuple(d for d in diags if d.is_error)
    if module is None or errors:
        return Formatted(None, tuple(diags), False)
    out = format_module(module, source.text)
    return Formatted(out, tuple(diags), out != source.text)


def format_text(text: str, name: str = "<input>") -> Formatted:
    """Format ``text`` (line ends of any kind; the result has LF only)."""
    import hashlib
    from pathlib import Path

    from .front.source import normalize_line_ends

    src = SourceFile(name=name, path=Path(name), text=normalize_line_ends(text),
                     digest=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    res = format_source(src)
    if res.text is None:
        return res
    return attrs.evolve(res, changed=res.text != text)


def format_module(module: S.Module, text: str) -> str:
    """The canonical text of ``module``, parsed from ``text`` (LF line ends)."""
    return _Printer(text).module(module)


_SIZE_NUMBER = re.compile(INT)
_SIZE_UNIT = re.compile(r"[A-Za-z]+$")


class _Printer:
    def __init__(self, text: str) -> None:
        self.src_lines = text.split("\n")
        self.out: list[str] = []
        #: the lines of ``out`` that end with a comment
        self.commented: set[int] = set()

    # ------------------------------------------------------------ literals

    def slice(self, span: Span) -> str:
        """The source text of a one-line span (every literal token is one line)."""
        line = self.src_lines[span.line - 1]
        if span.end_line == span.line:
            return line[span.column - 1:span.end_column - 1]
        parts = [line[span.column - 1:]]
        parts += self.src_lines[span.line:span.end_line - 1]
        parts.append(self.src_lines[span.end_line - 1][:span.end_column - 1])
        return "\n".join(parts)

    def scalar(self, v: S.Scalar) -> str:
        if isinstance(v, S.Name):
            return v.value
        if isinstance(v, S.Bool):
            return "true" if v.value else "false"
        raw = self.slice(v.span)
        if isinstance(v, S.Size):
            # the number and the unit, whatever is between them (space, a comment)
            number, unit = _SIZE_NUMBER.match(raw), _SIZE_UNIT.search(raw)
            if number and unit:
                return f"{number.group()} {unit.group()}"
            return v.text  # not reached: a size's span is its number and unit
        return raw  # Int and Str exactly as written

    def doc(self, span: Span | None, value: str | None) -> str:
        if span is not None:
            return self.slice(span)
        assert value is not None
        return S.render_value(S.Str(value, Span("", 0, 0, 0, 0)))

    def on(self, names: tuple[S.Name, ...] | None) -> str:
        if names is None:
            return ""
        if len(names) == 1:
            return f" on {names[0].value}"
        return " on [" + ", ".join(n.value for n in names) + "]"

    # ------------------------------------------------------------ output

    def emit(self, depth: int, line: str) -> None:
        self.out.append(INDENT * depth + line if line else "")

    def comment_line(self, depth: int, c: S.Comment) -> None:
        self.emit(depth, c.text.rstrip())
        self.commented.add(len(self.out) - 1)

    def append_trailing(self, comments: Sequence[S.Comment], depth: int = 0) -> None:
        """Comments after the last line written: the first at its end, any more
        (two that had lines of their own around a part now on one line) each
        on a line of its own below it."""
        for c in comments:
            if len(self.out) - 1 in self.commented:
                self.comment_line(depth, c)
            else:
                self.out[-1] += TRAILING_GAP + c.text.rstrip()
            self.commented.add(len(self.out) - 1)

    def blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    # ------------------------------------------------------------ sequences

    def siblings(self, depth: int, nodes: Sequence[object], tail: Sequence[S.Comment],
                 prev_end: int | None) -> None:
        """Nodes at one level with their comments, then the comments after them
        (``tail``), keeping one blank line where the source had any.
        ``prev_end``: the source line the level starts after (None at the top of
        a file or a block, where no blank line opens it)."""
        last = prev_end

        def gap(line: int) -> None:
            nonlocal last
            if last is not None and line - last >= 2:
                self.blank()

        for node in nodes:
            comments: S.Comments = getattr(node, "comments", None) or S.Comments()
            span: Span = getattr(node, "span")
            for c in comments.leading:
                gap(c.span.line)
                self.comment_line(depth, c)
                last = c.span.end_line
            gap(span.line)
            self.node(depth, node, comments)
            last = span.end_line
        for c in tail:
            gap(c.span.line)
            self.comment_line(depth, c)
            last = c.span.end_line

    def module(self, m: S.Module) -> str:
        self.siblings(0, m.decls, m.comments, None)
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n" if self.out else ""

    # ------------------------------------------------------------ nodes

    def moved(self, depth: int, comments: Sequence[S.Comment]) -> None:
        """Comments from inside a construct laid out on one line: before it."""
        for c in comments:
            self.comment_line(depth, c)

    def node(self, depth: int, node: object, comments: S.Comments) -> None:
        if isinstance(node, S.Block):
            self.block(depth, node, comments)
            return
        if isinstance(node, S.Device):
            self.device(depth, node, comments)
            return
        if isinstance(node, S.Field):
            self.field(depth, node, comments)
            return
        self.moved(depth, comments.inner)
        self.emit(depth, self.one_line(node))
        self.append_trailing(comments.trailing, depth)

    def one_line(self, node: object) -> str:
        if isinstance(node, S.Import):
            target = self.slice(node.target_span) if (node.is_path and node.target_span) \
                else (S.render_value(S.Str(node.target, node.span)) if node.is_path
                      else node.target)
            return f"import {target};"
        if isinstance(node, S.Symbol):
            doc = "" if node.doc is None else " " + self.doc(node.doc_span, node.doc)
            return f"{node.kind} {node.name}{doc};"
        if isinstance(node, S.Param):
            return self.param(node)
        if isinstance(node, S.Use):
            return f"use {node.library} for {node.construct.value};"
        if isinstance(node, S.Set):
            return f"set {node.target.value} = {self.scalar(node.value)}{self.on(node.on)};"
        raise TypeError(f"cannot format {type(node).__name__}")  # pragma: no cover

    def param(self, p: S.Param) -> str:
        t = p.type
        type_text = t.name if t.name != "enum" or not t.members else \
            "enum(" + ", ".join(n.value for n in t.members) + ")"
        out = f"param {p.name}: {type_text}"
        if p.default is not None:
            out += f" = {self.scalar(p.default)}"
        if p.low is not None and p.high is not None:
            out += f" in {self.scalar(p.low)} .. {self.scalar(p.high)}"
        if p.divides is not None:
            out += f" divides {self.scalar(p.divides)}"
        if p.doc is not None:
            out += " " + self.doc(p.doc_span, p.doc)
        return out + ";"

    def header_comments(self, start_line: int, first: object | None,
                        inner: Sequence[S.Comment]) -> tuple[list[S.Comment], object | None,
                                                              list[S.Comment]]:
        """The comments on the line that opens a block or device (after its ``{``),
        taken from the first member's leading comments, or from ``inner`` when
        it has no members; and what remains of those."""
        if first is not None:
            comments = getattr(first, "comments", None)
            if comments is None:
                return [], first, list(inner)
            head = [c for c in comments.leading if c.span.line == start_line]
            if head:
                rest = attrs.evolve(comments, leading=tuple(
                    c for c in comments.leading if c.span.line != start_line))
                first = attrs.evolve(first, comments=rest)  # type: ignore[misc]
            return head, first, list(inner)
        head = [c for c in inner if c.span.line == start_line]
        return head, None, [c for c in inner if c.span.line != start_line]

    def braces(self, depth: int, opening: str, start_line: int, members: Sequence[object],
               comments: S.Comments) -> None:
        """``opening {`` members ``}`` (or ``opening {}``)."""
        head, first, inner = self.header_comments(start_line, members[0] if members else None,
                                                  comments.inner)
        members = ([first] if first is not None else []) + list(members[1:])
        if not members and not inner:
            self.emit(depth, opening + " {}")
            self.append_trailing(head, depth)
            self.append_trailing(comments.trailing, depth)
            return
        self.emit(depth, opening + " {")
        self.append_trailing(head, depth)
        self.siblings(depth + 1, members, inner, None)
        self.emit(depth, "}")
        self.append_trailing(comments.trailing, depth)

    def block(self, depth: int, b: S.Block, comments: S.Comments) -> None:
        self.braces(depth, f"{b.kind} {b.name}", b.span.line, b.members, comments)

    def device(self, depth: int, d: S.Device, comments: S.Comments) -> None:
        self.braces(depth, f"device {d.name}", d.span.line, d.fields, comments)

    def field(self, depth: int, f: S.Field, comments: S.Comments) -> None:
        head = f"{f.key}{self.on(f.on)} = "
        v = f.value
        if not isinstance(v, S.List):
            self.moved(depth, comments.inner)
            self.emit(depth, f"{head}{self.scalar(v)};")
            self.append_trailing(comments.trailing, depth)
            return
        items = [self.scalar(i) for i in v.items]
        start = (v.span.line, v.span.column)
        end = (v.span.end_line, v.span.end_column)
        inside = [c for c in comments.inner if start <= (c.span.line, c.span.column) < end]
        before = [c for c in comments.inner if (c.span.line, c.span.column) < start]
        after = [c for c in comments.inner if (c.span.line, c.span.column) >= end]
        self.moved(depth, before)
        one = f"{head}[{', '.join(items)}];"
        if not inside and len(INDENT * depth) + len(one) <= WIDTH:
            self.emit(depth, one)
            self.append_trailing(after + list(comments.trailing), depth)
            return
        self.wrapped_list(depth, head, v, items, inside)
        self.append_trailing(after + list(comments.trailing), depth)

    def wrapped_list(self, depth: int, head: str, v: S.List, items: list[str],
                     comments: list[S.Comment]) -> None:
        """A list with one item per line, and its comments beside or between them."""
        # each comment: after the last item that ends on its line before it
        # (trailing), else before the first item after it, else before `]`
        opening = [c for c in comments if c.span.line == v.span.line
                   and (not v.items or (c.span.line, c.span.column)
                        < (v.items[0].span.line, v.items[0].span.column))]
        rest = [c for c in comments if c not in opening]
        trailing: dict[int, list[S.Comment]] = {}
        leading: dict[int, list[S.Comment]] = {}
        tail: list[S.Comment] = []
        for c in rest:
            at = (c.span.line, c.span.column)
            within = next((k for k, item in enumerate(v.items)
                           if (item.span.line, item.span.column) < at
                           < (item.span.end_line, item.span.end_column)), None)
            if within is not None:  # between a size's number and unit: before it
                leading.setdefault(within, []).append(c)
                continue
            owner = None
            for k, item in enumerate(v.items):
                if item.span.end_line == c.span.line and \
                        (item.span.end_line, item.span.end_column) <= at:
                    owner = k
            if owner is not None:
                trailing.setdefault(owner, []).append(c)
                continue
            nxt = next((k for k, item in enumerate(v.items)
                        if (item.span.line, item.span.column) > at), None)
            if nxt is None:
                tail.append(c)
            else:
                leading.setdefault(nxt, []).append(c)
        self.emit(depth, head + "[")
        self.append_trailing(opening, depth)
        for k, text in enumerate(items):
            for c in leading.get(k, ()):
                self.comment_line(depth + 1, c)
            self.emit(depth + 1, text + ",")
            self.append_trailing(trailing.get(k, ()), depth + 1)
        for c in tail:
            self.comment_line(depth + 1, c)
        self.emit(depth, "];")
