"""The jinja2 environment for unilang's templates.

Every ``{{ ... }}`` must produce an ``Escaped`` string (made by a filter of
``unilang.emit.escape``) or an int: ``finalize`` refuses anything else, so
a template can never interpolate a raw value by mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import escape as E


def checked(value: Any) -> Any:
    """``value`` if it may be written into a generated file (escaped, or an
    int); TypeError otherwise.  Templates and ``cgen`` both use it."""
    if isinstance(value, bool):
        raise TypeError("booleans must be rendered explicitly in templates")
    if isinstance(value, (E.Escaped, int)):
        return value
    raise TypeError(f"unescaped value {value!r} reached a template; use an escaping filter")


def environment(search: list[Path]) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        finalize=checked,
    )
    env.filters.update({
        "sh": E.shell, "xl": E.xl_string, "xml": E.xml_text, "ninja": E.ninja_path,
        "word": E.ninja_word, "nsh": E.ninja_shell_word, "sym": E.lds_symbol, "comment": E.lds_comment,
        "cstr": E.c_string, "asstr": E.as_string, "ident": E.c_ident, "json": E.json_value, "jsondoc": E.json_document,
    })
    return env


def render(search: list[Path], template: str, /, **context: Any) -> str:
    return str(environment(search).get_template(template).render(**context))
