"""The fast parser's whole-declaration path (unilang.front.bulk) builds exactly
the trees of its token path and of lark: on bench's synthetic world, where it
must match every library and construct, and on generated declarations of the
shapes it handles and the near misses it must leave to the token path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unilang.front import bulk, reference_parse
from unilang.front.fast import parse_fast
from unilang.front.source import SourceFile

from support import bench_gen

ROOT = Path(__file__).resolve().parent.parent


def token_path_only(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(bulk.Bulk, "decl", lambda self, pos, lazy=None: None)
        return parse_fast(text, "t.uni", [])


def counted(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[int]]:
    """The fast parse, and how many declarations the bulk path matched / left."""
    calls = [0, 0]
    original = bulk.Bulk.decl

    def decl(self: bulk.Bulk, pos: int, lazy=None):  # type: ignore[no-untyped-def]
        found = original(self, pos, lazy)
        calls[found is None] += 1
        return found

    with monkeypatch.context() as m:
        m.setattr(bulk.Bulk, "decl", decl)
        return parse_fast(text, "t.uni", []), calls


def lazily(text: str) -> object:
    """The fast parse with lazy library blocks, each made whole again (and checked
    to read back as the whole one: members, head and comments)."""
    import attrs

    from unilang.front import syntax as S
    from unilang.front.fast import parse_fast_or_offset

    found = parse_fast_or_offset(text, "t.uni", [], lazy=True)
    if isinstance(found, int):
        return None
    decls = []
    for d in found.decls:
        if isinstance(d, S.LazyBlock):
            whole = d.full()
            assert (d.kind, d.name, d.name_span, d.span, d.comments, d.members) == (
                whole.kind, whole.name, whole.name_span, whole.span, whole.comments, whole.members)
            assert d.names_files or not any(getattr(m, "key", None) in ("sources", "includes",
                                                                       "files")
                                            for m in whole.members)
            d = whole
        decls.append(d)
    return attrs.evolve(found, decls=tuple(decls))


def lark(text: str) -> object:
    tree, errors = reference_parse(SourceFile("t.uni", Path("t.uni"), text, ""))
    assert not errors
    return tree


def test_bench_world_is_matched_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = bench_gen()
    paths = gen.generate(300, tmp_path, modules=3)
    text = Path(paths["one"]).read_text(encoding="utf-8")
    fast, (hits, misses) = counted(text, monkeypatch)
    assert fast is not None
    assert fast == lark(text) == token_path_only(text, monkeypatch) == lazily(text)
    # 300 constructs, 300 libraries, 4 capabilities: whole; the policy, the app and
    # the dotted capability with its doc string... all but the two blocks and the end
    assert hits == 300 + 300 + 5
    assert misses == 3  # the policy, the app and the end of the file


NAMES = ["x", "a-b", "c_1", "in", "on", "true", "false", "lib.x", "a.b.c", "true.x"]
BLANK = st.sampled_from([" ", "  ", "\n", " \n  ", "\t", "", "\r\n"])


def item() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NAMES), st.sampled_from(['"s"', "1", "a .b"]))


@st.composite
def library(draw: st.DrawFn) -> str:
    out = [draw(st.sampled_from(["library", "librar", "library\n"])), draw(BLANK), " ",
           draw(st.sampled_from(["l", "l-2", "in"])), draw(BLANK), "{"]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3))
        b = draw(BLANK)
        if kind == 0:
            key = draw(st.sampled_from(["doc", "provides", "on", "param", "set", "k-1"]))
            value = draw(st.one_of(
                st.sampled_from(['"d"', '"a # b"', '"a // b"', '"e\\n"', "x", "true",
                                 "lib.x", "7", "-3", "0x10", "4 KiB", "00012"]),
                st.lists(item(), max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
                st.sampled_from(["[x,]", "[ ]", "[,]", "[x y]", "[x,\n y ,\n]"])))
            out += [b, key, draw(BLANK), "=", draw(BLANK), value, draw(BLANK), ";"]
        elif kind == 1:
            typ = draw(st.sampled_from(["int", "size", "enum", "bool"]))
            default = draw(st.sampled_from(["", " = 1", " = -2", "= 3", " = 4 KiB", " =5"]))
            rng = draw(st.sampled_from(["", " in 1 .. 2", " in 1..2", " in -1 ..\n 9",
                                        "in 1 .. 2"]))
            doc = draw(st.sampled_from(["", ' "doc"', '"doc"', ' "a#b"']))
            out += [b, "param", draw(st.sampled_from([" ", "\n", ""])), "p", draw(BLANK), ":",
                    draw(BLANK), typ, default, rng, doc, draw(BLANK), ";"]
        elif kind == 2:
            out += [b, draw(st.sampled_from(["# c\n", "// c\n", "use x for y;", "set a.b = 1;"]))]
        else:
            out += [b, "requires on kvm = [x];"]
    out += [draw(BLANK), "}"]
    return "".join(out)


@st.composite
def symbol(draw: st.DrawFn) -> str:
    return "".join([draw(st.sampled_from(["construct", "capability"])),
                    draw(st.sampled_from([" ", "\n", "  "])),
                    draw(st.sampled_from(NAMES + ["a. b", "a.", "x1"])),
                    draw(st.sampled_from(["", ' "doc"', '"d"', ' "a#b"', ' "\\t"'])),
                    draw(BLANK), draw(st.sampled_from([";", "", " ;"]))])


specs = st.lists(st.one_of(library(), symbol()), max_size=5).map(
    lambda ds: "\n".join(ds))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=specs, tail=st.sampled_from(["", "\n", "# tail\n", "  // x"]))
def test_bulk_agrees_with_the_token_path_and_lark(text: str, tail: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text += tail
    fast = parse_fast(text, "t.uni", [])
    slow = token_path_only(text, monkeypatch)
    assert fast == slow
    assert lazily(text) == fast
    if fast is not None:
        assert fast == lark(text)


def test_shapes_the_bulk_path_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    text = ('construct a.b;\ncapability c "doc # not a comment";\n'
            'library l {\n  doc = "d";\n  provides = [a.b, x,];\n  rank = 3;\n  init = f;\n'
            '  default = true;\n  requires = [\n    x,\n    y\n  ];\n'
            '  param p: int = 4 in 1 .. 8 "P";\n  param q: size;\n}\n# after\n')
    fast, (hits, misses) = counted(text, monkeypatch)
    assert hits == 3 and misses == 1  # the three declarations; then only the comment
    assert fast == lark(text) == token_path_only(text, monkeypatch) == lazily(text)


# ---------------------------------------------------------------- the checker's plain path

def checked(spec: Path, monkeypatch: pytest.MonkeyPatch, plain: bool) -> tuple[object, list]:
    from unilang.check.library import Libraries
    from unilang.driver import Session

    with monkeypatch.context() as m:
        if not plain:
            m.setattr(Libraries, "plain_library", lambda self, block, mod, members: None)
            m.setattr(Libraries, "plain_lazy", lambda self, block, mod: None)
            m.setattr(Libraries, "plain_parts", lambda self, block, mod, *parts: None)
        session = Session()
        program = session.front_end(spec, "kvm")
        return program, session.sink.sorted()


@pytest.mark.parametrize("variant", ["world", "slips"])
def test_plain_libraries_model_as_the_full_check(tmp_path: Path, variant: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Libraries built by ``plain_library`` equal the full path's, and where it
    declines (duplicates, unknown names, other keys), the diagnostics are the same."""
    gen = bench_gen()
    spec = Path(gen.generate(200, tmp_path, modules=2)["one"])
    if variant == "slips":
        text = spec.read_text(encoding="utf-8")
        text = text.replace("requires = [c16, c17, c27];", "requires = [c16, c16, nope];", 1)
        text = text.replace('doc = "Synthetic library 3";', 'doc = "a"; doc = "b";', 1)
        text = text.replace("provides = [c4];", "provides = [c4]; rank = 2;", 1)
        text += 'library extra { provides = []; exercises = [bench.cap1]; requires on kvm = [c1]; }\n'
        spec.write_text(text, encoding="utf-8")
    fast, fast_diags = checked(spec, monkeypatch, plain=True)
    full, full_diags = checked(spec, monkeypatch, plain=False)
    assert fast == full
    assert fast_diags == full_diags
    if variant == "slips":
        assert {d.code for d in fast_diags} >= {"U0031", "U0033"}
    else:
        assert fast_diags == []


def test_a_list_without_commas_is_no_list(tmp_path: Path) -> None:
    """`[x y]` is not a list of names: the bulk path leaves it to the token path
    and the check reports it (Python 3.11.2's possessive-group bug, CPython
    gh-106052, once let it through and the lazy block failed to build: U0999)."""
    from unilang.driver import Session

    assert bulk._DECL.match("library l { doc = [x, y] ; }") is not None
    assert bulk._DECL.match("library l { doc = [x y] ; }") is None
    spec = tmp_path / "t.uni"
    spec.write_text("app a { requires = []; }\nlibrary l { doc = [x y]; }\n", encoding="utf-8")
    session = Session()
    session.front_end(spec, "kvm")
    codes = [d.code for d in session.sink.sorted()]
    assert codes and "U0999" not in codes


KNOWN = ["c0", "c1", "c2", "bench.cap0"]
PLAIN_NAMES = ["c0", "c1", "c2", "nope", "bench.cap0", "true"]


@st.composite
def plain_library(draw: st.DrawFn) -> str:
    """A library block of the plain shape or a near miss: the keys in any order,
    some twice, lists written tightly or loosely, names known or not, params
    in range or not."""
    members = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["doc", "provides", "requires", "exercises", "param",
                                     "rank"]))
        if kind == "doc":
            members.append(draw(st.sampled_from(['doc = "d";', 'doc="a; b";', 'doc = "";'])))
        elif kind == "param":
            members.append(draw(st.sampled_from([
                'param size: int = 4 in 1 .. 8 "Size";', "param size: int = 9 in 1 .. 8;",
                "param n: int;", 'param n: bool = 1 "x;y";', "param 2x: int;",
                "param lo: int = -3 in -5 .. 0;", "param b: int = 1 in -9223372036854775808 .. 5;",
                "param e: int = 2 in 3 .. 1;", f"param {'p' * 65}: int = 1 in 0 .. 2;",
                "param m-x: int = 1 in 0 .. 2;", "param s: size = 1 in 0 .. 2;"])))
        elif kind == "rank":
            members.append("rank = 2;")
        else:
            names = draw(st.lists(st.sampled_from(PLAIN_NAMES), max_size=3))
            sep = draw(st.sampled_from([", ", ",", " , ", ",\n  "]))
            members.append(f"{kind} = [{sep.join(names)}];")
    blank = draw(st.sampled_from([" ", "\n    ", "  "]))
    return "library lib {" + "".join(blank + m for m in members) + "\n}\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(block=plain_library())
def test_plain_parts_model_as_the_full_check(block: str, tmp_path_factory: pytest.TempPathFactory,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``Libraries.plain_parts`` (the plain path of lazy blocks) builds what the
    full path builds, and declines, reporting nothing, wherever the full path
    reports something about the block's fields."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "main.c").write_text("int main(void) { return 0; }\n", encoding="utf-8")
    spec = folder / "t.uni"
    spec.write_text("construct c0;\nconstruct c1;\nconstruct c2;\n"
                    'capability bench.cap0 "A capability";\n'
                    'app a { sources = ["main.c"]; requires = [c0]; }\n' + block,
                    encoding="utf-8")
    fast, fast_diags = checked(spec, monkeypatch, plain=True)
    full, full_diags = checked(spec, monkeypatch, plain=False)
    assert fast == full
    assert fast_diags == full_diags


def test_no_possessive_repeat_of_a_group() -> None:
    """No regular expression in the compiler repeats a group possessively
    (`(...)*+`, `(...)++`, `(...)?+`): Python before 3.11.5 matches those wrongly
    when the group can backtrack (CPython gh-106052), and `make setup` uses
    Debian 12's 3.11.2.  Single characters and classes (`x*+`, `[...]++`) are fine."""
    import tokenize

    offenders = []
    for f in sorted((ROOT / "unilang").rglob("*.py")):
        with f.open("rb") as fh:
            for tok in tokenize.tokenize(fh.readline):
                if tok.type == tokenize.STRING and any(p in tok.string for p in (")*+", ")++", ")?+")):
                    offenders.append(f"{f.relative_to(ROOT)}:{tok.start[0]}")
    assert offenders == []


def test_a_plain_block_reads_the_same_twice(tmp_path: Path) -> None:
    """The loader keeps a plain block's match for the checker and the first
    ``plain()`` hands it over; a second reader (another backend's checker)
    gets the same parts from a new match, and both backends check clean."""
    from unilang.driver import Session, check_spec
    from unilang.front import syntax as S
    from unilang.front.fast import parse_fast_or_offset

    text = ('library l { doc = "d"; provides = [a]; requires = [b, c];\n'
            '  param p: int = 2 in 1 .. 3 "P"; }\n')
    tree = parse_fast_or_offset(text, "t.uni", [], lazy=True)
    block = tree.decls[0]
    assert isinstance(block, S.LazyBlock)
    first = block.plain()
    assert first is not None and block.plain() == first
    gen = bench_gen()
    spec = Path(gen.generate(100, tmp_path, modules=1)["one"])
    session, results = check_spec(spec, ["kvm", "xen"], Session())
    assert session.sink.items == []
    kvm, xen = (r.program for r in results)
    assert kvm is not None and xen is not None
    assert kvm.libraries["lib5"] == xen.libraries["lib5"]
