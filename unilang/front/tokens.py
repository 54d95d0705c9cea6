"""The tokens of the language: one table that both parsers read.

The named terminals (``NAME``, ``INT``, ``STRING``, ``UNIT``, ``COMMENT``,
``WS``) are defined here once.  ``grammar/unilang.lark`` holds the rules only;
``grammar_text`` appends the terminal section generated from this table before
lark builds its parser, and ``unilang.front.fast`` compiles its one token
regular expression from the same table.  The keywords and punctuation are
written in the grammar's rules as literals (``"import"``, ``"{"``), where they
read best; a test checks that the grammar's literals are exactly ``KEYWORDS``,
``PUNCTUATION`` and the units.

Also here: turning a literal token into its value (``parse_int``,
``size_text``, ``decode_string``), shared by both parsers.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, Span, error
from ..units import UNITS
from .syntax import INT_LIMIT

#: The named terminals, as Python regular expressions (lark reads the same
#: syntax), in the order lark lists them.
NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
INT = r"-?(?:0x[0-9A-Fa-f]+|[0-9]+)"
STRING = r'"(?:[^"\\\n]|\\[^\n])*"'
COMMENT = r"(?:#|//)[^\n]*"
WS = r"[ \t\f\r\n]+"

#: The words the grammar's rules spell out.  None is reserved: where the grammar
#: expects a name, any of them is a name (the contextual lexer).
KEYWORDS = frozenset({
    "import", "construct", "capability", "library", "app", "policy", "param", "device",
    "use", "for", "set", "on", "in", "divides", "enum", "true", "false",
})

#: The punctuation of the rules, longest first (the order a lexer must try them).
PUNCTUATION = ("..", "{", "}", "[", "]", "(", ")", ";", ":", "=", ",", ".")

#: ``UNIT`` wins over ``NAME`` where both are allowed (after a number).
UNIT_PRIORITY = 2


def _lark_regex(pattern: str) -> str:
    return "/" + pattern.replace("/", "\\/") + "/"


def lark_terminals() -> str:
    """The terminal section of the grammar, generated from this table."""
    units = " | ".join(f'"{u}"' for u in UNITS)
    return "\n".join([
        "// ---- generated from unilang/front/tokens.py",
        f"NAME: {_lark_regex(NAME)}",
        f"INT: {_lark_regex(INT)}",
        f"UNIT.{UNIT_PRIORITY}: {units}",
        f"STRING: {_lark_regex(STRING)}",
        f"COMMENT: {_lark_regex(COMMENT)}",
        f"WS: {_lark_regex(WS)}",
        "%ignore WS",
        "%ignore COMMENT",
        "",
    ])


def grammar_text(rules: str) -> str:
    """The whole lark grammar: ``rules`` (grammar/unilang.lark), then the terminals."""
    return rules.rstrip("\n") + "\n\n" + lark_terminals()


def fast_token_regex() -> re.Pattern[str]:
    """The fast parser's one regular expression: whitespace and comments, then a
    token in one named group (``str``, ``int``, ``name``, ``p`` for punctuation,
    ``end`` at the end of the text).  The comments are matched but not kept; the
    fast parser finds them again where the skipped text has any.  Each run of
    blanks and each comment is taken whole (possessive ``++``, ``*+``): no token
    starts with blank or comment text, so giving some back never helps, and
    trying to made a run of blanks before a character no token matches cost
    time exponential in its length.  Only single characters are repeated
    possessively: Python before 3.11.5 matches a possessive repeat of a group
    that can backtrack wrongly (CPython gh-106052; Debian 12 has 3.11.2)."""
    punct = "|".join(re.escape(p) for p in PUNCTUATION)
    return re.compile(
        f"(?:{WS}+|{COMMENT}+)*"  # {WS}+ is [...]++, {COMMENT}+ ends [^\n]*+
        f"(?:(?P<str>{STRING})|(?P<int>{INT})|(?P<name>{NAME})|(?P<p>{punct})|(?P<end>\\Z))")


# ---------------------------------------------------------------- literal values

def parse_int(text: str) -> int:
    """An INT token's value: decimal or 0x hex, optionally negative.

    A literal whose magnitude is ``INT_LIMIT`` (2**64) or more is out of
    range wherever a number is allowed; it is kept as +-``INT_LIMIT`` so
    that no literal, however long, is ever converted digit by digit (Python
    refuses to convert more than 4,300 decimal digits)."""
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    hexa = digits[:2] in ("0x", "0X")
    digits = (digits[2:] if hexa else digits).lstrip("0") or "0"
    if len(digits) > (16 if hexa else 20):
        return sign * INT_LIMIT
    value = int(digits, 16 if hexa else 10)
    return sign * min(value, INT_LIMIT)


def size_text(number: str, unit: str) -> str:
    """How a size literal is shown (``Size.text``): as written, but a number
    too long to be read in a message is cut to its first and last digits."""
    if len(number) > 40:
        number = f"{number[:12]}...{number[-4:]} ({len(number)} characters)"
    return f"{number} {unit}"


_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_UNICODE_ESCAPE = r"u\{([0-9A-Fa-f]{1,6})\}"  # compiled on first use (re's cache)


def decode_string(token: str, file: str, line: int, column: int,
                  errors: list[Diagnostic]) -> str:
    """A STRING token's value; each invalid escape adds a diagnostic to ``errors``.
    ``line`` and ``column`` are where the token (its opening quote) starts."""
    raw = token[1:-1]
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        width = 2
        if nxt == "u":
            m = re.compile(_UNICODE_ESCAPE).match(raw, i + 1)
            if m:
                cp = int(m.group(1), 16)
                if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
                    out.append(chr(cp))
                    i = m.end()
                    continue
                width = m.end() - i  # report (and skip) the whole `\u{...}`
        col = column + 1 + i
        errors.append(error(
            "U0011", f"invalid escape sequence `{raw[i:i + width]}` in string",
            Span(file, line, col, line, col + width),
            help='the escapes are \\\\ \\" \\n \\t \\r and \\u{HEX} (not \\u{0})'))
        i += width
    return "".join(out)
