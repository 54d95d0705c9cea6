"""The documentation's examples are real: every `.uni` snippet in docs/language.md
marked `<!-- verify: ok -->` checks clean, every one marked `<!-- verify: error CODES -->`
gives exactly those codes, and the output shown after a snippet is what `check` prints."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unilang.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
SNIPPET = re.compile(r"<!-- verify: (.*?) -->\n```uni\n(.*?)```\n", re.S)


def snippets() -> list[tuple[str, str, str]]:
    doc = DOC.read_text(encoding="utf-8")
    out = []
    for m in SNIPPET.finditer(doc):
        rest = doc[m.end():]
        shown = ""
        nb = re.match(r"\s*(?:<!--.*?-->\s*)?```(console|)\n(.*?)```", rest, re.S)
        if nb and not rest.lstrip().startswith(("```uni", "```c")):
            shown = nb.group(2)
        line = doc.count("\n", 0, m.start()) + 1
        out.append((f"language.md:{line}", m.group(1), m.group(2) + "\0" + shown))
    return out


CASES = snippets()


def test_there_are_verified_snippets() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("where,spec,body", CASES, ids=[c[0] for c in CASES])
def test_snippet(where: str, spec: str, body: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    src, shown = body.split("\0")
    words = spec.split()
    name = re.search(r"^app ([A-Za-z0-9_-]+)", src, re.M)
    fn = f"{name.group(1) if name else 'noapp'}.uni"
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ring.c").write_text("int ring;\n")
    (tmp_path / fn).write_text(src, encoding="utf-8")
    args = ["check", fn]
    for w in words:
        if w.startswith("backend="):
            args += ["--backend", w.split("=", 1)[1]]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    result = CliRunner().invoke(main, args)
    out = result.stdout + result.stderr
    codes = set(re.findall(r"(?:error|warning)\[(U\d+)\]", out))
    if words[0] == "ok":
        assert result.exit_code == 0 and not codes, out
    else:
        assert codes == {w for w in words[1:] if w.startswith("U")}, out
        assert result.exit_code == 1, out
    real = {l.rstrip() for l in out.splitlines()}
    missing = [l for l in shown.splitlines()
               if l.strip() and l.strip() != "..." and not l.startswith("$ ")
               and l.rstrip() not in real]
    assert not missing, f"{where}: shown but not printed:\n" + "\n".join(missing) + "\n---\n" + out
