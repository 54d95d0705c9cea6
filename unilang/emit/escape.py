"""Escaping values for every format unilang writes.

Each function returns text that, read back by that format's own parser,
yields exactly the input value; values that cannot be represented safely
raise ``Unrepresentable``.  Templates only accept ``Escaped`` strings, so a
value can never reach a file without passing through one of these.
"""

from __future__ import annotations

import json
import re

from ..cnames import C_IDENT


class Unrepresentable(ValueError):
    """A value that cannot be written safely in a given format."""


class Escaped(str):
    """Text already escaped for the format of the template it goes into."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str, fmt: str) -> None:
    m = _CONTROL.search(value)
    if m:
        raise Unrepresentable(f"control character {m.group()!r} cannot be written in {fmt}")


def shell(value: str) -> Escaped:
    """POSIX sh single quoting: every byte literal, `'` spelled as '\\''."""
    if "\0" in value:
        raise Unrepresentable("NUL cannot be passed through a shell word")
    return Escaped("'" + value.replace("'", "'\\''") + "'")


def xl_string(value: str) -> Escaped:
    """An xl.cfg double-quoted string (libxlu: backslash escapes, no newline)."""
    _no_control(value, "xl.cfg")
    return Escaped('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')


_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> Escaped:
    """XML character data or attribute value content (quotes escaped too).
    XML 1.0 has no way to write C0 controls (but tab, LF, CR, refused here
    too), surrogates, U+FFFE or U+FFFF, not even as character references."""
    _no_control(value, "XML")
    m = _NOT_XML.search(value)
    if m:
        raise Unrepresentable(f"U+{ord(m.group()):04X} cannot be written in XML 1.0")
    return Escaped(value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&quot;").replace("'", "&apos;"))


_NINJA_PATH = re.compile(r"[A-Za-z0-9_./+\-=]+\Z")


def ninja_path(value: str) -> Escaped:
    """A path in a ninja build statement: `$`, ` ` and `:` escaped with `$`."""
    _no_control(value, "ninja")
    return Escaped(value.replace("$", "$$").replace(" ", "$ ").replace(":", "$:"))


def ninja_word(value: str) -> Escaped:
    """A word in a ninja variable that ninja passes to the shell-less command line."""
    if not _NINJA_PATH.match(value):
        raise Unrepresentable(f"`{value}` cannot be written as a ninja command word")
    return Escaped(value)


def ninja_shell_word(value: str) -> Escaped:
    """A word of a ninja `command`, which ninja hands to `/bin/sh -c`: quoted
    for the shell, then every `$` doubled for ninja (a path with spaces,
    quotes, `$`, `#` or non-ASCII stays one word)."""
    _no_control(value, "a ninja command")
    if _SHELL_PLAIN.match(value):
        return Escaped(value)
    return Escaped(shell(value).replace("$", "$$"))


_SHELL_PLAIN = re.compile(r"[A-Za-z0-9_./+\-=,:@%]+\Z")


def lds_symbol(value: str) -> Escaped:
    """A symbol or section-name suffix in a GNU ld script."""
    if not C_IDENT.match(value):
        raise Unrepresentable(f"`{value}` is not a linker-script symbol")
    return Escaped(value)


def lds_comment(value: str) -> Escaped:
    """Text inside a /* */ comment of a linker script."""
    _no_control(value, "a linker-script comment")
    return Escaped(value.replace("*/", "* /"))


def _quoted(value: str, special: str) -> Escaped:
    """``"..."`` with the bytes of ``special`` backslash-escaped, other printable
    ASCII as it is, and every other byte as a three-digit octal escape."""
    out = ['"']
    for b in value.encode("utf-8"):
        c = chr(b)
        if c in special:
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return Escaped("".join(out))


def c_string(value: str) -> Escaped:
    """A C string literal; every non-printable or non-ASCII byte as an octal escape
    (``?`` too, so no trigraph can form)."""
    return _quoted(value, '"\\?')


def as_string(value: str) -> Escaped:
    """A GNU as string (``.asciz``, ``.incbin``): printable ASCII as it is, ``"``
    and ``\\`` escaped, every other byte as a three-digit octal escape."""
    return _quoted(value, '"\\')


def c_comment(value: str) -> Escaped:
    """Text inside a C ``/* */`` comment, on one line: every character that is
    not printable ASCII, and the backslash, as a visible escape (``\\n``,
    ``\\x1b``, ``\\u00e9``), and ``*/`` and ``/*`` broken apart, so the text can
    neither end the comment, nor start a line, nor splice the next one."""
    out = []
    for c in value:
        if c == "\\":
            out.append("\\\\")
        elif " " <= c <= "~":
            out.append(c)
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    text = "".join(out)
    while "*/" in text or "/*" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *")
    return Escaped(text)


def c_ident(value: str) -> Escaped:
    if not C_IDENT.match(value):
        raise Unrepresentable(f"`{value}` is not a C identifier")
    return Escaped(value)


def json_value(value: object) -> Escaped:
    return Escaped(json.dumps(value, ensure_ascii=False))


def json_document(value: object) -> Escaped:
    """A whole JSON document, indented."""
    return Escaped(json.dumps(value, indent=2, ensure_ascii=False))
