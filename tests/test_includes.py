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


def _libs_project(root: Path, beta_requires: str) -> Path:
    """alpha publishes include/alpha.h; beta's source includes it; the app uses both."""
    for name, provides, requires, body in [
        ("alpha", "demo.alpha", "", "int alpha_value(void) { return ALPHA; }\n"),
        ("beta", "demo.beta", beta_requires,
         "int beta_value(void) { return ALPHA + 1; }\n")]:
        lib = root / "lib" / name
        (lib / "src").mkdir(parents=True)
        (lib / "src" / f"{name}.c").write_text('#include "alpha.h"\n' + body)
        reqs = f"    requires = [{requires}];\n" if requires else ""
        (lib / f"{name}.uni").write_text(
            f"construct {provides} \"{name}\";\n"
            f"library {name} {{\n    provides = [{provides}];\n{reqs}"
            f"    sources = [\"src/{name}.c\"];\n}}\n")
    (root / "lib" / "alpha" / "include").mkdir()
    (root / "lib" / "alpha" / "include" / "alpha.h").write_text(
        "#pragma once\n#define ALPHA 41\nint alpha_value(void);\n")
    (root / "main.c").write_text('#include "alpha.h"\nint beta_value(void);\n'
                                 "int main(void) { return beta_value() - ALPHA - 1; }\n")
    spec = root / "app.uni"
    spec.write_text('import "lib/alpha/alpha.uni";\nimport "lib/beta/beta.uni";\n'
                    'app headers {\n    sources = ["main.c"];\n'
                    "    requires = [demo.alpha, demo.beta, console.lines];\n}\n")
    return spec


@needs_tools
def test_library_headers_are_seen_only_by_the_app_and_dependents(tmp_path: Path) -> None:
    # beta does not depend on alpha: alpha's public header is not on its include path
    spec = _libs_project(tmp_path / "p1", "")
    r = unilang("build", str(spec), "-o", str(tmp_path / "out1"))
    assert r.returncode == 1
    assert "error[U0201]" in r.stderr
    assert "src/lib/beta/src/beta.c:1:10: fatal error: alpha.h: No such file or directory" \
        in r.stderr
    # once beta requires what alpha provides, it sees the header; the app always does
    spec = _libs_project(tmp_path / "p2", "demo.alpha")
    out = tmp_path / "out2"
    r = unilang("build", str(spec), "-o", str(out))
    assert r.returncode == 0, r.stderr
    ninja = (out / "build.ninja").read_text()
    assert "build obj/lib/beta/src/beta.c.o: cc src/lib/beta/src/beta.c | toolchain.id\n" \
           "  incflags = -Ilibinc/alpha\n" in ninja
    # the app sees every selected library's public headers
    assert "build obj/app/main.c.o: cc src/app/main.c | toolchain.id\n" \
           "  incflags = -Ilibinc/alpha -Ilibinc/conio\n" in ninja
