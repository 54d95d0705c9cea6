"""Backends are data: a backend is a folder, found by discovery (docs/build.md,
"Adding a backend")."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from support import ROOT, needs_qemu, needs_tools, unilang


def _copy_backend(tmp_path: Path, new: str) -> Path:
    """A checkout with backends/kvm copied to backends/NEW, renamed inside its files."""
    from test_build import _checkout_copy

    root = _checkout_copy(tmp_path / "checkout")
    dest = root / "backends" / new
    shutil.copytree(root / "backends" / "kvm", dest)
    for f in sorted(dest.rglob("*")):
        if f.is_file() and f.suffix in (".uni", ".toml", ".j2"):
            f.write_text(re.sub(r"\bkvm\b", new, f.read_text()))
    return root


def test_nothing_in_the_compiler_names_a_backend() -> None:
    """`kvm` is also QEMU's accelerator, which run.py rightly names; `xen` is
    only ever a backend, and no line compares a backend with a name."""
    offenders = []
    for f in sorted((ROOT / "unilang").rglob("*.py")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            literal = re.search(r"""["'](kvm|xen)["']""", code)
            if literal and (literal.group(1) == "xen" or "backend" in code.lower()):
                offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@needs_tools
@needs_qemu
def test_a_copied_backend_checks_builds_and_boots_with_no_python_change(tmp_path: Path) -> None:
    root = _copy_backend(tmp_path, "cloud")
    env = dict(os.environ, PYTHONPATH=str(root), NO_COLOR="1")
    r = unilang("check", "examples/hello/hello.uni", "-b", "cloud", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok: app `hello` checks clean for cloud\n"
    r = unilang("check", "examples/hello/hello.uni", cwd=root, env=env)  # `all` includes it
    assert r.stdout == "ok: app `hello` checks clean for cloud, kvm, xen\n", r.stderr
    r = unilang("build", "examples/hello/hello.uni", "-b", "cloud", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    out = root / "build" / "hello" / "cloud"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".unilang-output", "build.ninja", "firecracker.json", "hello.debug.elf", "hello.elf", "image.lds",
         "libvirt.xml", "manifest.json", "qemu.json", "run-qemu.sh", "unilang_init.c",
         "unilang_params.h"])
    assert '"backend": "cloud"' in (out / "manifest.json").read_text()
    r = unilang("run", "examples/hello/hello.uni", "-b", "cloud", "--timeout", "60", cwd=root,
                env=env)
    assert (r.stdout, r.returncode) == ("Hello from unilang!\n", 0), r.stderr


@pytest.mark.parametrize("damage,message", [
    ("rm image.lds.j2", "`backends/cloud/image.lds.j2` is missing"),
    ("rm backend.toml", "`backends/cloud/backend.toml` is missing"),
    ("toml name = [", "backends/cloud/backend.toml is not valid TOML: "),
    ("toml name = \"other\"", "backends/cloud/backend.toml says `name = 'other'`, but its folder "
                             "is `cloud`"),
    ("rm firecracker.json.j2", "backends/cloud/backend.toml emits `firecracker.json`, but "
                               "neither backends/cloud/firecracker.json.j2 nor "
                               "stdlib/templates/firecracker.json.j2 exists"),
    ("add stray.txt.j2", "backends/cloud/stray.txt.j2 is not rendered: add `stray.txt` to "
                         "`emits` in backends/cloud/backend.toml, or remove it"),
])
def test_a_backend_folder_missing_a_piece_is_a_diagnostic(tmp_path: Path, damage: str,
                                                          message: str) -> None:
    root = _copy_backend(tmp_path, "cloud")
    dest = root / "backends" / "cloud"
    verb, arg = damage.split(" ", 1)
    if verb == "rm":
        (dest / arg).unlink()
    elif verb == "add":
        (dest / arg).write_text("x\n")
    else:
        toml = (dest / "backend.toml").read_text()
        (dest / "backend.toml").write_text(re.sub(r'^name = .*$', arg, toml, flags=re.M))
    env = dict(os.environ, PYTHONPATH=str(root), NO_COLOR="1")
    r = unilang("check", "examples/hello/hello.uni", "-b", "cloud", cwd=root, env=env)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error[U0207]: backend `cloud` cannot be used: {message}"), \
        r.stderr
    assert "U0999" not in r.stderr and "Traceback" not in r.stderr
    # the other backends are unaffected
    r = unilang("check", "examples/hello/hello.uni", "-b", "kvm", cwd=root, env=env)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("library, codes", [("xen-shutdown", []), ("no-such-lib", ["U0031"])])
def test_other_backends_are_read_only_for_a_use_that_needs_them(
        tmp_path: Path, library: str, codes: list[str]) -> None:
    """`use` of a library only another backend declares applies there and is
    skipped here; the other backends' modules are read (and the check's result
    depends on them) only when such a `use` asks, not on every check."""
    from unilang.driver import Session, check_spec

    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    plain = tmp_path / "plain.uni"
    plain.write_text('app a { sources = ["main.c"]; requires = [console]; }\n')
    session, _ = check_spec(plain, ["kvm"], Session())
    assert [d.code for d in session.sink.items if d.is_error] == []
    xen_module = str(ROOT / "backends" / "xen" / "lib" / "xen-shutdown" / "xen-shutdown.uni")
    assert xen_module not in session.reads
    # a `use` and a `set` of this backend's own libraries do not ask either
    local = tmp_path / "local.uni"
    local.write_text('app a { sources = ["main.c"]; requires = [console, shutdown];\n'
                     '  use qemu-exit for shutdown; set uart16550.baud = 9600; }\n')
    session, _ = check_spec(local, ["kvm"], Session())
    assert [d.code for d in session.sink.items if d.is_error] == []
    assert xen_module not in session.reads
    spec = tmp_path / "use.uni"
    spec.write_text('app a { sources = ["main.c"]; requires = [console, shutdown];\n'
                    f'  use {library} for shutdown; }}\n')
    session, _ = check_spec(spec, ["kvm"], Session())
    assert [d.code for d in session.sink.items if d.is_error] == codes
    assert xen_module in session.reads
