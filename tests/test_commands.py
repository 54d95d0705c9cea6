"""`graph`, `why`, `run --timeout`, and the installed (non-editable) package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, unilang

HELLO = ROOT / "examples" / "hello" / "hello.uni"


def test_why_selected_library_shows_chain_with_lines() -> None:
    r = unilang("why", "examples/hello/hello.uni", "uart16550", "--backend", "kvm")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "`uart16550` is in the image for backend kvm:\n"
        "  app hello\n"
        "    requires console.lines  (examples/hello/hello.uni:5:17)\n"
        "  conio  (provides console.lines)\n"
        "    requires console  (stdlib/lib/conio/conio.uni:4:17)\n"
        "  uart16550  (provides console)\n")


@pytest.mark.parametrize("lib,backend,reason", [
    ("heap", "kvm", "not reached from the app"),
    ("uart16550", "xen", None),
    ("virtio-net", "xen", "unsupported on backend `xen` (supports kvm)"),
])
def test_why_not(lib: str, backend: str, reason: str | None) -> None:
    r = unilang("why", "examples/hello/hello.uni", lib, "--backend", backend)
    if reason is None:  # a library only the other backend declares: say where it is
        assert r.returncode == 0
        assert r.stdout == ("`uart16550` is not in the image for backend xen: the library "
                            "exists only on backend kvm\n  = help: try `-b kvm`\n")
    else:
        assert r.returncode == 0
        assert r.stdout == f"`{lib}` is not in the image for backend {backend}: {reason}\n"


def test_why_lost_provider_choice(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text("int main(void){return 0;}\n")
    spec = tmp_path / "a.uni"
    spec.write_text('construct t.x;\nlibrary one { provides = [t.x]; default = true; }\n'
                    'library two { provides = [t.x]; }\n'
                    'app a { sources = ["main.c"]; requires = [t.x]; }\n')
    r = unilang("why", str(spec), "two")
    assert r.stdout == "`two` is not in the image for backend kvm: not chosen: `one` provides `t.x` instead\n"
    dot = unilang("graph", str(spec)).stdout
    assert '"app a" -> "one" [label="t.x"];' in dot
    assert '"app a" -> "two" [label="t.x", style=dashed, color=grey, fontcolor=grey];' in dot


def test_graph_formats() -> None:
    dot = unilang("graph", "examples/hello/hello.uni").stdout
    assert dot.startswith('digraph "hello-kvm" {\n')
    assert '"app hello" -> "pvh" [label="boot"];' in dot
    assert '"heap" [style=dashed, color=grey, fontcolor=grey, tooltip="not reached from the app"];' in dot
    data = json.loads(unilang("graph", "examples/hello/hello.uni", "--format", "json").stdout)
    assert {"from": "conio", "to": "uart16550", "construct": "console",
            "at": "stdlib/lib/conio/conio.uni:4:17"} in data["edges"]
    text = unilang("graph", "examples/hello/hello.uni", "--format", "text").stdout
    assert "  conio --console--> uart16550\n" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg(tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    r = unilang("graph", "examples/hello/hello.uni", "--format", "svg", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_graph_svg_without_graphviz(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no `dot` anywhere
    r = subprocess.run([sys.executable, "-m", "unilang", "graph", "examples/hello/hello.uni",
                        "--format", "svg"], cwd=ROOT, env=env, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 1
    assert "needs Graphviz's `dot`" in r.stderr and "apt-get install graphviz" in r.stderr


@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is needed")
def test_run_kills_a_hung_guest(tmp_path: Path) -> None:
    r = unilang("run", "tests/apps/hang/hang.uni", "--timeout", "3", "-o", str(tmp_path / "o"))
    assert r.returncode == 124
    assert r.stdout == "spinning forever\n"
    assert "error[U0203]: the guest did not stop within 3 s and was killed" in r.stderr


def test_build_progress_is_streamed(tmp_path: Path) -> None:
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed")
    r = unilang("build", "examples/hello/hello.uni", "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    progress = [l for l in r.stderr.splitlines() if l.startswith("[")]
    assert progress[-1] == "[2/2] LD hello.elf hello.debug.elf"  # after the first link
    assert "LD unilang_pass1.elf" in progress[-3]
    assert r.stderr.rstrip().endswith("libraries)")


def test_installed_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    """A non-editable install carries grammar/, stdlib/ and backends/ inside the package."""
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(wheels), str(ROOT)], capture_output=True, text=True,
                       check=False, timeout=300)
    assert r.returncode == 0, r.stderr
    target = tmp_path / "site"
    wheel = next(wheels.glob("unilang-*.whl"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, check=False,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for init in (ROOT / "unilang").rglob("__init__.py"):
        pkg = ".".join(init.parent.relative_to(ROOT).parts)
        assert pkg in listed, f"{pkg} is missing from pyproject's packages"
    for data in ("grammar/unilang.lark", "stdlib/prelude.uni", "stdlib/lib/pvh/src/pvh_entry.S",
                 "stdlib/templates/pvh-image.lds.j2", "backends/kvm/backend.uni",
                 "backends/kvm/lib/uart16550/uart16550.uni", "stdlib/lib/heap/exports",
                 "stdlib/include/unilang/runtime.h", "stdlib/lib/printf/include/stdio.h",
                 "backends/xen/xl.cfg.j2"):
        assert (target / "unilang" / data).is_file(), data
    work = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "examples" / "hello", work / "hello")
    env = dict(os.environ, PYTHONPATH=str(target), UNILANG_NO_CACHE="1")
    probe = subprocess.run([sys.executable, "-c", "import unilang.paths as p; print(p.grammar_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == str(target / "unilang" / "grammar")
    r = unilang("check", "hello/hello.uni", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok: app `hello` checks clean for kvm, xen\n"
    if shutil.which("gcc") and shutil.which("ld"):
        r = unilang("build", "hello/hello.uni", "-o", "out", cwd=work, env=env)
        assert r.returncode == 0, r.stderr
        assert (work / "out" / "hello.elf").is_file()
