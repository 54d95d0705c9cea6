"""unilang's native front: `make setup` compiles ``unilang/native/front.c``
to ``.venv/bin/unilang``, with the Python launcher (``unilang.launcher``)
beside it as ``unilang-py``.

Python's own start (~10 ms) is time an up-to-date `unilang run` spends
before it can start QEMU.  The front starts QEMU paused on the image a plain
`run` most likely boots, then execs the Python launcher, which adopts that
QEMU (``unilang.adopt``) or kills it; every other command goes straight to
the Python launcher.  When the front cannot be compiled (no C compiler, a
failed compile) the Python launcher is installed as ``unilang`` itself and
everything works as before, only without the head start.

    python -m unilang.nativefront PATH    # PATH-py and PATH (the front)

The setup-time facts the front needs are baked into it (``front_config.h``):
the Python launcher's path, ``paths.default_backend()`` and the backend
names.  A backend added or made default later only costs the head start
until the next `make setup` (Python checks every guess).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from . import ccenv, launcher
from .paths import backend_names, default_backend

SOURCE = os.path.join(os.path.dirname(os.path.realpath(__file__)), "native", "front.c")
CFLAGS = ("-O2", "-std=gnu11", "-Wall", "-Wextra")
SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:=@")


def c_string(value: str) -> str:
    """``value`` as a C string literal: every byte outside a small safe set as an
    octal escape (three digits, so a following digit cannot extend it)."""
    return '"' + "".join(chr(b) if chr(b) in SAFE else f"\\{b:03o}"
                         for b in os.fsencode(value)) + '"'


def config_header(python_launcher: str, backend: str, names: tuple[str, ...]) -> str:
    listed = "".join(f"{c_string(n)}, " for n in names)
    return ("/* written by unilang.nativefront at setup time */\n"
            f"#define UNILANG_PY {c_string(python_launcher)}\n"
            f"#define DEFAULT_BACKEND {c_string(backend)}\n"
            f"#define BACKENDS {listed}NULL\n")


def compile_front(dest: str, python_launcher: str, cc: str | None = None) -> str | None:
    """Compile the front to ``dest`` (atomically, mode 0755); None when done,
    else why not (``dest`` is then untouched).  ``cc``: the compiler, else
    what ``CC`` names, wrappers included (``unilang.ccenv``), else gcc."""
    if cc is not None:
        command = [cc]
    else:
        try:
            named = ccenv.compiler()
        except ccenv.CCProblem as exc:
            return exc.message
        gcc = shutil.which("gcc")
        if named is None and gcc is None:
            return "no C compiler (gcc) on PATH"
        command = [*named.wrapper, named.compiler] if named is not None else [gcc]
    shown = " ".join(command)
    # beside ``dest``: the compiled front is renamed into place, and a failed or
    # cut-short compile leaves nothing behind
    with tempfile.TemporaryDirectory(prefix=".unilang-front-",
                                     dir=os.path.dirname(os.path.abspath(dest))) as tmp:
        with open(os.path.join(tmp, "front_config.h"), "w", encoding="utf-8") as f:
            f.write(config_header(python_launcher, default_backend(), backend_names()))
        out = os.path.join(tmp, "unilang")
        try:
            r = subprocess.run([*command, *CFLAGS, "-I", tmp, "-o", out, SOURCE],
                               capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{shown} failed: {exc}"
        if r.returncode != 0:
            last = [line for line in r.stderr.splitlines() if line.strip()][-3:]
            return f"{shown} failed with status {r.returncode}" + \
                "".join(f"\n  {line}" for line in last)
        os.chmod(out, 0o755)
        os.replace(out, dest)
    return None


def install(path: str, python: str | None = None, cc: str | None = None) -> str:
    """The Python launcher at ``PATH-py`` and the front at ``path``; falls back
    to the Python launcher (or pip's script) at ``path``.  Returns what was done."""
    py = f"{path}-py"
    if not launcher.install(py, python):
        return f"kept {path} ({python or sys.executable} cannot stand on a #! line; no front)"
    why = compile_front(path, os.path.abspath(py), cc)
    if why is None:
        return f"wrote {path} (native front) and {py}"
    launcher.install(path, python)
    return f"wrote {path} as the Python launcher: the native front was not built: {why}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m unilang.nativefront PATH\n")
        return 2
    sys.stderr.write(f"unilang launcher: {install(argv[0])}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
