"""The same input gives byte-identical output whatever the hash seed.

`unilang resolve --format json`, `resolve` (text) and `graph --format dot` run
as subprocesses with PYTHONHASHSEED=0, 1, 12345 and "random"; stdout, stderr
and the exit status must be the same bytes.  More commands and formats run
in one interpreter per seed (in-process), compared the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples/hello/hello.uni"
SEEDS = ("0", "1", "12345", "random")

# A spec with many libraries, parameters, pruned providers, policies and
# several errors at once, to exercise every sorted/unsorted path.
BUSY = """
construct t.a;
construct t.b;
construct t.c;
construct t.d;
capability t.cap;
library t-one { provides = [t.a]; requires = [t.b, t.c, console, mem.alloc]; exercises = [t.cap];
    param p1: int = 1; param p2: enum(x, y, z) = y; param p3: string = "s"; }
library t-two { provides = [t.b]; requires = [t.d]; conflicts = [t-one]; }
library t-three { provides = [t.c]; requires = [t.d]; param size: size = 4 KiB; }
library t-four { provides = [t.d]; default = true; }
library t-five { provides = [t.d]; rank = 3; }
library t-six { provides = [t.d]; }
policy p { deny = [t.cap]; allow = [hw.rdrand]; include = [production]; }
app busy {
    sources = ["hello.c"];
    requires = [t.a, console.lines, fmt.printf];
    policies = [p, offline];
    set t-one.p1 = 1;
    set heap.max_size = 1 MiB;
}
"""


# The same spec without its errors, so that `resolve` and `graph` print a resolution.
BUSY_OK = BUSY.replace(" conflicts = [t-one];", "").replace("deny = [t.cap]; ", "")


def run_all(args: list[str], cwd: Path, module: bool = True) -> dict[str, tuple[int, bytes, bytes]]:
    """Run ``unilang ARGS`` (or ``python ARGS``) once per seed, in parallel."""
    procs = {}
    for seed in SEEDS:
        env = dict(os.environ, PYTHONHASHSEED=seed, NO_COLOR="1")
        cmd = [sys.executable, "-m", "unilang", *args] if module else [sys.executable, *args]
        procs[seed] = subprocess.Popen(cmd, cwd=cwd,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outs = {}
    for seed, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        outs[seed] = (proc.returncode, out, err)
    return outs


@pytest.fixture(scope="module")
def busy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("busy")
    (d / "hello.c").write_text("int main(void) { return 0; }\n")
    (d / "busy.uni").write_text(BUSY)
    (d / "busy-ok.uni").write_text(BUSY_OK)
    return d


@pytest.mark.parametrize("args", [
    ["resolve", str(HELLO), "--format", "json"],
    ["resolve", str(HELLO)],
    ["graph", str(HELLO), "--format", "dot"],
], ids=lambda a: " ".join(x if "/" not in x else Path(x).name for x in a))
def test_hello_output_is_identical_across_hash_seeds(args: list[str]) -> None:
    outs = run_all(args, ROOT)
    first = outs[SEEDS[0]]
    assert first[0] == 0, first[2].decode()
    assert first[1], "no output"
    for seed, out in outs.items():
        assert out == first, f"PYTHONHASHSEED={seed} differs"


#: More commands, formats and specs: one interpreter per seed runs them all in-process
#: (starting an interpreter per command and seed would take most of a minute).
DRIVER = r"""
import json, sys
from click.testing import CliRunner
from unilang.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    r = CliRunner().invoke(main, argv)
    out.append([argv, r.exit_code, r.stdout, r.stderr, repr(r.exception)])
print(json.dumps(out))
"""

COMMANDS = [
    ["check", "{spec}", "--format", "json"],
    ["check", "{spec}"],
    ["resolve", "{spec}", "--format", "json"],
    ["resolve", "{spec}", "-b", "xen"],
    ["graph", "{spec}", "--format", "dot"],
    ["graph", "{spec}", "-b", "xen", "--format", "json"],
    ["graph", "{spec}", "--format", "text"],
    ["why", "{spec}", "heap"],
    ["why", "{spec}", "t-five"],
]


def test_many_commands_identical_across_hash_seeds(busy_dir: Path) -> None:
    import json

    argv = [[a.replace("{spec}", spec) for a in cmd] for spec in
            ("busy.uni", "busy-ok.uni") for cmd in COMMANDS]
    outs = run_all(["-c", DRIVER, json.dumps(argv)], busy_dir, module=False)
    first = outs[SEEDS[0]]
    assert first[0] == 0, first[2].decode()
    results = json.loads(first[1])
    assert len(results) == len(argv)
    by_cmd = {" ".join(a): (code, out, err, exc) for a, code, out, err, exc in results}
    assert by_cmd["check busy.uni --format json"][0] == 1
    assert by_cmd["resolve busy-ok.uni --format json"][0] == 0
    assert "t-four" in by_cmd["resolve busy-ok.uni --format json"][1]
    assert all(exc in ("None", "SystemExit(0)", "SystemExit(1)") for *_x, exc in results), results
    for seed, out in outs.items():
        assert out == first, f"PYTHONHASHSEED={seed} differs"
