"""What several test modules share: the checkout root, running the CLI as a
whole process, and the markers for tests that need the build tools or QEMU."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

needs_tools = pytest.mark.skipif(
    not (shutil.which("gcc") and shutil.which("ld")), reason="gcc and GNU ld are needed")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is needed")


def imported_modules(stderr: str) -> set[str]:
    """The modules a process with ``PYTHONPROFILEIMPORTTIME=1`` (``-X importtime``)
    imported, read from its stderr."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def bench_gen() -> Any:
    """bench/gen.py (the bench's synthetic worlds), imported without leaving
    bench/ on ``sys.path``."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gen  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return gen


def unilang(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m unilang ARGS` in its own process, output captured as text."""
    return subprocess.run([sys.executable, "-m", "unilang", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def library_folders() -> dict[str, Path]:
    """Every library folder, found as the loader finds them: library name -> folder
    (stdlib/lib/<name>/ and backends/<backend>/lib/<name>/ of every backend)."""
    from unilang import libfolders

    out: dict[str, Path] = {}
    for root in [ROOT / "stdlib", *sorted(p for p in (ROOT / "backends").iterdir() if p.is_dir())]:
        for folder in libfolders.folders(root):
            out[folder.name] = folder
    return out


def library_sources() -> dict[str, list[Path]]:
    """library -> its source files, as its folder's `<name>.uni` lists them."""
    import re

    out: dict[str, list[Path]] = {}
    for name, folder in library_folders().items():
        text = (folder / f"{name}.uni").read_text()
        m = re.search(r"^\s*sources\s*=\s*\[(.*?)\];", text, re.S | re.M)
        out[name] = [folder / f for f in re.findall(r'"([^"]+)"', m.group(1))] if m else []
    return out


def include_flags() -> list[str]:
    """`-I` options that let any library source compile on its own: the core
    headers (stdlib's and every backend's include/) and every library's include/."""
    dirs = [ROOT / "stdlib" / "include", *sorted((ROOT / "backends").glob("*/include"))]
    dirs += [f / "include" for f in library_folders().values() if (f / "include").is_dir()]
    return [flag for d in dirs for flag in ("-I", str(d))]


def param_defines() -> dict[str, list[str]]:
    """library -> the -D options unilang_params.h would give its parameters at
    their defaults (the C has no defaults of its own), for every library of
    the stdlib and of every backend."""
    from unilang.cnames import param_macros
    from unilang.stdlibdoc import programs

    out: dict[str, list[str]] = {}
    for prog in programs().values():
        for name, lib in prog.libraries.items():
            defs = []
            for p in lib.params:
                members = p.type.members if p.type.kind == "enum" else None
                for m in param_macros(name, p.name, members):
                    v = p.default
                    if m.role == "member":
                        value = str(members.index(m.member))  # type: ignore[union-attr, arg-type]
                    elif m.role == "name":
                        value = f'"{v}"'
                    elif members is not None:
                        value = str(members.index(str(v)))
                    elif isinstance(v, bool):
                        value = "1" if v else "0"
                    elif isinstance(v, int):
                        value = f"({v}ULL)"
                    else:
                        value = f'"{v}"'
                    defs.append(f"-D{m.name}={value}")
            out.setdefault(name, defs)
    return out


#: ipv4's parameters as the generated header defines them by default, for host builds
IPV4_DEFINES = ['-DUNILANG_PARAM_IPV4_ADDRESS="10.0.2.15"',
                '-DUNILANG_PARAM_IPV4_NETMASK="255.255.255.0"',
                '-DUNILANG_PARAM_IPV4_GATEWAY="10.0.2.2"', "-DUNILANG_PARAM_IPV4_TTL=(64)"]


def ipv4_host_sources(tmp: Path) -> list[str]:
    """ipv4's sources for a host build (tests/host_c drivers): ipv4.c, the network
    policy's enforcement, and the policy table unilang generates for an app
    without network rules (it restricts nothing)."""
    from unilang.emit.netpolicy import table_lines
    from unilang.netrules import NetRules

    src = ROOT / "stdlib" / "lib" / "ipv4" / "src"
    table = tmp / "netpolicy_table.c"
    table.write_text("\n".join(table_lines(NetRules())))
    return [str(src / "ipv4.c"), str(src / "netpolicy.c"), str(table)]


def native_front(folder: Path, python_launcher: Path | None = None) -> Path:
    """unilang's native front compiled to ``folder/unilang``, exec'ing
    ``python_launcher`` (default: the Python launcher, written beside it)."""
    from unilang import launcher, nativefront

    folder.mkdir(parents=True, exist_ok=True)
    if python_launcher is None:
        python_launcher = folder / "unilang-py"
        assert launcher.install(str(python_launcher))
    front = folder / "unilang"
    why = nativefront.compile_front(str(front), str(python_launcher))
    assert why is None, why
    return front
