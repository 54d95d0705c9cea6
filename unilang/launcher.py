"""The `unilang` launcher that `make setup` puts over pip's console script.

pip's script starts Python with its ``site`` module: it reads the venv's
configuration and runs every ``.pth`` file in site-packages (setuptools'
``distutils-precedence.pth`` imports a module of its own), 3-6 ms before
unilang's first line.  The early paths (an up-to-date `build`, and `run`,
which starts QEMU from there) need nothing from site-packages, so this
launcher starts Python with ``-S`` and puts only unilang's own folder on
``sys.path``; ``unilang.entry.main(load_site=True)`` runs ``site.main()``
(what ``-S`` skipped) before it imports the full CLI, which needs click and
the rest of site-packages.

    python -m unilang.launcher PATH     # write the launcher to PATH

`make setup` writes it as ``.venv/bin/unilang-py``, behind the native front
(``unilang.nativefront``), or as ``.venv/bin/unilang`` when the front cannot
be compiled.

The launcher is written only when its ``#!`` line can carry the
interpreter's path (no spaces, within the kernel's 255 bytes); otherwise
pip's script stays, which works the same, only slower to start.
"""

from __future__ import annotations

import os
import sys

SHEBANG_MAX = 255  # bytes the kernel reads of a `#!` line (BINPRM_BUF_SIZE - 1 on Linux < 5.1)

TEMPLATE = """#!{python} -S
# unilang's launcher (unilang/launcher.py, written by `make setup` over pip's
# console script): Python without `site` (-S); unilang.entry loads it before
# the full CLI, the early paths of `build` and `run` do not need it.
import sys

sys.path.append({root!r})
from unilang.entry import main

if __name__ == "__main__":
    sys.exit(main(load_site=True))
"""


def script(python: str, root: str) -> str | None:
    """The launcher's text for interpreter ``python`` and unilang's parent folder
    ``root``, or None when ``python`` cannot stand on a ``#!`` line."""
    line = f"#!{python} -S"
    if not os.path.isabs(python) or any(c.isspace() for c in python) or \
            len(line.encode()) > SHEBANG_MAX:
        return None
    return TEMPLATE.format(python=python, root=root)


def install(path: str, python: str | None = None) -> bool:
    """Write the launcher to ``path`` (atomically, mode 0755); False when it
    cannot be written for this interpreter (pip's script is then kept)."""
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    text = script(python or sys.executable, root)
    if text is None:
        return False
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m unilang.launcher PATH\n")
        return 2
    if install(argv[0]):
        sys.stderr.write(f"unilang launcher: wrote {argv[0]}\n")
    else:
        sys.stderr.write(f"unilang launcher: kept {argv[0]} ({sys.executable} cannot stand "
                         "on a #! line)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
