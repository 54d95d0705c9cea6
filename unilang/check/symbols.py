"""Pass 1: the symbols every module defines (constructs, capabilities, the blocks of
libraries, policies and the app), duplicates among them, and references to them."""

from __future__ import annotations

from typing import Callable, Mapping

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span, one_of
from .base import MAX_NAME, Base, suggestion


class Symbols(Base):
    """Pass 1 and name resolution: what is defined where, and references to it."""

    def collect(self) -> None:
        root = self.modules[0] if self.modules else None
        # once per declaration of every module: what is looked up each time is bound here
        constructs, capabilities = self.constructs, self.capabilities
        libraries, policies = self.library_blocks, self.policy_blocks
        Symbol, Block, Construct, Capability = S.Symbol, S.Block, M.Construct, M.Capability
        for mod in self.modules:
            module = mod.info.name
            for decl in mod.tree.decls:
                if isinstance(decl, Symbol):
                    name = decl.name
                    is_construct = decl.kind == "construct"
                    prev = (constructs if is_construct else capabilities).get(name)
                    if prev is not None:
                        self.duplicate(decl.kind, name, decl.name_span, prev.span)
                        continue
                    if is_construct:
                        constructs[name] = Construct(name, decl.doc, decl.name_span, module)
                    else:
                        capabilities[name] = Capability(name, decl.doc, decl.name_span, module)
                elif isinstance(decl, Block):
                    if len(decl.name) > MAX_NAME:  # (a lazy block's span is made when read)
                        self.check_name(decl.kind, decl.name, decl.name_span)
                    if decl.kind == "app":
                        if mod is not root:
                            self.err("U0039", f"app `{decl.name}` is declared in an imported "
                                     "module", decl.name_span,
                                     help="only the spec given on the command line declares the app")
                            continue
                        if self.app_blocks:
                            first = self.app_blocks[0][0]
                            self.err("U0039", f"a spec declares one app, but `{decl.name}` is "
                                     "a second one", decl.name_span,
                                     labels=(Label(first.name_span,
                                                   f"app `{first.name}` is declared here"),),
                                     help="put each app in a spec of its own; they can share "
                                          "modules by importing them")
                            continue
                        self.app_blocks.append((decl, mod))
                        continue
                    blocks = libraries if decl.kind == "library" else policies
                    if decl.name in blocks:
                        prev, prev_mod = blocks[decl.name]
                        if mod.info.root == "stdlib" and prev_mod.info.root != "stdlib":
                            # the user's declaration is the one to rename: report it there
                            self.err("U0030", f"{decl.kind} `{decl.name}` is defined more than "
                                     "once: the standard library defines it too",
                                     prev.name_span,
                                     labels=(Label(decl.name_span,
                                                   "the standard library defines it here"),),
                                     help=f"rename this {decl.kind}")
                        else:
                            self.duplicate(decl.kind, decl.name, decl.name_span, prev.name_span)
                        continue
                    blocks[decl.name] = (decl, mod)
        if root is not None and not self.app_blocks:
            self.err("U0039", f"`{root.info.name}` declares no app",
                     Span(root.info.name, 1, 1, 1, 1),
                     help="a spec needs one `app NAME { ... }` block")

    def _ref(self, what: str, known: Mapping[str, object], name: str,
             span: Span) -> M.Ref | None:
        """A reference to a ``what`` defined in ``known``; None after reporting it unknown."""
        if name not in known:
            self.unknown(what, name, span, known)
            return None
        return M.Ref(name, span)

    def construct_ref(self, n: S.Name) -> M.Ref | None:
        return self._ref("construct", self.constructs, n.value, n.span)

    def capability_ref(self, n: S.Name) -> M.Ref | None:
        return self._ref("capability", self.capabilities, n.value, n.span)

    def library_ref(self, n: S.Name | tuple[str, Span]) -> M.Ref | None:
        name, span = (n.value, n.span) if isinstance(n, S.Name) else n
        return self._ref("library", self.library_blocks, name, span)

    def policy_ref(self, n: S.Name) -> M.Ref | None:
        return self._ref("policy", self.policy_blocks, n.value, n.span)

    def backend_ref(self, n: S.Name) -> str | None:
        if n.value not in self.known_backends:
            self.err("U0037", f"unknown backend `{n.value}`", n.span,
                     help=suggestion(n.value, self.known_backends),
                     notes=(f"expected one of {one_of(self.known_backends)}",))
            return None
        return n.value

    def refs(self, f: S.Field | None,
             resolve: Callable[[S.Name], M.Ref | None]) -> tuple[M.Ref, ...]:
        if f is None:
            return ()
        assert isinstance(f.value, S.List)
        out: list[M.Ref] = []
        seen: dict[str, Span] = {}
        for item in f.value.items:
            assert isinstance(item, S.Name)
            if item.value in seen:
                self.err("U0033", f"`{item.value}` is listed more than once in `{f.key}`",
                         item.span, labels=(Label(seen[item.value], "first listed here"),))
                continue
            seen[item.value] = item.span
            r = resolve(item)
            if r is not None:
                out.append(r)
        return tuple(out)
