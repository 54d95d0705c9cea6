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


CLI_DOC = ROOT / "docs" / "cli.md"
FIXTURES = ROOT / "tests" / "fixtures" / "cli"


def cli_examples() -> list[tuple[str, str]]:
    doc = CLI_DOC.read_text(encoding="utf-8")
    out = []
    for blk in re.finditer(r"```console\n(.*?)```", doc, re.S):
        base = doc.count("\n", 0, blk.start()) + 2
        for part in re.split(r"^\$ ", blk.group(1), flags=re.M)[1:]:
            out.append((f"cli.md:{base}", part))
    return out


CLI_CASES = cli_examples()


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    d = tmp_path_factory.mktemp("cli")
    for f in FIXTURES.iterdir():
        shutil.copy(f, d / f.name)
    for f in ("hello.uni", "hello.c"):
        shutil.copy(ROOT / "examples" / "hello" / f, d / f)
    return d


@pytest.mark.parametrize("where,example", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_example(where: str, example: str, cli_dir: Path) -> None:
    import shlex
    import shutil
    import subprocess

    lines = example.splitlines()
    argv = shlex.split(lines[0])
    assert argv[0] == "unilang"
    if argv[1] in ("build", "run") and not (shutil.which("gcc") and shutil.which("ld")):
        pytest.skip("gcc and GNU ld are needed")
    if argv[1] == "run" and not shutil.which("qemu-system-x86_64"):
        pytest.skip("QEMU is needed")
    if "svg" in argv and not shutil.which("dot"):
        pytest.skip("Graphviz is needed")
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "unilang", *argv[1:]], cwd=cli_dir, env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    real = [l.rstrip() for l in (p.stdout + p.stderr).splitlines()] + [f"[exit {p.returncode}]"]

    def printed(doc_line: str) -> bool:  # `<N>` in the docs stands for any number
        pattern = re.escape(doc_line.rstrip()).replace(re.escape("<N>"), r"\d+")
        return any(re.fullmatch(pattern, l) for l in real)

    missing = [l for l in lines[1:] if l.strip() and l.strip() != "..." and not printed(l)]
    assert not missing, f"{where} `{lines[0]}`: documented but not printed:\n" + "\n".join(
        missing) + "\n---\n" + p.stdout + p.stderr


FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)


def test_file_blocks_are_the_files_they_name() -> None:
    """A block marked `<!-- file: PATH -->` shows PATH exactly (section 15 shows
    the example project this way)."""
    blocks = FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert {p for p, _ in blocks} >= {"examples/project/apps/one/one.uni",
                                       "examples/project/common/lib/greeter/greeter.uni",
                                       "examples/project/common/lib/greeter/include/greeter.h"}
    for path, text in blocks:
        assert (ROOT / path).read_text(encoding="utf-8") == text, path
