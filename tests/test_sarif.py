"""`unilang check --format sarif`: valid SARIF 2.1.0 (checked against the OASIS
schema shipped in tests/sarif/), one rule per diagnostic code with its
explanation, results with their primary and related locations, and paths
relative to %SRCROOT% (or to UNILANG_DATA for stdlib/ and backends/ files)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from unilang.cli import main
from unilang.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "errors"
SCHEMA_FILE = Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


VALIDATOR = _validator()


def sarif(args: list[str], cwd: Path = EXAMPLES) -> tuple[int, dict[str, Any]]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, ["check", *args, "--format", "sarif"])
    finally:
        os.chdir(old)
    doc = json.loads(res.stdout)
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return res.exit_code, doc


def region(result: dict[str, Any], key: str = "locations", k: int = 0) -> tuple[Any, ...]:
    loc = result[key][k]["physicalLocation"]
    art, reg = loc["artifactLocation"], loc["region"]
    return (art.get("uriBaseId"), art["uri"], reg["startLine"], reg["startColumn"],
            reg["endLine"], reg["endColumn"])


def test_the_schema_is_the_one_we_shipped() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA_FILE.read_text())["title"] == \
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def test_the_schema_rejects_what_is_not_sarif() -> None:
    _code, doc = sarif(["U0030-duplicate-library.uni"])
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert list(VALIDATOR.iter_errors(doc))
    del doc["version"]
    assert list(VALIDATOR.iter_errors(doc))


def test_rules_are_the_code_catalogue() -> None:
    _code, doc = sarif(["U0030-duplicate-library.uni"])
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "unilang"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted(CODES)
    for r in rules:
        c = CODES[r["id"]]
        assert r["shortDescription"]["text"] == c.title
        assert r["fullDescription"]["text"] == c.explanation
        assert r["help"]["text"].startswith(c.explanation)
        assert r["defaultConfiguration"]["level"] == c.severity
    u0030 = rules[sorted(CODES).index("U0030")]
    assert u0030["name"] == "DuplicateDefinition"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == EXAMPLES.resolve().as_uri() + "/"


def test_duplicate_library_with_its_first_definition() -> None:
    code, doc = sarif(["U0030-duplicate-library.uni"])
    assert code == 1
    run = doc["runs"][0]
    assert run["properties"] == {"spec": "U0030-duplicate-library.uni",
                                 "backends": ["kvm", "xen"], "ok": False}
    [r] = run["results"]
    assert r["ruleId"] == "U0030"
    assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == "U0030"
    assert r["level"] == "error"
    assert r["message"]["text"] == ("library `bme280` is defined more than once\n"
                                    "help: rename one of them or remove the duplicate")
    assert region(r) == ("%SRCROOT%", "U0030-duplicate-library.uni", 16, 9, 16, 15)
    assert region(r, "relatedLocations") == ("%SRCROOT%", "U0030-duplicate-library.uni",
                                             6, 9, 6, 15)
    assert r["relatedLocations"][0]["message"]["text"] == "first defined here"
    assert r["relatedLocations"][0]["id"] == 1


def test_import_cycle_chain_in_other_files() -> None:
    code, doc = sarif(["U0022-import-cycle/main.uni"])
    assert code == 1
    [r] = doc["runs"][0]["results"]
    assert r["ruleId"] == "U0022"
    assert region(r) == ("%SRCROOT%", "U0022-import-cycle/drivers.uni", 3, 1, 3, 14)
    assert region(r, "relatedLocations") == ("%SRCROOT%", "U0022-import-cycle/board.uni",
                                             3, 1, 3, 16)
    assert r["relatedLocations"][0]["message"]["text"] == \
        "`U0022-import-cycle/board.uni` imports `U0022-import-cycle/drivers.uni`"
    assert "properties" not in r  # not per backend


def test_dependency_cycle_with_the_places_its_notes_name() -> None:
    _code, doc = sarif(["U0102-dependency-cycle.uni"])
    [r] = doc["runs"][0]["results"]  # the same for kvm and xen: one result
    assert r["properties"] == {"backends": ["kvm", "xen"]}
    assert region(r) == ("%SRCROOT%", "U0102-dependency-cycle.uni", 14, 17, 14, 30)
    related = [(region(r, "relatedLocations", k), x["message"]["text"])
               for k, x in enumerate(r["relatedLocations"])]
    assert related == [
        (("%SRCROOT%", "U0102-dependency-cycle.uni", 9, 17, 9, 30),
         "`virtio-blk` requires `storage.cache`, provided by `block-cache`"),
        (("%SRCROOT%", "U0102-dependency-cycle.uni", 12, 9, 12, 10),
         "`block-cache` is defined at U0102-dependency-cycle.uni:12:9"),
        (("%SRCROOT%", "U0102-dependency-cycle.uni", 7, 9, 7, 10),
         "`virtio-blk` is defined at U0102-dependency-cycle.uni:7:9"),
    ]
    assert [x["id"] for x in r["relatedLocations"]] == [1, 2, 3]
    assert "\nnote: `block-cache` is defined at" in r["message"]["text"]


def test_label_in_a_backend_library_is_relative_to_unilang_data() -> None:
    code, doc = sarif(["U0035-baud-not-a-divisor.uni", "-b", "kvm"])
    assert code == 1
    run = doc["runs"][0]
    [r] = run["results"]
    assert region(r) == ("%SRCROOT%", "U0035-baud-not-a-divisor.uni", 9, 26, 9, 30)
    assert region(r, "relatedLocations") == (
        "UNILANG_DATA", "backends/kvm/lib/uart16550/uart16550.uni", 8, 54, 8, 60)
    assert run["originalUriBaseIds"]["UNILANG_DATA"]["uri"] == ROOT.resolve().as_uri() + "/"
    assert "properties" not in r  # found before any backend was resolved


def test_stdlib_files_below_the_current_folder_are_under_srcroot() -> None:
    _code, doc = sarif(["examples/errors/U0036-unknown-parameter.uni"], cwd=ROOT)
    [r] = doc["runs"][0]["results"]
    assert region(r)[:2] == ("%SRCROOT%", "examples/errors/U0036-unknown-parameter.uni")
    assert region(r, "relatedLocations")[:2] == ("%SRCROOT%", "stdlib/lib/heap/heap.uni")
    assert "UNILANG_DATA" not in doc["runs"][0]["originalUriBaseIds"]


def test_warnings_per_backend_exit_zero() -> None:
    code, doc = sarif(["U0153-use-without-effect.uni"])
    assert code == 0
    results = doc["runs"][0]["results"]
    assert [(r["ruleId"], r["level"], r["properties"]["backends"]) for r in results] == [
        ("U0153", "warning", ["kvm"]), ("U0153", "warning", ["xen"])]
    assert region(results[0]) == ("%SRCROOT%", "U0153-use-without-effect.uni", 10, 5, 10, 28)


def test_syntax_error_and_a_missing_spec() -> None:
    code, doc = sarif(["U0010-missing-semicolon.uni"])
    assert code == 1
    [r] = doc["runs"][0]["results"]
    assert (r["ruleId"], region(r)) == (
        "U0010", ("%SRCROOT%", "U0010-missing-semicolon.uni", 7, 5, 7, 10))
    code, doc = sarif(["no-such-spec.uni"])
    assert code == 1
    [r] = doc["runs"][0]["results"]
    assert r == {"ruleId": "U0001", "ruleIndex": 0, "level": "error",
                 "message": {"text": "cannot read `no-such-spec.uni`: no such file"}}


def test_clean_spec_has_no_results(tmp_path: Path) -> None:
    code, doc = sarif([str(ROOT / "examples" / "hello" / "hello.uni")], cwd=tmp_path)
    assert code == 0
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["properties"]["ok"] is True


def test_paths_are_uri_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "my app#1"
    folder.mkdir()
    (folder / "a b.uni").write_text("app a {\n    sources = [\"m.c\"];\n    vcpus = 0;\n}\n")
    (folder / "m.c").write_text("int main(void) { return 0; }\n")
    _code, doc = sarif(["my app#1/a b.uni"], cwd=tmp_path)
    uris = {region(r)[1] for r in doc["runs"][0]["results"]}
    assert uris == {"my%20app%231/a%20b.uni"}


@pytest.mark.parametrize("name", ["U0031-unknown-construct.uni", "U0107-policy-denies-capability.uni",
                                  "U0039-app-in-module/main.uni", "U0044-control-character.uni"])
def test_more_examples_validate(name: str) -> None:
    code, doc = sarif([name])
    results = doc["runs"][0]["results"]
    assert code == 1 and results
    assert all(r["ruleId"] == name[:5] for r in results)
