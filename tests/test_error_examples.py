"""Every diagnostic code `unilang check` can produce has an example in examples/errors.

Each example spec starts with annotations, one per expected diagnostic:

    # expect: CODE SEVERITY LINE:COL MESSAGE
    # expect: CODE SEVERITY path/relative/to/examples/errors:LINE:COL MESSAGE
    # backend: kvm            (optional; default: check with --backend all)

An example is either ``examples/errors/<code>-<slug>.uni`` or, when it needs
supporting files, ``examples/errors/<code>-<slug>/main.uni``.  The check runs
in-process (click's CliRunner) from ``examples/errors``, so file names in the
diagnostics are relative to that folder, and must produce exactly the
annotated diagnostics: no more, no fewer, warnings included.

Every code `unilang check` can produce (U0001 to U0199: input, modules,
definitions, resolution and warnings) needs an example; the U02xx build and
run codes and U0999 (internal error) are out of scope.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unilang.cli import main
from unilang.codes import CODES, markdown

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "errors"

EXPECT = re.compile(r"^# expect: (U\d{4}) (error|warning) (?:(\S+):)?(\d+):(\d+) (.*)$")
BACKEND = re.compile(r"^# backend: (\w+)\s*$")
NAME = re.compile(r"^(U\d{4})-[a-z0-9]+(-[a-z0-9]+)*$")

#: Codes from U0001 to U0199 that no example can produce, with the reason.
UNREACHABLE: dict[str, str] = {
    "U0047": "library folders are only discovered below stdlib/lib and backends/<b>/lib, "
             "which an example spec cannot add to; tests/test_libraries.py damages a copy "
             "of the checkout instead",
}


def example_specs() -> list[Path]:
    top = sorted(p for p in EXAMPLES.glob("*.uni") if p.is_file())
    nested = sorted(EXAMPLES.glob("*/main.uni"))
    return top + nested


def example_name(spec: Path) -> str:
    return spec.stem if spec.parent == EXAMPLES else spec.parent.name


def spec_arg(spec: Path) -> str:
    return spec.relative_to(EXAMPLES).as_posix()


Expected = tuple[str, str, str, int, int, str]


def annotations(spec: Path) -> tuple[set[Expected], str, int]:
    """(expected diagnostics, backend, number of annotation lines)."""
    text = spec.read_bytes().decode("utf-8", errors="replace")
    expected: set[Expected] = set()
    backend = "all"
    count = 0
    for line in text.splitlines():
        m = EXPECT.match(line)
        if m:
            code, sev, file, ln, col, msg = m.groups()
            expected.add((code, sev, file or spec_arg(spec), int(ln), int(col), msg))
            count += 1
            continue
        b = BACKEND.match(line)
        if b:
            backend = b.group(1)
    return expected, backend, count


SPECS = example_specs()


def run_check(spec: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict]:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.setenv("NO_COLOR", "1")
    result = CliRunner().invoke(
        main, ["check", spec_arg(spec), "--format", "json", "--backend", backend])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("spec", SPECS, ids=[example_name(s) for s in SPECS])
def test_example(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected, backend, count = annotations(spec)
    assert count, f"{spec} has no `# expect:` annotation"
    assert count == len(expected), f"{spec} repeats an annotation"
    code, doc = run_check(spec, backend, monkeypatch)
    got: set[Expected] = set()
    for d in doc["diagnostics"]:
        s = d["span"]
        assert s is not None, f"diagnostic without a span: {d}"
        got.add((d["code"], d["severity"], s["file"], s["line"], s["column"], d["message"]))
    assert got == expected
    has_error = any(sev == "error" for _c, sev, *_ in expected)
    assert code == (1 if has_error else 0)
    assert doc["ok"] is (not has_error)


def test_example_names() -> None:
    """Names are `<code>-<slug>`, and the code is one the example produces."""
    for spec in SPECS:
        name = example_name(spec)
        m = NAME.match(name)
        assert m, f"{name}: not of the form U0000-some-slug"
        expected, _backend, _count = annotations(spec)
        assert m.group(1) in {e[0] for e in expected}, f"{name} does not produce {m.group(1)}"


def _in_scope(code: str) -> bool:
    return "U0001" <= code <= "U0199"


def test_every_code_has_an_example() -> None:
    produced = {e[0] for spec in SPECS for e in annotations(spec)[0]}
    named = {example_name(spec)[:5] for spec in SPECS}
    in_scope = {c for c in CODES if _in_scope(c)}
    missing = sorted(in_scope - named - set(UNREACHABLE))
    assert not missing, f"codes without an example: {missing}"
    assert not (set(UNREACHABLE) & named), "a code listed as unreachable has an example"
    assert produced <= set(CODES), f"unknown codes in annotations: {produced - set(CODES)}"
    # the catalogue's severity is the one the examples see
    for spec in SPECS:
        for code, sev, *_ in annotations(spec)[0]:
            assert CODES[code].severity == sev, f"{spec.name}: {code} is a {CODES[code].severity}"


def test_unreachable_reasons() -> None:
    for code, reason in UNREACHABLE.items():
        assert code in CODES and _in_scope(code) and reason


def test_diagnostics_doc_is_generated() -> None:
    doc = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "unilang.codes"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert doc == out, "docs/diagnostics.md is stale: run " \
                       "`python -m unilang.codes > docs/diagnostics.md`"
    assert out == markdown()
