"""The walk's own structures: requirement edges made when first read (``Edges``),
the init order counted by place in the walk, the policy stage's one pass, the
C-name check's claim of every library's names at once, and the unused-import
check that works out what is used only when a module imports another."""

from __future__ import annotations

import heapq
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unilang import cnames
from unilang.cache import MemoryCache
from unilang.diagnostics import Diagnostic
from unilang.driver import Session, check_spec
from unilang.resolve import APP, Edge, Edges, Resolution

CACHE = MemoryCache()
PLATFORM = {"pvh", "qemu-exit", "uart16550", "debugcon", "xen-shutdown"}


def run(tmp: Path, decls: str, requires: str, app: str = "", backend: str = "kvm",
        files: dict[str, str] | None = None) -> tuple[list[Diagnostic], Resolution, Path]:
    (tmp / "hello.c").write_text("int main(void) { return 0; }\n")
    for name, text in (files or {}).items():
        (tmp / name).write_text(text)
    p = tmp / "app.uni"
    p.write_text(decls + "\napp x {\n    sources = [\"hello.c\"];\n"
                 f"    requires = [{requires}];\n" + app + "}\n")
    session, results = check_spec(p, [backend], Session(cache=CACHE))
    res = results[0].resolution
    assert res is not None
    return session.sink.sorted(), res, p


def line_of(p: Path, needle: str) -> int:
    return next(i for i, line in enumerate(p.read_text().splitlines(), 1) if needle in line)


def mine(edges: Edges) -> list[tuple[str, str, str, int]]:
    return [(e.src, e.dst, e.construct, e.span.line) for e in edges
            if e.dst not in PLATFORM and e.construct != "boot"]


WALK = """
construct t.a;
construct t.b;
construct t.c;
construct t.c2;
construct t.x;
construct t.none;
library ta { provides = [t.a]; requires = [t.c, t.a, t.c2]; requires on [xen] = [t.x]; }
library tb { provides = [t.b]; requires = [t.a, t.c]; }
library tc { provides = [t.c, t.c2]; }
library tx { provides = [t.x]; }
"""


def test_edges_follow_the_walk_in_order(tmp_path: Path) -> None:
    diags, res, p = run(tmp_path, WALK, "t.b, t.a")
    assert diags == []
    ta, tb = line_of(p, "library ta"), line_of(p, "library tb")
    app = line_of(p, "requires = [t.b, t.a]")
    # the app's requirements, then each library's in the order they were selected
    # (tb, ta, tc); ta's own construct and its xen-only requirement are no edges,
    # and two requirements met by one provider are two edges
    assert mine(res.edges) == [
        (APP, "tb", "t.b", app), (APP, "ta", "t.a", app),
        ("tb", "ta", "t.a", tb), ("tb", "tc", "t.c", tb),
        ("ta", "tc", "t.c", ta), ("ta", "tc", "t.c2", ta)]
    assert res.order.index("tc") < res.order.index("ta") < res.order.index("tb")
    # on xen the backend's requirement is followed
    _d, xen, _p = run(tmp_path, WALK, "t.b, t.a", backend="xen")
    assert ("ta", "tx", "t.x", ta) in mine(xen.edges)
    assert "tx" in xen.selected and "tx" not in res.selected


def test_edges_read_as_a_tuple(tmp_path: Path) -> None:
    _d, res, _p = run(tmp_path, WALK, "t.b, t.a")
    edges = res.edges
    assert isinstance(edges, Edges)
    as_tuple = tuple(edges)
    assert all(type(e) is Edge for e in as_tuple)
    assert len(edges) == len(as_tuple) and edges[0] == as_tuple[0]
    assert edges[1:3] == as_tuple[1:3] and edges[-1] == as_tuple[-1]
    empty = Edges(res.backend, [], [], {})
    assert empty == () and len(empty) == 0 and empty != edges and edges != ()
    assert edges == as_tuple and not (edges != as_tuple)
    assert repr(edges) == repr(as_tuple) and hash(edges) == hash(as_tuple)
    assert list(edges) == list(as_tuple)  # read again: the same edges, made once
    assert tuple(edges)[0] is as_tuple[0]
    assert edges.index(as_tuple[2]) == 2 and as_tuple[3] in edges
    # a resolution compares equal to one made again
    _d2, again, _p2 = run(tmp_path, WALK, "t.b, t.a")
    assert again.edges == res.edges and again.order == res.order


def test_a_requirement_without_provider_is_no_edge(tmp_path: Path) -> None:
    decls = WALK.replace("library tb { provides = [t.b]; requires = [t.a, t.c]; }",
                         "library tb { provides = [t.b]; requires = [t.none, t.a]; }")
    diags, res, p = run(tmp_path, decls, "t.b")
    assert [d.code for d in diags] == ["U0100"]
    tb = line_of(p, "library tb")
    assert mine(res.edges)[:2] == [(APP, "tb", "t.b", line_of(p, "requires = [t.b]")),
                                   ("tb", "ta", "t.a", tb)]
    assert all(e.construct != "t.none" for e in res.edges)


def test_cycle_through_parallel_requirements(tmp_path: Path) -> None:
    decls = """
construct t.a;
construct t.b;
construct t.b2;
library t1 { provides = [t.a]; requires = [t.b, t.b2]; }
library t2 { provides = [t.b, t.b2]; requires = [t.a]; }
"""
    diags, res, p = run(tmp_path, decls, "t.a")
    cycle = [d for d in diags if d.code == "U0102"]
    assert len(cycle) == 1
    d = cycle[0]
    assert d.message == "dependency cycle: t1 -> t.b -> t2 -> t.a -> t1"
    assert d.span.line == line_of(p, "library t1")
    assert [(l.span.line, l.message) for l in d.labels] == [
        (line_of(p, "library t2"), "`t2` requires `t.a`, provided by `t1`")]
    assert not res.ok
    # a failed order falls back to the names, sorted
    assert list(res.order) == sorted(res.selected)


@st.composite
def dags(draw):  # type: ignore[no-untyped-def]
    """Libraries l0..ln-1, each providing c_i and requiring (repeats allowed) some c_j."""
    n = draw(st.integers(1, 9))
    reqs = [draw(st.lists(st.integers(0, n - 1), max_size=4)) for _ in range(n)]
    names = draw(st.permutations([f"t{chr(97 + i)}" for i in range(n)]))
    roots = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
    return names, reqs, roots


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(world=dags())
def test_edges_and_order_match_a_plain_walk(tmp_path: Path, world) -> None:  # type: ignore[no-untyped-def]
    names, reqs, roots = world
    n = len(names)
    decls = "".join(f"construct t.c{i};\n" for i in range(n))
    for i, name in enumerate(names):
        body = f"provides = [t.c{i}];"
        if reqs[i]:
            listed = list(dict.fromkeys(reqs[i]))  # a list names each construct once
            body += f" requires = [{', '.join(f't.c{j}' for j in listed)}];"
        decls += f"library {name} {{ {body} }}\n"
    diags, res, _p = run(tmp_path, decls, ", ".join(f"t.c{r}" for r in roots))
    # the walk, written plainly: breadth first, an edge per requirement met
    edges: list[tuple[str, str, str]] = [(APP, names[r], f"t.c{r}") for r in roots]
    selected: list[int] = list(dict.fromkeys(roots))
    k = 0
    while k < len(selected):
        i = selected[k]
        k += 1
        for j in dict.fromkeys(reqs[i]):
            if j == i:
                continue  # its own construct
            edges.append((names[i], names[j], f"t.c{j}"))
            if j not in selected:
                selected.append(j)
    assert [(e.src, e.dst, e.construct) for e in res.edges
            if e.construct.startswith("t.")] == edges
    assert set(res.selected) - PLATFORM == {names[i] for i in selected}
    # the order: Kahn's algorithm on the edges, smallest name first, as graphs.ordered does
    from unilang.graphs import ordered

    deps = [(e.dst, e.src) for e in res.edges if e.src != APP]
    expect = ordered(sorted(res.selected), deps)
    if expect is None:
        assert any(d.code == "U0102" for d in diags) and not res.ok
    else:
        assert list(res.order) == expect
        # and it is a topological order with ties broken by name
        pos = {name: i for i, name in enumerate(res.order)}
        assert all(pos[a] < pos[b] for a, b in deps)
        left = {name: 0 for name in res.selected}
        for _a, b in deps:
            left[b] += 1
        heap = [name for name, d in left.items() if d == 0]
        heapq.heapify(heap)
        users: dict[str, list[str]] = {}
        for a, b in deps:
            users.setdefault(a, []).append(b)
        out = []
        while heap:
            m = heapq.heappop(heap)
            out.append(m)
            for u in users.get(m, []):
                left[u] -= 1
                if left[u] == 0:
                    heapq.heappush(heap, u)
        assert out == list(res.order)


# ---------------------------------------------------------------- policy stage

POLICY = """
capability t.cap;
capability t.net;
construct t.a;
construct t.b;
construct t.c;
library t1 { provides = [t.a]; exercises = [t.cap]; requires = [t.b, t.c]; }
library t2 { provides = [t.b]; exercises = [t.cap, t.net]; min_memory = 1 MiB; max_vcpus = 1; }
library t3 { provides = [t.c]; min_memory = 1 MiB; max_vcpus = 2; }
policy base { deny = [t.cap]; }
policy p { include = [base]; allow = [t.net]; require = [t.c]; }
policy q { deny = [t.net]; require = [t.b]; }
"""


def test_policy_findings_in_order_for_every_policy(tmp_path: Path) -> None:
    diags, res, _p = run(tmp_path, POLICY, "t.a",
                         app="    policies = [p, q];\n    vcpus = 2;\n    memory = 3 MiB;\n")
    got = [(d.code, d.message) for d in diags if d.code.startswith("U01")]
    assert ("U0107", "policy `p` denies capability `t.cap`, which `t1` exercises") in got
    assert ("U0107", "policy `p` denies capability `t.cap`, which `t2` exercises") in got
    assert ("U0107", "policy `q` denies capability `t.net`, which `t2` exercises") in got
    assert ("U0109", "app asks for 2 vcpus, but `t2` supports at most 1") in got
    assert any(c == "U0108" and "need" in m for c, m in got)
    assert [(v.policy, v.ok, v.findings) for v in res.verdicts] == [
        ("p", False, ("denies `t.cap`, exercised by `t1`", "denies `t.cap`, exercised by `t2`")),
        ("q", False, ("denies `t.net`, exercised by `t2`",))]
    assert not any(c == "U0105" for c, _m in got)  # t.b and t.c are both in the image
    assert not any(c == "U0152" for c, _m in got)  # t2 exercises t.net


# ---------------------------------------------------------------- C names

def test_macro_parts_may_clash() -> None:
    may = cnames.macro_parts_may_clash
    assert not may([]) and not may(["a", "b_c", "x9", "_1"]) and not may(["a-b", "c", "D"])
    assert may(["a-b", "a_b"]) and may(["A", "a"]) and may(["a-b", "A-B"])
    assert may(["Net", "nEt"]) and may(["\u017fys", "sys"])  # long s: upper case "SYS"


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text("abAB_-1\u017f\u0131", min_size=1, max_size=4), max_size=12))
def test_names_that_may_not_clash_do_not(names: set[str]) -> None:
    if not cnames.macro_parts_may_clash(names):
        parts = [cnames.macro_part(n) for n in names]
        assert len(set(parts)) == len(parts)
        inits = [cnames.init_symbol(n) for n in names]
        assert len(set(inits)) == len(inits)


def test_library_and_parameter_names_cannot_meet() -> None:
    """Why the checker may claim every library's names before any parameter's."""
    for lib in ("a", "net-stack", "have", "PARAM"):
        own = list(cnames.library_names(lib, True))
        assert own[0].startswith("UNILANG_HAVE_") and own[1].startswith("__unilang_init_")
        for p in ("x", "have", "mode"):
            for mac in cnames.param_macros(lib, p, ("poll", "irq")):
                assert mac.name.startswith("UNILANG_PARAM_")


def c_name_clashes(tmp: Path, decls: str) -> tuple[list[tuple[str, int]], Path]:
    (tmp / "hello.c").write_text("int main(void) { return 0; }\n")
    p = tmp / "app.uni"
    p.write_text("construct t.a;\nconstruct t.b;\n" + decls
                 + "app x { sources = [\"hello.c\"]; requires = [t.a]; }\n")
    session, _results = check_spec(p, ["kvm"], Session(cache=CACHE))
    return [(d.message, d.span.line) for d in session.sink.items if d.code == "U0038"], p


def test_library_and_parameter_clashes_in_source_order(tmp_path: Path) -> None:
    got, p = c_name_clashes(tmp_path, """
library t-x { provides = [t.a]; param mtu: int = 1500; }
library t_x { provides = [t.b]; param mtu: int = 1; }
library t-p { provides = [t.b]; param q_r: int = 1; }
library t-p-q { provides = [t.b]; param r: int = 1; }
library t-y { provides = [t.b]; }
library t_y { provides = [t.b]; }
""")
    assert got == [
        ("libraries `t-x` and `t_x` generate the same C name `UNILANG_HAVE_T_X`",
         line_of(p, "library t_x")),
        ("parameters `t-p.q_r` and `t-p-q.r` generate the same C name "
         "`UNILANG_PARAM_T_P_Q_R`", line_of(p, "library t-p-q")),
        ("libraries `t-y` and `t_y` generate the same C name `UNILANG_HAVE_T_Y`",
         line_of(p, "library t_y"))]


def test_parameter_clashes_when_no_library_clashes(tmp_path: Path) -> None:
    got, p = c_name_clashes(tmp_path, """
library t-p { provides = [t.a]; param q_r: int = 1; param mode: enum(poll, irq) = poll; }
library t-p-q { provides = [t.b]; param r: int = 1; }
library t-z { provides = [t.b]; param mode_name: string = "x"; }
library t-p-mode { provides = [t.b]; param irq: int = 1; }
""")
    assert got == [
        ("parameters `t-p.q_r` and `t-p-q.r` generate the same C name "
         "`UNILANG_PARAM_T_P_Q_R`", line_of(p, "library t-p-q")),
        ("enum member `irq` of `t-p.mode` and parameter `t-p-mode.irq` generate the same C "
         "name `UNILANG_PARAM_T_P_MODE_IRQ`", line_of(p, "library t-p-mode"))]


# ---------------------------------------------------------------- unused imports

def test_an_import_is_used_by_any_kind_of_definition(tmp_path: Path) -> None:
    files = {
        "lib.uni": "construct t.a;\nlibrary t1 { provides = [t.a]; }\n",
        "cap.uni": "capability t.cap;\n",
        "pol.uni": "policy p { require = [t.a]; }\n",
        "con.uni": "construct t.only;\n",
        "idle.uni": "construct t.idle;\ncapability t.idle-cap;\n",
    }
    decls = ("import lib;\nimport cap;\nimport pol;\nimport con;\nimport idle;\n"
             "policy own { deny = [t.cap]; }\n")
    diags, res, _p = run(tmp_path, decls, "t.a", app="    policies = [p, own];\n",
                         files=files)
    warned = sorted(d.message for d in diags if d.code == "U0150")
    assert len(warned) == 2
    assert "con.uni" in warned[0] and "idle.uni" in warned[1]
    assert res.ok


def test_a_library_reached_by_two_constructs_is_selected_once(tmp_path: Path) -> None:
    """A checked program's `use` always names a provider of the construct (U0113),
    but the walk does not depend on it: a library reached first by its one
    construct and then by a `use` for another is one selected library."""
    import attrs

    from unilang import model as M
    from unilang.diagnostics import Sink
    from unilang.resolve import resolve

    decls = ("construct t.a;\nconstruct t.b;\n"
             "library t1 { provides = [t.a]; }\nlibrary t2 { provides = [t.b]; }\n")
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    p = tmp_path / "app.uni"
    p.write_text(decls + "app x {\n    sources = [\"hello.c\"];\n    requires = [t.a, t.b];\n}\n")
    _session, results = check_spec(p, ["kvm"], Session(cache=CACHE))
    program = results[0].program
    assert program is not None and program.app is not None
    app = program.app
    odd = M.Choice(M.Ref("t.b", app.span), M.Ref("t1", app.span), app.span)
    for reqs in (app.requires, tuple(reversed(app.requires))):
        res = resolve(attrs.evolve(program, app=attrs.evolve(app, requires=reqs,
                                                             choices=(odd,))), Sink())
        assert [n for n in res.order if n.startswith("t")] == ["t1"]
        assert list(res.selected).count("t1") == 1 and "t2" not in res.selected
        assert res.providers["t.a"] == res.providers["t.b"] == "t1"
        assert [(e.src, e.dst, e.construct) for e in res.edges if e.dst == "t1"] == [
            (APP, "t1", c) for c in [r.construct.name for r in reqs]]
