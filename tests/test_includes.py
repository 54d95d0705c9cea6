"""Issue 14: `includes = ["inc", ...]` on apps and libraries: folders confined to
the spec's root like sources, their headers copied into the build's work tree
and added with `-I`, and an edited or added header seen by the up-to-date check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from support import needs_tools, unilang
from unilang.cli import main

MAIN = '#include <unilang/runtime.h>\n#include "answer.h"\n#include "inc/answer.h"\n' \
       'int main(void) { return ANSWER - 42; }\n'


def project(tmp: Path, includes: str = '["inc"]') -> Path:
    (tmp / "inc").mkdir(exist_ok=True)
    (tmp / "inc" / "answer.h").write_text("#pragma once\n#define ANSWER 42\n")
    (tmp / "main.c").write_text(MAIN)
    spec = tmp / "app.uni"
    spec.write_text('app inc {\n    sources = ["main.c"];\n    includes = ' + includes + ';\n'
                    '    requires = [console.lines];\n}\n')
    return spec


def diags(spec: Path) -> list[dict]:
    r = CliRunner().invoke(main, ["check", str(spec), "--format", "json"])
    return json.loads(r.stdout)["diagnostics"]


def test_include_folders_are_checked_like_sources(tmp_path: Path) -> None:
    assert diags(project(tmp_path)) == []
    d = diags(project(tmp_path, '["../inc"]'))
    assert [x["message"] for x in d] == ["include folder `../inc` is not allowed: it contains `..`"]
    d = diags(project(tmp_path, '["./inc"]'))
    assert [(x["message"], x["help"]) for x in d] == [
        ("include folder `./inc` is not allowed: it starts with `./`", "write `inc`")]
    d = diags(project(tmp_path, '["include"]'))
    assert [x["message"] for x in d] == ["include folder `include` does not exist or is not a folder"]
    d = diags(project(tmp_path, '["main.c"]'))
    assert [x["message"] for x in d] == ["include folder `main.c` does not exist or is not a folder"]
    d = diags(project(tmp_path, '["inc", "inc"]'))
    assert [x["message"] for x in d] == ["include folder `inc` is listed more than once in `includes`"]


def test_include_folder_link_outside_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    spec = project(app, '["out"]')
    (app / "out").symlink_to(outside)
    d = diags(spec)
    assert [x["message"] for x in d] == [
        f"include folder `out` resolves outside the spec's directory: its real path is {outside}"]


@needs_tools
def test_include_folder_reaches_the_compiler_and_edits_are_seen(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    spec = project(app)
    out = tmp_path / "out"
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 0, r.stderr
    manifest = (out / "manifest.json").read_text()
    assert "src/app/inc/answer.h" in manifest
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 0 and "up to date" in r.stderr
    # an edited header is seen: here it breaks the compile
    (app / "inc" / "answer.h").write_text("#pragma once\n#define ANSWER (\n")
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 1 and "error[U0201]" in r.stderr
    # a header added to the folder is seen too
    (app / "inc" / "answer.h").write_text('#pragma once\n#include "more.h"\n')
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 1
    (app / "inc" / "more.h").write_text("#define ANSWER 42\n")
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "src/app/inc/more.h" in (out / "manifest.json").read_text()
    shutil.rmtree(out)
