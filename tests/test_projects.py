"""Issue 14: a project root above the spec.  The nearest folder at or above the
spec's that holds `unilang.toml` is the project root: imports (and sources)
may reach any file below it, and nothing outside it (U0021, U0041)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from support import ROOT, needs_qemu, needs_tools, unilang
from unilang.cli import main

COMMON = 'construct greet.hello "Say hello";\nlibrary greeter {\n    provides = [greet.hello];\n}\n'


def layout(tmp: Path, marker: bool) -> Path:
    (tmp / "common").mkdir()
    (tmp / "common" / "greet.uni").write_text(COMMON)
    app = tmp / "apps" / "one"
    app.mkdir(parents=True)
    (app / "main.c").write_text("int main(void) { return 0; }\n")
    spec = app / "one.uni"
    spec.write_text('import "../../common/greet.uni";\n'
                    'app one {\n    sources = ["main.c"];\n'
                    '    requires = [console.lines, greet.hello];\n}\n')
    if marker:
        (tmp / "unilang.toml").write_text("")
    return spec


def check(spec: Path) -> tuple[int, list[dict]]:
    r = CliRunner().invoke(main, ["check", str(spec), "--format", "json"])
    return r.exit_code, json.loads(r.stdout)["diagnostics"]


def test_without_a_marker_the_root_is_the_spec_folder(tmp_path: Path) -> None:
    code, d = check(layout(tmp_path, marker=False))
    assert code == 1
    assert (d[0]["code"], d[0]["message"]) == (
        "U0021", "import `../../common/greet.uni` resolves outside the project root")


def test_a_marker_above_the_spec_makes_a_shared_module_importable(tmp_path: Path) -> None:
    code, d = check(layout(tmp_path, marker=True))
    assert (code, d) == (0, [])


def test_imports_stay_inside_the_project_root(tmp_path: Path) -> None:
    spec = layout(tmp_path / "proj", marker=True) if (tmp_path / "proj").mkdir() is None else None
    assert spec is not None
    (tmp_path / "outside.uni").write_text(COMMON.replace("greeter", "other"))
    spec.write_text('import "../../../outside.uni";\n' + spec.read_text())
    code, d = check(spec)
    assert code == 1
    assert d[0]["code"] == "U0021"
    (note,) = d[0]["notes"]  # the root as the other module names are shown: from the cwd
    assert note.startswith("imports may only name files below the project root ")
    assert note.endswith(f"{tmp_path.name}/proj (where unilang.toml is)")


def test_adding_the_marker_is_seen_by_the_cached_check(tmp_path: Path) -> None:
    spec = layout(tmp_path, marker=False)
    assert check(spec)[0] == 1
    (tmp_path / "unilang.toml").write_text("")
    assert check(spec) == (0, [])


@needs_qemu
@needs_tools
def test_the_example_project_builds_and_boots_both_apps(tmp_path: Path) -> None:
    """examples/project (docs/language.md, section 15): two apps below one
    unilang.toml share a library by a path import; each prints its greeting."""
    for app in ("one", "two"):
        spec = ROOT / "examples" / "project" / "apps" / app / f"{app}.uni"
        r = unilang("run", str(spec), "-o", str(tmp_path / app), "--timeout", "120")
        assert (r.returncode, r.stdout) == (0, f"Hello from {app}!\n"), r.stderr
