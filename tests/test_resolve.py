"""Resolution: provider choice, errors with their chains, pruning, init order,
parameters, policies and resources; then a property test against an
independent re-implementation of the provider rule, reachability, cycles and
conflicts.

Specs are written to temporary directories; the stdlib prelude and the
backend's platform libraries are always loaded too, so every image also holds
`pvh` (boot) and the backend's shutdown library.  Constructs and libraries
declared here use fresh names (`t.*`, `t-*`/`tl*`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unilang.cli import main
from unilang.diagnostics import Diagnostic, Severity
from unilang.driver import Session, check_spec
from unilang.cache import MemoryCache

CACHE = MemoryCache()  # the stdlib is parsed once for the whole file
PLATFORM = {"kvm": {"pvh", "qemu-exit"}, "xen": {"pvh", "xen-shutdown"}}


class Run:
    def __init__(self, path: Path, backend: str) -> None:
        session, results = check_spec(path, [backend], Session(cache=CACHE))
        self.path = path
        self.file = str(path)
        self.diags: list[Diagnostic] = session.sink.sorted()
        self.res = results[0].resolution
        self.program = results[0].program

    def codes(self, severity: Severity | None = None) -> list[str]:
        return [d.code for d in self.diags if severity is None or d.severity is severity]

    def one(self, code: str) -> Diagnostic:
        found = [d for d in self.diags if d.code == code]
        assert len(found) == 1, (code, [(d.code, d.message) for d in self.diags])
        return found[0]

    def line_of(self, needle: str) -> int:
        for i, line in enumerate(self.path.read_text().splitlines(), 1):
            if needle in line:
                return i
        raise AssertionError(needle)

    @property
    def mine(self) -> list[str]:
        """Init order without the platform libraries every image has."""
        return [n for n in self.res.order if n not in PLATFORM[self.res.backend]]


def resolve(tmp: Path, decls: str, app: str = "", requires: str = "", backend: str = "kvm",
            extra_files: dict[str, str] | None = None) -> Run:
    (tmp / "hello.c").write_text("int main(void) { return 0; }\n")
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text)
    text = (decls + "\napp x {\n    sources = [\"hello.c\"];\n"
            f"    requires = [{requires}];\n" + app + "}\n")
    p = tmp / "app.uni"
    p.write_text(text)
    return Run(p, backend)


TWO = """
construct t.a "A";
library t1 { provides = [t.a]; }
library t2 { provides = [t.a]; }
"""


# ---------------------------------------------------------------- provider choice

def test_single_candidate(tmp_path: Path) -> None:
    r = resolve(tmp_path, "construct t.a;\nlibrary t1 { provides = [t.a]; }", requires="t.a")
    assert r.diags == []
    assert r.res.ok and r.res.providers["t.a"] == "t1"
    assert set(r.res.selected) == {"t1"} | PLATFORM["kvm"]
    assert r.res.selected["t1"].chain == ("app x", "t.a", "t1")


def test_use_chooses(tmp_path: Path) -> None:
    r = resolve(tmp_path, TWO, requires="t.a", app="    use t2 for t.a;\n")
    assert r.diags == []
    assert r.res.providers["t.a"] == "t2"
    assert "t1" not in r.res.selected
    pruned = {p.name: p.reason for p in r.res.pruned}
    assert pruned["t1"] == "not chosen: `t2` provides `t.a` instead"


def test_use_beats_default_and_rank(tmp_path: Path) -> None:
    decls = TWO.replace("library t2 { provides = [t.a]; }",
                        "library t2 { provides = [t.a]; default = true; rank = 9; }")
    r = resolve(tmp_path, decls, requires="t.a", app="    use t1 for t.a;\n")
    assert r.diags == [] and r.res.providers["t.a"] == "t1"


def test_default_chooses(tmp_path: Path) -> None:
    decls = TWO.replace("library t1 { provides = [t.a]; }",
                        "library t1 { provides = [t.a]; default = true; }").replace(
        "library t2 { provides = [t.a]; }", "library t2 { provides = [t.a]; rank = 50; }")
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == [] and r.res.providers["t.a"] == "t1"


def test_rank_chooses(tmp_path: Path) -> None:
    decls = TWO + "library t3 { provides = [t.a]; rank = 3; }\n" \
                  "library t4 { provides = [t.a]; rank = 2; }\n"
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == [] and r.res.providers["t.a"] == "t3"
    assert {p.name: p.reason for p in r.res.pruned}["t4"] == "not chosen: `t3` provides `t.a` instead"


def test_rank_breaks_a_tie_between_defaults(tmp_path: Path) -> None:
    decls = TWO.replace("provides = [t.a]; }", "provides = [t.a]; default = true; }") + \
        "library t3 { provides = [t.a]; rank = 100; }\n"
    decls = decls.replace("library t2 { provides = [t.a]; default = true; }",
                          "library t2 { provides = [t.a]; default = true; rank = 1; }")
    r = resolve(tmp_path, decls, requires="t.a")
    # the non-default t3 does not compete with the defaults
    assert r.diags == [] and r.res.providers["t.a"] == "t2"


def test_unsupported_candidates_do_not_compete(tmp_path: Path) -> None:
    decls = TWO.replace("library t2 { provides = [t.a]; }",
                        "library t2 { provides = [t.a]; backends = [xen]; }")
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == [] and r.res.providers["t.a"] == "t1"
    assert {p.name: p.reason for p in r.res.pruned}["t2"] == (
        "unsupported on backend `kvm` (supports xen)")
    r = resolve(tmp_path, decls, requires="t.a", backend="xen")
    assert r.codes() == ["U0101"]


def test_ambiguous_provider(tmp_path: Path) -> None:
    r = resolve(tmp_path, TWO + "library t3 { provides = [t.a]; }", requires="t.a")
    d = r.one("U0101")
    assert r.res is not None and not r.res.ok
    assert d.message == "`t.a` has 3 possible providers for backend `kvm`: t1, t2, t3"
    assert d.backend == "kvm"
    assert (d.span.file, d.span.line) == (r.file, r.line_of("requires = [t.a]"))
    assert [(l.span.line, l.message) for l in d.labels] == [
        (r.line_of("library t1"), "candidate"), (r.line_of("library t2"), "candidate"),
        (r.line_of("library t3"), "candidate")]
    assert d.notes == ("required by: app x -> t.a",
                       "none is marked `default = true` and none has a higher `rank`")
    assert d.help == "choose one in the app: `use t1 for t.a;`"


def test_ambiguous_defaults_and_ranks(tmp_path: Path) -> None:
    decls = TWO.replace("provides = [t.a]; }", "provides = [t.a]; default = true; rank = 4; }")
    decls += "library t3 { provides = [t.a]; rank = 5; }\n"
    r = resolve(tmp_path, decls, requires="t.a")
    d = r.one("U0101")
    assert d.message == "`t.a` has 2 possible providers for backend `kvm`: t1, t2"
    assert d.notes[1] == "several are marked `default = true`"


def test_ambiguity_deep_in_the_chain(tmp_path: Path) -> None:
    decls = TWO.replace("construct t.a \"A\";", "construct t.a;\nconstruct t.top;") + \
        "library t-top { provides = [t.top]; requires = [t.a]; }\n"
    r = resolve(tmp_path, decls, requires="t.top")
    d = r.one("U0101")
    assert d.notes[0] == "required by: app x -> t.top -> t-top -> t.a"
    assert d.span.line == r.line_of("library t-top")


def test_no_provider(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
library t1 { provides = [t.a]; requires = [t.b]; }
library t2 { provides = [t.b]; backends = [xen]; }
"""
    r = resolve(tmp_path, decls, requires="t.a")
    d = r.one("U0100")
    assert d.message == "no library provides `t.b` for backend `kvm`"
    assert d.notes == ("required by: app x -> t.a -> t1 -> t.b",
                       "`t2` provides `t.b` but supports only xen")
    assert (d.span.line, d.span.column) == (r.line_of("library t1"), 44)
    assert not r.res.ok
    # on xen the same spec is fine
    assert resolve(tmp_path, decls, requires="t.a", backend="xen").diags == []


def test_no_provider_at_all(tmp_path: Path) -> None:
    r = resolve(tmp_path, "construct t.none;", requires="t.none")
    d = r.one("U0100")
    assert d.notes == ("required by: app x -> t.none",)
    assert d.help == "add a library that provides it for this backend, or remove the requirement"


def test_requires_on_backend(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.k;
construct t.x;
library t1 { provides = [t.a]; requires on [xen] = [t.x]; requires on kvm = [t.k]; }
library tk { provides = [t.k]; }
library tx { provides = [t.x]; }
"""
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == [] and r.mine == ["tk", "t1"]
    r = resolve(tmp_path, decls, requires="t.a", backend="xen")
    assert r.diags == [] and r.mine == ["tx", "t1"]


def test_library_satisfies_its_own_requirement(tmp_path: Path) -> None:
    decls = "construct t.a;\nconstruct t.b;\n" \
            "library t1 { provides = [t.a, t.b]; requires = [t.b]; }\n" \
            "library t2 { provides = [t.b]; }\n"
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == [] and r.mine == ["t1"]


def test_cycle(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
construct t.c;
library t3 { provides = [t.c]; requires = [t.a]; }
library t1 { provides = [t.a]; requires = [t.b]; }
library t2 { provides = [t.b]; requires = [t.c]; }
"""
    r = resolve(tmp_path, decls, requires="t.b")
    d = r.one("U0102")
    assert d.message == "dependency cycle: t1 -> t.b -> t2 -> t.c -> t3 -> t.a -> t1"
    assert d.span.line == r.line_of("library t1")
    assert [(l.span.line, l.message) for l in d.labels] == [
        (r.line_of("library t2"), "`t2` requires `t.c`, provided by `t3`"),
        (r.line_of("library t3"), "`t3` requires `t.a`, provided by `t1`")]
    assert d.notes == tuple(f"`{n}` is defined at {r.file}:{r.line_of('library ' + n)}:9"
                            for n in ("t1", "t2", "t3"))
    assert not r.res.ok


def test_two_cycles_both_reported(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
construct t.c;
construct t.d;
library ta { provides = [t.a]; requires = [t.b, t.c]; }
library tb { provides = [t.b]; requires = [t.a]; }
library tc { provides = [t.c]; requires = [t.d]; }
library td { provides = [t.d]; requires = [t.c]; }
"""
    r = resolve(tmp_path, decls, requires="t.a")
    msgs = sorted(d.message for d in r.diags if d.code == "U0102")
    assert msgs == ["dependency cycle: ta -> t.b -> tb -> t.a -> ta",
                    "dependency cycle: tc -> t.d -> td -> t.c -> tc"]


def test_conflict(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
library t1 { provides = [t.a]; conflicts = [t2]; }
library t2 { provides = [t.b]; conflicts = [t1]; }
"""
    r = resolve(tmp_path, decls, requires="t.a, t.b")
    d = r.one("U0103")
    assert d.message == "libraries `t1` and `t2` conflict but both are selected"
    assert d.notes == ("`t1` is selected by: app x -> t.a -> t1",
                       "`t2` is selected by: app x -> t.b -> t2")
    assert (d.span.line, d.span.column) == (r.line_of("library t1"), 45)
    # a conflict with a library that is not selected is fine
    r = resolve(tmp_path, decls, requires="t.a")
    assert r.diags == []


def test_unsupported_choice(tmp_path: Path) -> None:
    decls = TWO.replace("library t2 { provides = [t.a]; }",
                        "library t2 { provides = [t.a]; backends = [xen]; }")
    r = resolve(tmp_path, decls, requires="t.a", app="    use t2 for t.a;\n")
    d = r.one("U0104")
    assert d.message == "library `t2` does not support backend `kvm`"
    assert d.span.line == r.line_of("use t2")
    assert [(l.span.line, l.message) for l in d.labels] == [
        (r.line_of("library t2"), "supports: xen")]
    assert d.notes == ("required by: app x -> t.a",)
    assert d.help == "choose a provider for this backend: `use t1 for t.a;`"
    assert resolve(tmp_path, decls, requires="t.a", app="    use t2 for t.a;\n",
                   backend="xen").diags == []


def test_pruned_reasons(tmp_path: Path) -> None:
    decls = TWO + """
construct t.z;
library t-unreached { provides = [t.z]; }
library t-xen { provides = [t.z]; backends = [xen]; }
"""
    r = resolve(tmp_path, decls, requires="t.a", app="    use t1 for t.a;\n")
    pruned = {p.name: p.reason for p in r.res.pruned}
    assert pruned["t2"] == "not chosen: `t1` provides `t.a` instead"
    assert pruned["t-unreached"] == "not reached from the app"
    assert pruned["t-xen"] == "unsupported on backend `kvm` (supports xen)"
    assert pruned["uart16550"] == "not reached from the app"
    # only the selected backend's platform libraries are loaded at all
    assert "debugcon" not in pruned and "debugcon" not in r.program.libraries
    # pruned + selected = every library, each once, pruned sorted by name
    names = [p.name for p in r.res.pruned]
    assert names == sorted(names)
    assert set(names) | set(r.res.selected) == set(r.program.libraries)
    assert not set(names) & set(r.res.selected)


def test_init_order_dependencies_first_ties_by_name(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
construct t.c;
construct t.d;
construct t.e;
library t-z { provides = [t.a]; requires = [t.c, t.d]; }
library t-y { provides = [t.b]; requires = [t.d]; }
library t-m { provides = [t.c]; }
library t-d { provides = [t.d]; requires = [t.e]; }
library t-q { provides = [t.e]; }
"""
    r = resolve(tmp_path, decls, requires="t.b, t.a")
    assert r.diags == []
    assert r.mine == ["t-m", "t-q", "t-d", "t-y", "t-z"]
    # the platform libraries obey the same rule
    assert r.res.order.index("qemu-exit") < r.res.order.index("pvh")
    from unilang.report import resolution_json

    doc = resolution_json(r.res)
    assert [l["name"] for l in doc["libraries"]] == list(r.res.order)


def test_parameter_origins(tmp_path: Path) -> None:
    decls = """
construct t.a;
library t1 {
    provides = [t.a];
    param count: int = 3 in 1 .. 10;
    param size: size = 1 MiB;
    param mode: enum(fast, slow) = slow;
    param name: string = "n";
    param on: bool = false;
}
"""
    r = resolve(tmp_path, decls, requires="t.a",
                app="    set t1.count = 7;\n    set t1.mode = fast;\n")
    assert r.diags == []
    ps = {p.name: p for p in r.res.params if p.library == "t1"}
    assert list(ps) == ["count", "size", "mode", "name", "on"]
    assert (ps["count"].value, ps["count"].origin) == (7, "override")
    assert (ps["count"].span.line, ps["count"].span.column) == (r.line_of("set t1.count"), 5)
    assert (ps["mode"].value, ps["mode"].origin, ps["mode"].type.describe()) == (
        "fast", "override", "enum(fast, slow)")
    assert (ps["size"].value, ps["size"].origin) == (1 << 20, "default")
    assert ps["size"].span.line == r.line_of("param size")
    assert (ps["name"].value, ps["on"].value) == ("n", False)
    assert ps["count"].macro == "UNILANG_PARAM_T1_COUNT"


def test_override_of_pruned_library(tmp_path: Path) -> None:
    decls = TWO.replace("library t2 { provides = [t.a]; }",
                        "library t2 { provides = [t.a]; param n: int = 1; }")
    r = resolve(tmp_path, decls, requires="t.a",
                app="    use t1 for t.a;\n    set t2.n = 2;\n")
    d = r.one("U0112")
    assert d.message == ("`t2.n` is set, but `t2` is not in the image for backend `kvm`")
    assert (d.span.line, d.span.column, d.span.end_column) == (r.line_of("set t2.n"), 9, 11)
    assert d.notes == ("`t2` is not chosen: `t1` provides `t.a` instead",)


def test_override_equal_to_default_warns(tmp_path: Path) -> None:
    decls = "construct t.a;\nlibrary t1 { provides = [t.a]; param n: int = 4; " \
            "param s: size = 1 MiB; }\n"
    r = resolve(tmp_path, decls, requires="t.a",
                app="    set t1.n = 4;\n    set t1.s = 1024 KiB;\n")
    assert r.codes() == ["U0151", "U0151"]
    assert [d.severity for d in r.diags] == [Severity.WARNING] * 2
    assert r.diags[0].message == "`t1.n` is set to its default value 4"
    assert r.diags[1].message == "`t1.s` is set to its default value 1024 KiB"
    assert r.diags[0].labels[0].span.line == r.line_of("library t1")
    assert r.res.ok


def test_unused_project_import_warns(tmp_path: Path) -> None:
    files = {"unused.uni": "construct t.unused;\n",
             "used.uni": "construct t.a;\nlibrary t1 { provides = [t.a]; }\n"}
    r = resolve(tmp_path, "import unused;\nimport used;\n", requires="t.a", extra_files=files)
    d = r.one("U0150")
    assert d.severity is Severity.WARNING
    assert d.message == "module `unused.uni` is imported but none of its definitions is used" \
        or d.message.endswith("unused.uni` is imported but none of its definitions is used")
    assert (d.span.line, d.span.column) == (1, 1)
    assert r.res.ok


POLICY_DECLS = """
capability t.cap;
capability t.other;
construct t.a;
construct t.b;
library t1 { provides = [t.a]; exercises = [t.cap]; requires = [t.b]; }
library t2 { provides = [t.b]; min_memory = 3 MiB; max_vcpus = 2; }
"""


def test_policy_deny(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "policy base { deny = [t.cap]; }\npolicy p { include = [base]; }\n"
    r = resolve(tmp_path, decls, requires="t.a", app="    policies = [p];\n")
    d = r.one("U0107")
    assert d.message == "policy `p` denies capability `t.cap`, which `t1` exercises"
    assert d.span.line == r.line_of("policies = [p]")
    assert [(l.span.line, l.message) for l in d.labels] == [
        (r.line_of("policy base"), "denied by policy `base` here"),
        (r.line_of("library t1"), "`t1` exercises `t.cap` here")]
    assert d.notes == ("`t1` is selected by: app x -> t.a -> t1",)
    assert d.help == "choose a provider of `t.a` that does not exercise `t.cap`, or stop requiring it"
    assert [(v.policy, v.ok, v.findings) for v in r.res.verdicts] == [
        ("p", False, ("denies `t.cap`, exercised by `t1`",))]


def test_policy_own_allow_beats_included_deny(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "policy base { deny = [t.cap]; }\n" \
                           "policy p { include = [base]; allow = [t.cap]; }\n"
    r = resolve(tmp_path, decls, requires="t.a", app="    policies = [p];\n")
    assert r.diags == [] and r.res.verdicts[0].ok


def test_policy_forbid(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "policy p { forbid = [t2]; }\n"
    r = resolve(tmp_path, decls, requires="t.a", app="    policies = [p];\n")
    d = r.one("U0106")
    assert d.message == "policy `p` forbids library `t2`, which is selected"
    assert d.labels[0].message == "forbidden by policy `p` here"
    assert d.notes == ("`t2` is selected by: app x -> t.a -> t1 -> t.b -> t2",)
    assert d.help == "choose another provider: `use OTHER for t.b;`"


def test_policy_require(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "construct t.missing;\npolicy p { require = [t.missing, t.b]; }\n"
    r = resolve(tmp_path, decls, requires="t.a", app="    policies = [p];\n")
    d = r.one("U0105")
    assert d.message == "policy `p` requires `t.missing`, which the image lacks"
    assert d.labels[0].span.line == r.line_of("policy p")


def test_policy_limits(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "policy small { max_memory = 8 MiB; max_vcpus = 1; }\n" \
                           "policy p { include = [small]; max_memory = 12 MiB; }\n"
    r = resolve(tmp_path, decls, requires="t.a",
                app="    policies = [p];\n    memory = 16 MiB;\n    vcpus = 2;\n")
    mem = r.one("U0110")
    assert mem.message == "app memory 16 MiB is above the limit 8 MiB of policy `small`"
    assert mem.span.line == r.line_of("memory = 16 MiB")
    assert mem.labels[0].span.line == r.line_of("policy small")
    cpu = r.one("U0111")
    assert cpu.message == "app vcpus 2 is above the limit 1 of policy `small`"
    assert cpu.span.line == r.line_of("    vcpus = 2;")


def test_memory_too_small(tmp_path: Path) -> None:
    r = resolve(tmp_path, POLICY_DECLS, requires="t.a", app="    memory = 4 MiB;\n")
    d = r.one("U0108")
    assert d.message == "app memory 4 MiB is below the 5 MiB the selected libraries need"
    assert d.notes == ("`pvh` needs 2 MiB", "`t2` needs 3 MiB")
    assert d.help == "set `memory = 5 MiB;` or more"
    assert resolve(tmp_path, POLICY_DECLS, requires="t.a", app="    memory = 5 MiB;\n").diags == []


def test_too_many_vcpus(tmp_path: Path) -> None:
    r = resolve(tmp_path, POLICY_DECLS, requires="t.a", app="    vcpus = 3;\n")
    d = r.one("U0109")
    assert d.message == "app asks for 3 vcpus, but `t2` supports at most 2"
    assert d.span.line == r.line_of("vcpus = 3")
    assert d.notes == ("`t2` is selected by: app x -> t.a -> t1 -> t.b -> t2",)


def test_allow_unused(tmp_path: Path) -> None:
    decls = POLICY_DECLS + "policy p { allow = [t.other, t.cap]; }\n"
    r = resolve(tmp_path, decls, requires="t.a", app="    policies = [p];\n")
    d = r.one("U0152")
    assert d.severity is Severity.WARNING
    assert d.message == "policy `p` allows `t.other`, but no selected library exercises it"
    assert r.res.ok


def test_check_all_backends_reports_per_backend(tmp_path: Path) -> None:
    decls = TWO.replace("library t2 { provides = [t.a]; }",
                        "library t2 { provides = [t.a]; }\nlibrary t3 { provides = [t.a]; "
                        "backends = [xen]; }")
    r = resolve(tmp_path, decls, requires="t.a")
    res = CliRunner().invoke(main, ["check", str(r.path), "--format", "json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    got = [(d["code"], d["backend"], d["message"]) for d in doc["diagnostics"]]
    assert got == [
        ("U0101", "kvm", "`t.a` has 2 possible providers for backend `kvm`: t1, t2"),
        ("U0101", "xen", "`t.a` has 3 possible providers for backend `xen`: t1, t2, t3")]
    res = CliRunner().invoke(main, ["check", str(r.path), "-b", "xen"])
    assert res.exit_code == 1 and "[backend xen]" in res.stderr and "backend kvm" not in res.stderr


# ---------------------------------------------------------------- property test

N_CONSTRUCTS = 5


@st.composite
def graphs(draw):
    n_c = draw(st.integers(2, N_CONSTRUCTS))
    n_l = draw(st.integers(1, 8))
    cs = [f"t.c{i}" for i in range(n_c)]
    sub = st.lists(st.sampled_from(cs), unique=True, max_size=3)
    libs = {}
    for i in range(n_l):
        libs[f"tl{i}"] = {
            "provides": draw(st.lists(st.sampled_from(cs), unique=True, min_size=1, max_size=2)),
            "requires": draw(sub),
            "on_xen": draw(st.lists(st.sampled_from(cs), unique=True, max_size=2)),
            "on_kvm": draw(st.lists(st.sampled_from(cs), unique=True, max_size=1)),
            "backends": draw(st.sampled_from([[], [], ["kvm"], ["xen"], ["kvm", "xen"]])),
            "default": draw(st.booleans()),
            "rank": draw(st.sampled_from([0, 0, 1, 2])),
            "conflicts": [],
        }
    names = list(libs)
    for name, lib in libs.items():
        others = [n for n in names if n != name]
        if others:
            lib["conflicts"] = draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    app_requires = draw(st.lists(st.sampled_from(cs), unique=True, min_size=1, max_size=3))
    uses = {}
    for c in cs:
        provs = [n for n in names if c in libs[n]["provides"]]
        if provs and draw(st.integers(0, 2)) == 0:
            uses[c] = draw(st.sampled_from(provs))
    return cs, libs, app_requires, uses


def write_spec(path: Path, graph) -> None:
    cs, libs, app_requires, uses = graph
    out = [f"construct {c};" for c in cs]
    for name, lib in libs.items():
        body = [f"provides = [{', '.join(lib['provides'])}];"]
        if lib["requires"]:
            body.append(f"requires = [{', '.join(lib['requires'])}];")
        if lib["on_xen"]:
            body.append(f"requires on [xen] = [{', '.join(lib['on_xen'])}];")
        if lib["on_kvm"]:
            body.append(f"requires on kvm = [{', '.join(lib['on_kvm'])}];")
        if lib["backends"]:
            body.append(f"backends = [{', '.join(lib['backends'])}];")
        if lib["default"]:
            body.append("default = true;")
        if lib["rank"]:
            body.append(f"rank = {lib['rank']};")
        if lib["conflicts"]:
            body.append(f"conflicts = [{', '.join(lib['conflicts'])}];")
        out.append(f"library {name} {{\n    " + "\n    ".join(body) + "\n}")
    out.append("app x {\n    sources = [\"hello.c\"];\n"
               f"    requires = [{', '.join(app_requires)}];\n"
               + "".join(f"    use {l} for {c};\n" for c, l in uses.items()) + "}")
    path.write_text("\n".join(out) + "\n")


def expected_resolution(graph, backend: str):
    """Independent model: (picks, selected, edges, failed constructs)."""
    cs, libs, app_requires, uses = graph

    def supports(name: str) -> bool:
        return not libs[name]["backends"] or backend in libs[name]["backends"]

    def pick(c: str) -> str | None:
        if c in uses:
            return uses[c] if supports(uses[c]) else None
        cands = sorted(n for n in libs if c in libs[n]["provides"] and supports(n))
        if len(cands) == 1:
            return cands[0]
        defaults = [n for n in cands if libs[n]["default"]]
        if len(defaults) == 1:
            return defaults[0]
        pool = defaults or cands
        if not pool:
            return None
        top = max(libs[n]["rank"] for n in pool)
        best = [n for n in pool if libs[n]["rank"] == top]
        return best[0] if len(best) == 1 else None

    def reqs(name: str) -> list[str]:
        lib = libs[name]
        extra = lib["on_xen"] if backend == "xen" else lib["on_kvm"]
        return [c for c in lib["requires"] + extra if c not in lib["provides"]]

    picks: dict[str, str | None] = {}
    selected: set[str] = set()
    edges: set[tuple[str, str, str]] = set()  # (requirer, construct, provider)
    todo = [(None, c) for c in app_requires]
    while todo:
        src, c = todo.pop()
        if c not in picks:
            picks[c] = pick(c)
        p = picks[c]
        if p is None:
            continue
        if src is not None:
            edges.add((src, c, p))
        if p not in selected:
            selected.add(p)
            todo.extend((p, r) for r in reqs(p))
    failed = {c for c, p in picks.items() if p is None}
    return picks, selected, edges, failed


def cyclic_components(nodes: set[str], edges: set[tuple[str, str, str]]) -> list[set[str]]:
    """Tarjan's algorithm (iterative) on requirer -> provider edges."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, _c, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                w = succ[v][i]
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in succ[v]:
                    comps.append(comp)
    return comps


def lexicographic_topo(nodes: set[str], edges: set[tuple[str, str, str]]) -> list[str]:
    import heapq

    indeg = {n: 0 for n in nodes}
    users: dict[str, set[str]] = {n: set() for n in nodes}
    for a, _c, b in edges:  # b (provider) before a (requirer)
        if a not in users[b]:
            users[b].add(a)
            indeg[a] += 1
    heap = [n for n in nodes if indeg[n] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        n = heapq.heappop(heap)
        out.append(n)
        for u in sorted(users[n]):
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, u)
    return out


PROVIDER_ERRORS = {"U0100", "U0101", "U0104"}
CONFLICT = re.compile(r"libraries `([^`]+)` and `([^`]+)` conflict but both are selected")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(graph=graphs(), backend=st.sampled_from(["kvm", "xen"]))
def test_resolution_matches_independent_model(tmp_path: Path, graph, backend: str) -> None:
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    path = tmp_path / "app.uni"
    write_spec(path, graph)
    run = Run(path, backend)
    front = [d for d in run.diags if d.code < "U0100"]
    assert front == [], [(d.code, d.message) for d in front]
    res = run.res
    assert res is not None

    picks, selected, edges, failed = expected_resolution(graph, backend)
    mine = set(graph[1])
    codes = run.codes()
    # one provider error per construct that has no unique provider
    assert sum(c in PROVIDER_ERRORS for c in codes) == len(failed)
    for c, p in picks.items():
        if p is not None:
            assert res.providers[c] == p
    if failed:
        assert not res.ok
        return

    got = set(res.selected) & mine
    assert got == selected
    assert set(res.selected) - mine == PLATFORM[backend]
    pruned = {p.name for p in res.pruned}
    assert pruned & mine == mine - selected

    # cycles: one U0102 per strongly connected component with a cycle
    comps = cyclic_components(selected, edges)
    cycles = [d for d in run.diags if d.code == "U0102"]
    assert len(cycles) == len(comps)
    covered = []
    for d in cycles:
        chain = d.message.removeprefix("dependency cycle: ").split(" -> ")
        assert chain[0] == chain[-1] and len(chain) % 2 == 1
        for i in range(0, len(chain) - 2, 2):
            assert (chain[i], chain[i + 1], chain[i + 2]) in edges
        libs_in = set(chain[0::2])
        comp = next(c for c in comps if libs_in <= c)
        covered.append(frozenset(comp))
    assert len(set(covered)) == len(comps)

    # conflicts: every selected pair is reported, once
    want = {frozenset((a, b)) for a in selected for b in graph[1][a]["conflicts"]
            if b in selected}
    got_pairs = [frozenset(CONFLICT.fullmatch(d.message).groups())
                 for d in run.diags if d.code == "U0103"]
    assert len(got_pairs) == len(set(got_pairs))
    assert set(got_pairs) == want

    if comps:
        assert not res.ok
        return
    # init order: every provider before each library that requires it, ties by name
    order = [n for n in res.order if n in mine]
    pos = {n: i for i, n in enumerate(res.order)}
    for a, _c, b in edges:
        assert pos[b] < pos[a]
    assert order == lexicographic_topo(selected, edges)
    assert res.ok == (not want)
    assert set(codes) <= {"U0103", "U0153"}  # U0153: a `use` for a construct nothing requires
