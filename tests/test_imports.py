"""The stages of the package import each other in one direction only.

Every import in ``unilang/`` counts: relative and absolute (``unilang.``), at
module level, inside functions and under ``if TYPE_CHECKING:``.  A circle
among them means a stage calls back into an earlier one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import unilang
from unilang.graphs import cycles

PACKAGE = Path(unilang.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The unilang modules ``name`` (at ``path``) imports anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from X import Y` imports the module X.Y when there is one, else X
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_the_graph_sees_every_kind_of_import() -> None:
    g = import_graph()
    assert "unilang.check.base" in g["unilang.check.schema"]  # relative, same package
    assert "unilang.cnames" in g["unilang.check.cnaming"]  # `from .. import cnames`
    assert "unilang.check" in g["unilang.driver"]  # function-local
    assert "unilang.loader" in g["unilang.model"]  # under TYPE_CHECKING


def test_no_import_circles() -> None:
    g = import_graph()
    found = cycles(sorted(g), [(a, b) for a in sorted(g) for b in sorted(g[a])])
    circles = [" -> ".join([a for a, _ in c] + [c[0][0]]) for c in found]
    assert not circles, "import circles in unilang/:\n  " + "\n  ".join(circles)


def test_cycles_are_ordered_and_start_where_asked() -> None:
    edges = [("b", "a"), ("a", "b"), ("a", "b"), ("c", "c"), ("x", "y")]
    assert cycles("abcxy", edges) == [[("a", "b"), ("b", "a")], [("c", "c")]]
    assert cycles("abcxy", edges, start=max, order=max) == [
        [("b", "a"), ("a", "b")], [("c", "c")]]
    assert cycles("ab", [("a", "b")]) == []
