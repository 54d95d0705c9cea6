"""The checker: syntax trees of all loaded modules -> the typed ``Program``.

It validates every declaration against its kind's schema (keys, types,
ranges), collects definitions across modules (duplicates), and resolves
every name (constructs, capabilities, libraries, policies, backends),
suggesting the closest match for a misspelling.  All problems are
collected; nothing stops at the first.

The parts, by job: ``base`` (shared state, reporting), ``symbols`` (pass 1:
collect, references), ``schema`` (typed keys), ``params`` (parameters and
overrides), ``files`` (sources and headers), ``cnaming`` (C names), and the
builders of pass 2: ``library``, ``policies``, ``app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Container, TypeVar

from .. import model as M
from ..diagnostics import Sink
from ..loader import LoadedModule

if TYPE_CHECKING:
    from ..importhint import ImportHints
from .app import Apps
from .library import Libraries
from .policies import Policies

T = TypeVar("T")


class Checker(Libraries, Policies, Apps):
    """The whole checker: pass 1 collects the symbols, pass 2 builds each block."""

    def run(self) -> M.Program:
        self.collect()
        # modelled in the order of the files (each block's text and head are
        # near the last one's in memory: on a 100,000-library world, name order
        # jumped about), kept in name order
        libraries = _by_name({name: self.library(block, mod) for name, (block, mod)
                              in self.library_blocks.items()})
        self.c_name_collisions(libraries)
        policies = {name: self.policy(b, m) for name, (b, m) in sorted(self.policy_blocks.items())}
        self.policy_include_cycles(policies)
        app = None
        if self.app_blocks:
            block, mod = self.app_blocks[0]
            app = self.app(block, mod, libraries)
        return M.Program(
            backend=self.backend, app=app,
            constructs=_by_name(self.constructs),
            capabilities=_by_name(self.capabilities),
            libraries=libraries, policies=policies,
            modules=tuple(m.info for m in self.modules),
        )


def _by_name(d: dict[str, T]) -> dict[str, T]:
    """``d`` sorted by key (sorting the keys alone: cheaper than sorting its items)."""
    return {k: d[k] for k in sorted(d)}


def check_modules(modules: list[LoadedModule], backend: str, sink: Sink,
                  foreign: Container[str] = frozenset(),
                  hints: "ImportHints | None" = None) -> M.Program:
    return Checker(modules, backend, sink, foreign, hints).run()
