"""Hostile inputs: each gives a diagnostic and a clean exit status, never a traceback.

Also: internal errors (U0999, exit 3), usage errors (exit 2), the JSON
diagnostic format and --werror.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from unilang.cli import main
from unilang.front.source import read_source

ROOT = Path(__file__).resolve().parents[1]
HELLO = (ROOT / "examples/hello/hello.uni").read_text(encoding="utf-8")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def check(path: Path, *args: str):
    r = invoke("check", str(path), *args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


def check_json(path: Path, *args: str) -> tuple[int, dict]:
    r = check(path, "--format", "json", *args)
    return r.exit_code, json.loads(r.stdout)


def spec(tmp: Path, data: str | bytes, name: str = "app.uni") -> Path:
    (tmp / "hello.c").write_text("int main(void) { return 0; }\n")
    p = tmp / name
    if isinstance(data, str):
        p.write_text(data, encoding="utf-8", newline="")
    else:
        p.write_bytes(data)
    return p


def only(doc: dict) -> dict:
    assert len(doc["diagnostics"]) == 1, doc["diagnostics"]
    return doc["diagnostics"][0]


def pos(d: dict) -> tuple[int, int]:
    return d["span"]["line"], d["span"]["column"]


# ---------------------------------------------------------------- files that cannot be read

def test_missing_file(tmp_path: Path) -> None:
    r = check(tmp_path / "nope.uni")
    assert r.exit_code == 1
    assert "error[U0001]: cannot read `" in r.stderr and "nope.uni`: no such file" in r.stderr
    code, doc = check_json(tmp_path / "nope.uni")
    assert code == 1 and only(doc)["code"] == "U0001"


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.uni"
    link.symlink_to(tmp_path / "missing-target.uni")
    code, doc = check_json(link)
    assert code == 1
    d = only(doc)
    assert d["code"] == "U0001" and "no such file" in d["message"]


def test_directory_as_spec(tmp_path: Path) -> None:
    d = tmp_path / "dir.uni"
    d.mkdir()
    # a diagnostic like any other unreadable input, and exit 1
    r = check(d)
    assert r.exit_code == 1
    assert "error[U0001]" in r.stderr and "it is a directory" in r.stderr
    diag = read_source(d, "dir.uni")
    assert diag.code == "U0001" and diag.message == "cannot read `dir.uni`: it is a directory"


def test_directory_as_import(tmp_path: Path) -> None:
    (tmp_path / "sub.uni").mkdir()
    p = spec(tmp_path, 'import sub;\nimport "sub.uni";\n' + HELLO)
    code, doc = check_json(p, "-b", "kvm")
    assert code == 1
    # `import sub;` looks for a file sub.uni and finds none; the path form names
    # the directory itself, which cannot be read
    assert [(d["code"], d["span"]["line"]) for d in doc["diagnostics"]] == [
        ("U0020", 1), ("U0001", 2)]
    msg = doc["diagnostics"][1]["message"]
    assert msg.startswith("cannot read `") and msg.endswith("sub.uni`: it is a directory")


def _subprocess_check(path: Path) -> tuple[int, str]:
    """`unilang check` in a child process, so that a regression that blocks cannot hang
    the test run."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "unilang", "check", str(path), "--format",
                           "json"], capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.uni"
    os.mkfifo(fifo)
    code, out = _subprocess_check(fifo)
    assert code == 1
    d = only(json.loads(out))
    assert d["code"] == "U0001" and d["message"].endswith("pipe.uni`: it is not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_endless_device_is_refused(tmp_path: Path) -> None:
    code, out = _subprocess_check(Path("/dev/zero"))
    assert code == 1
    d = only(json.loads(out))
    assert d["code"] == "U0001" and d["message"] == "cannot read `/dev/zero`: it is not a regular file"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can read a file whatever its mode")
def test_unreadable_file(tmp_path: Path) -> None:
    p = spec(tmp_path, HELLO)
    p.chmod(0)
    try:
        code, doc = check_json(p)
    finally:
        p.chmod(0o644)
    assert code == 1
    d = only(doc)
    assert d["code"] == "U0001" and "permission denied" in d["message"]


# ---------------------------------------------------------------- bad bytes

def test_not_utf8(tmp_path: Path) -> None:
    p = spec(tmp_path, b'app x {\n  doc = "caf\xc3\xa9 \xff";\n}\n')
    code, doc = check_json(p)
    assert code == 1
    d = only(doc)
    assert d["code"] == "U0002"
    assert d["message"] == f"`{p}` is not valid UTF-8: byte 0xff at offset 23"
    # the column counts characters (é is one), like every other column
    assert pos(d) == (2, 15)
    assert d["help"] == "save the file as UTF-8"


def test_not_utf8_after_a_bom(tmp_path: Path) -> None:
    p = spec(tmp_path, b"\xef\xbb\xbfapp \xff {}\n")
    code, doc = check_json(p)
    d = only(doc)
    # the BOM is not part of the text, so not a column either (as for syntax errors)
    assert code == 1 and d["code"] == "U0002" and pos(d) == (1, 5)
    assert d["message"].endswith("byte 0xff at offset 7")


def test_truncated_utf8_at_end(tmp_path: Path) -> None:
    p = spec(tmp_path, b"app x {}\n\xe2\x82")
    code, doc = check_json(p)
    assert code == 1 and only(doc)["code"] == "U0002" and pos(only(doc)) == (2, 1)


def test_nul_byte(tmp_path: Path) -> None:
    p = spec(tmp_path, b'app x {\n  doc = "a\x00b";\n}\n')
    code, doc = check_json(p)
    assert code == 1
    d = only(doc)
    assert d["code"] == "U0003" and d["message"].endswith("contains a NUL byte")
    assert pos(d) == (2, 11)
    r = check(p)
    assert "error[U0003]" in r.stderr


def test_empty_file(tmp_path: Path) -> None:
    p = spec(tmp_path, b"")
    r = check(p)
    assert r.exit_code == 1
    assert "error[U0039]: `" in r.stderr and "app.uni` declares no app" in r.stderr
    code, doc = check_json(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0039" and pos(d) == (1, 1)


def test_only_comments_and_declarations(tmp_path: Path) -> None:
    p = spec(tmp_path, "# just a comment\nconstruct t.x;\n")
    code, doc = check_json(p)
    assert code == 1 and [d["code"] for d in doc["diagnostics"]] == ["U0039"]


# ---------------------------------------------------------------- huge and deep inputs

def _timed_check(p: Path, *args: str):
    t0 = time.monotonic()
    code, doc = check_json(p, "-b", "kvm", *args)
    assert time.monotonic() - t0 < 10
    return code, doc


def test_ten_megabytes_of_comments(tmp_path: Path) -> None:
    line = "# " + "c" * 97 + "\n"
    p = spec(tmp_path, HELLO + line * 100_000)
    assert p.stat().st_size >= 10_000_000
    code, doc = _timed_check(p)
    assert code == 0 and doc["diagnostics"] == []


def test_ten_megabytes_of_garbage(tmp_path: Path) -> None:
    p = spec(tmp_path, "@" * 10_000_000)
    code, doc = _timed_check(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0010" and d["message"] == "unexpected character `@`"


def test_syntax_error_after_ten_megabytes(tmp_path: Path) -> None:
    line = "# " + "c" * 97 + "\n"
    body = line * 100_000 + "".join(f"construct t.c{i};\n" for i in range(5_000))
    p = spec(tmp_path, body + "app {")
    assert p.stat().st_size >= 10_000_000
    code, doc = _timed_check(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0010" and pos(d) == (105_001, 5)


@pytest.mark.parametrize("text, column", [
    ("app x { doc = " + "[" * 10_000, 16),
    ("[" * 10_000, 1),
    ("{" * 10_000, 1),
    ("app x { device d " + "{" * 10_000, 19),
    ("app x { a = " + "(" * 10_000, 13),
])
def test_deep_nesting(tmp_path: Path, text: str, column: int) -> None:
    p = spec(tmp_path, text)
    code, doc = _timed_check(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0010" and pos(d) == (1, column)


def test_deep_nesting_text_output(tmp_path: Path) -> None:
    p = spec(tmp_path, "{" * 10_000 + "\n" + "]" * 10_000)
    r = check(p, "-b", "kvm")
    assert r.exit_code == 1 and "error[U0010]" in r.stderr and "RecursionError" not in r.output


def test_single_very_long_line(tmp_path: Path) -> None:
    hello = "\n".join(l for l in HELLO.splitlines() if not l.startswith("#"))
    text = hello.replace("\n", " ").replace('cmdline = "";', 'cmdline = "";' + " " * 1_000_000
                                              + "vcpus = 2;")
    p = spec(tmp_path, text)
    code, doc = _timed_check(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0033" and d["span"]["line"] == 1
    assert d["span"]["column"] > 1_000_000
    r = check(p, "-b", "kvm")
    # the renderer shows a window of the line, not a megabyte of it
    assert r.exit_code == 1 and len(r.stderr) < 5_000


def test_long_string(tmp_path: Path) -> None:
    p = spec(tmp_path, HELLO.replace('cmdline = ""', 'cmdline = "' + "a" * 100_000 + '"'))
    code, doc = _timed_check(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0044" and "longer than 2048 bytes" in d["message"]


# ---------------------------------------------------------------- line endings and BOM

def test_crlf_line_endings(tmp_path: Path) -> None:
    p = spec(tmp_path, HELLO.replace("\n", "\r\n"))
    r = check(p)
    assert r.exit_code == 0, r.output
    assert "ok: app `hello` checks clean for kvm, xen" in r.stdout
    bad = spec(tmp_path, "app x {\r\n  memory = 16 MiB\r\n  vcpus = 1;\r\n}\r\n", "bad.uni")
    code, doc = check_json(bad)
    d = only(doc)
    assert code == 1 and d["code"] == "U0010" and pos(d) == (3, 3)
    assert d["message"] == 'unexpected name `vcpus`, expected ";"'
    r = check(bad)
    assert "\r" not in r.stderr


def test_byte_order_mark(tmp_path: Path) -> None:
    p = spec(tmp_path, "\ufeff" + HELLO)
    r = check(p)
    assert r.exit_code == 0, r.output
    bad = spec(tmp_path, "\ufeffapp x { a = 1 }\n", "bad.uni")
    code, doc = check_json(bad)
    d = only(doc)
    # the BOM is not a column
    assert code == 1 and d["code"] == "U0010" and pos(d) == (1, 15)


def test_bom_in_the_middle_is_an_error(tmp_path: Path) -> None:
    p = spec(tmp_path, HELLO + "\ufeff")
    code, doc = check_json(p)
    d = only(doc)
    assert code == 1 and d["code"] == "U0010" and d["message"] == "unexpected character `\\u{feff}`"


# ---------------------------------------------------------------- internal errors, usage

def test_internal_error_is_u0999_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import unilang.check

    def boom(self):  # noqa: ANN001
        raise RuntimeError("boom")

    monkeypatch.setattr(unilang.check.Checker, "run", boom)
    p = spec(tmp_path, HELLO)
    for args in (["check", str(p)], ["resolve", str(p)], ["graph", str(p)],
                 ["why", str(p), "pvh"], ["check", str(p), "--format", "json"]):
        r = invoke(*args)
        assert isinstance(r.exception, SystemExit), repr(r.exception)
        assert r.exit_code == 3, (args, r.output)
        assert "error[U0999]: internal compiler error: RuntimeError: boom" in r.stderr
        assert "raised at test_inputs.py:" in r.stderr
        assert "Traceback" not in r.output


def test_recursion_error_is_u0999(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import unilang.resolve

    def deep(self):  # noqa: ANN001
        return deep(self)

    monkeypatch.setattr(unilang.resolve.Resolver, "run", deep)
    r = invoke("check", str(spec(tmp_path, HELLO)), "-b", "kvm")
    assert r.exit_code == 3
    assert "internal compiler error: recursion limit exceeded" in r.stderr


@pytest.mark.parametrize("args", [
    ["check", "--bogus", "x.uni"],
    ["check", "x.uni", "-b", "arm"],
    ["resolve", "x.uni", "-b", "all"],
    ["check"],
    ["check", "x.uni", "--format", "yaml"],
    ["frobnicate"],
    ["explain", "U9876"],
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    spec(tmp_path, HELLO, "x.uni")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        r = invoke(*args)
    finally:
        os.chdir(cwd)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


# ---------------------------------------------------------------- JSON and --werror

def test_json_diagnostic_fields(tmp_path: Path) -> None:
    p = spec(tmp_path, HELLO.replace("memory = 16 MiB;", "memory = 16 MiB;\n    memory = 32 MiB;"))
    code, doc = check_json(p)
    assert code == 1
    assert doc["spec"] == str(p) and doc["backends"] == ["kvm", "xen"] and doc["ok"] is False
    d = only(doc)
    assert set(d) >= {"code", "severity", "message", "span", "labels", "notes", "help"}
    assert d["code"] == "U0033" and d["severity"] == "error"
    assert d["message"] == "key `memory` is given more than once in app `hello`"
    assert d["span"] == {"file": str(p), "line": 7, "column": 5, "end_line": 7, "end_column": 11}
    assert d["labels"] == [{"span": {"file": str(p), "line": 6, "column": 5, "end_line": 6,
                                     "end_column": 11}, "message": "first given here"}]
    assert d["notes"] == [] and d["help"] is None


def test_json_clean_spec(tmp_path: Path) -> None:
    code, doc = check_json(spec(tmp_path, HELLO))
    assert code == 0 and doc == {"diagnostics": [], "spec": str(tmp_path / "app.uni"),
                                 "backends": ["kvm", "xen"], "ok": True}


WARN = HELLO.replace('cmdline = "";', 'cmdline = "";\n    policies = [p];') + \
    "policy p { allow = [net.send]; }\n"


def test_werror(tmp_path: Path) -> None:
    p = spec(tmp_path, WARN)
    r = check(p, "-b", "kvm")
    assert r.exit_code == 0, r.output
    assert "warning[U0152]" in r.stderr and "1 warning emitted" in r.stderr
    r = check(p, "-b", "kvm", "--werror")
    assert r.exit_code == 1
    code, doc = check_json(p, "--werror")
    assert code == 1
    # a warning is not an error: `ok` stays true, only the exit status changes
    assert doc["ok"] is True
    assert [(d["code"], d["severity"], d["backend"]) for d in doc["diagnostics"]] == [
        ("U0152", "warning", "kvm"), ("U0152", "warning", "xen")]
