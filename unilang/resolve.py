"""Resolution: which libraries go into the image for one backend, in which order.

From the app, walk app -> required construct -> chosen provider -> its
required constructs -> ...  A construct's provider is the app's explicit
choice (`use L for C;`), else the only candidate on this backend, else the
candidate marked `default = true`, else the one with the strictly highest
`rank`; anything else is an error listing the candidates.  Libraries not
reached are pruned.  Init order is a topological order (dependencies
first) with ties broken by name, so it never depends on hashing or file
order.  Policies and resources are checked afterwards, by ``unilang.policy``.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

import attrs

from . import model as M
from .cnames import param_macro
from .diagnostics import Diagnostic, Label, Severity, Sink, Span, error, warning
from .netrules import NetRules

APP = "app"


def _chain_key(parent: "Selected | None") -> tuple[str, ...] | None:
    return None if parent is None else parent.chain


@attrs.frozen
class Selected:
    """A selected library and how it was first reached.

    The chain that reached it is kept as a link to the library that required
    it (``parent``; None for the app), not as a tuple per library: a tuple
    each would cost quadratic time and memory in the depth of the graph.
    ``chain`` expands it, only when a diagnostic or a report shows it."""

    library: M.Library
    #: The construct it was selected for first, and where that was required.
    construct: str
    required_at: Span
    #: ``app NAME``: where every chain starts.
    origin: str
    #: The library that first required it; None when the app did.  Compared
    #: by the chain it stands for (iteratively: no recursion on deep chains).
    parent: "Selected | None" = attrs.field(default=None, eq=_chain_key, repr=False)

    @property
    def chain(self) -> tuple[str, ...]:
        """The shortest chain that reached it: ("app hello", "console", "uart16550")."""
        hops: list[Selected] = []
        s: Selected | None = self
        while s is not None:
            hops.append(s)
            s = s.parent
        out = [self.origin]
        for h in reversed(hops):
            out += (h.construct, h.library.name)
        return tuple(out)


@attrs.frozen
class ParamValue:
    library: str
    name: str
    type: M.ParamType
    value: M.PValue
    origin: str  # "default" or "override"
    span: Span  # the declaration (default) or the `set` line (override)

    @property
    def macro(self) -> str:
        return param_macro(self.library, self.name)


@attrs.frozen
class Pruned:
    name: str
    reason: str


@attrs.frozen
class Edge:
    src: str  # APP or a library name
    dst: str  # a library name
    construct: str
    span: Span  # where src requires the construct


@attrs.frozen
class Verdict:
    policy: str
    ok: bool
    findings: tuple[str, ...]


@attrs.frozen
class Resolution:
    backend: str
    app: M.App
    order: tuple[str, ...]
    selected: dict[str, Selected]
    providers: dict[str, str]
    edges: tuple[Edge, ...]
    params: tuple[ParamValue, ...]
    pruned: tuple[Pruned, ...]
    ok: bool
    #: Filled by the policy stage (``unilang.policy.check_policies``).
    verdicts: tuple[Verdict, ...] = ()
    #: Pruned libraries that provide a construct another library was chosen for.
    lost: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    #: The network rules of the applied policies, for the run-time tables
    #: (filled by the policy stage; ``NetRules()`` restricts nothing).
    net: NetRules = NetRules()


def chain_str(chain: Iterable[str]) -> str:
    return " -> ".join(chain)


class Resolver:
    def __init__(self, program: M.Program, sink: Sink) -> None:
        assert program.app is not None
        self.p = program
        self.app = program.app
        self.backend = program.backend
        self.sink = sink
        self.diags: list[Diagnostic] = []
        self.providers_of: dict[str, list[M.Library]] = {}
        for lib in program.libraries.values():  # sorted by name
            for c in lib.provides:
                self.providers_of.setdefault(c.name, []).append(lib)
        self.choices = {c.construct.name: c for c in self.app.choices}
        self.chosen: dict[str, str | None] = {}
        self.lost: dict[str, tuple[str, str]] = {}  # library -> (construct, winner)

    def report(self, d: Diagnostic) -> None:
        self.diags.append(attrs.evolve(d, backend=self.backend))

    # ------------------------------------------------------------ providers
    def pick(self, construct: str, by: Selected | None, span: Span) -> str | None:
        """The provider of ``construct`` on this backend, or None after reporting why.

        ``by`` is the selected library that requires it (None: the app)."""
        if construct in self.chosen:
            return self.chosen[construct]
        result = self._pick(construct, by, span)
        self.chosen[construct] = result
        if result is not None:
            for lib in self.providers_of.get(construct, []):
                if lib.name != result and lib.name not in self.lost:
                    self.lost[lib.name] = (construct, result)
        return result

    def chain_of(self, by: Selected | None) -> tuple[str, ...]:
        return by.chain if by is not None else (f"app {self.app.name}",)

    def _pick(self, construct: str, by: Selected | None, span: Span) -> str | None:
        all_providers = self.providers_of.get(construct, [])

        def note() -> str:  # built only for a diagnostic: O(depth) each
            return f"required by: {chain_str(self.chain_of(by) + (construct,))}"

        choice = self.choices.get(construct)
        if choice is not None:
            lib = self.p.libraries[choice.library.name]
            if not lib.supports(self.backend):
                self.report(error(
                    "U0104", f"library `{lib.name}` does not support backend `{self.backend}`",
                    choice.library.span,
                    labels=(Label(lib.span, f"supports: {', '.join(lib.backends)}"),),
                    notes=(note(),),
                    help=self._alternatives(construct, lib.name)))
                return None
            return lib.name
        candidates = [l for l in all_providers if l.supports(self.backend)]
        if not candidates:
            others = [l for l in all_providers if not l.supports(self.backend)]
            notes = [note()]
            for o in others:
                notes.append(f"`{o.name}` provides `{construct}` but supports only "
                             f"{', '.join(o.backends)}")
            self.report(error(
                "U0100", f"no library provides `{construct}` for backend `{self.backend}`", span,
                notes=tuple(notes),
                help=("add a library that provides it for this backend, or remove the "
                      "requirement")))
            return None
        if len(candidates) == 1:
            return candidates[0].name
        defaults = [l for l in candidates if l.default]
        if len(defaults) == 1:
            return defaults[0].name
        pool = defaults or candidates
        top = max(l.rank for l in pool)
        best = [l for l in pool if l.rank == top]
        if len(best) == 1 and not (len(defaults) > 1 and top == 0):
            return best[0].name
        names = [l.name for l in best]
        why = ("several are marked `default = true`" if len(defaults) > 1
               else "none is marked `default = true` and none has a higher `rank`")
        self.report(error(
            "U0101", f"`{construct}` has {len(names)} possible providers for backend "
            f"`{self.backend}`: {', '.join(names)}", span,
            labels=tuple(Label(l.span, "candidate") for l in best),
            notes=(note(), why),
            help=f"choose one in the app: `use {names[0]} for {construct};`"))
        return None

    def _alternatives(self, construct: str, not_this: str) -> str | None:
        alts = [l.name for l in self.providers_of.get(construct, [])
                if l.name != not_this and l.supports(self.backend)]
        if alts:
            return f"choose a provider for this backend: `use {alts[0]} for {construct};`"
        return None

    # ------------------------------------------------------------ walk
    def walk(self) -> tuple[dict[str, Selected], list[Edge]]:
        selected: dict[str, Selected] = {}
        edges: list[Edge] = []
        origin = f"app {self.app.name}"
        # (requirer, its Selected or None for the app, its requirements)
        queue: deque[tuple[str, Selected | None, Iterable[M.Requirement]]] = deque()
        reqs = list(self.app.requires)
        if "boot" in self.p.constructs and not any(r.construct.name == "boot" for r in reqs):
            # Every app implicitly requires `boot`: without it there is no machine.
            reqs.insert(0, M.Requirement(M.Ref("boot", self.app.span)))
        queue.append((APP, None, reqs))
        # the loop runs once per requirement of every selected library: the
        # common steps (a provider already picked, a requirement for every
        # backend) are written out rather than called
        backend = self.backend
        chosen = self.chosen
        libraries = self.p.libraries
        missing = object()
        while queue:
            src, by, pending = queue.popleft()
            own = by.library.provides if by is not None else ()
            for req in pending:
                if req.backends is not None and backend not in req.backends:
                    continue  # not required on this backend (Requirement.applies)
                ref = req.construct
                c = ref.name
                if own and (own[0].name == c or
                            (len(own) > 1 and any(p.name == c for p in own[1:]))):
                    continue  # a library satisfies its own requirement
                lib_name = chosen.get(c, missing)
                if lib_name is missing:
                    lib_name = self.pick(c, by, ref.span)
                if lib_name is None:
                    continue
                edges.append(Edge(src, lib_name, c, ref.span))  # type: ignore[arg-type]
                if lib_name in selected:
                    continue
                lib = libraries[lib_name]  # type: ignore[index]
                s = Selected(lib, c, ref.span, origin, by)
                selected[lib_name] = s  # type: ignore[index]
                queue.append((lib_name, s, lib.requires))  # type: ignore[arg-type]
        return selected, edges

    # ------------------------------------------------------------ order and cycles
    def order(self, selected: dict[str, Selected], edges: list[Edge]) -> tuple[str, ...] | None:
        from .graphs import cycles, ordered

        # dependency first; made one at a time (a list of them was the peak of
        # a 100,000-library check: a tuple for every requirement)
        deps = ((e.dst, e.src) for e in edges if e.src != APP)
        order = ordered(sorted(selected), deps)
        if order is not None:
            return tuple(order)
        first_edge: dict[tuple[str, str], Edge] = {}
        for e in edges:
            if e.src != APP:
                first_edge.setdefault((e.src, e.dst), e)
        # each cycle follows "requires" edges from its smallest name
        for cycle in cycles(sorted(selected), first_edge):
            links = [first_edge[(a, b)] for a, b in cycle]
            names = []
            for link in links:
                names += [link.src, link.construct]
            names.append(links[0].src)
            labels = [Label(l.span, f"`{l.src}` requires `{l.construct}`, provided by "
                      f"`{l.dst}`") for l in links]
            notes = tuple(f"`{l.src}` is defined at {self.p.libraries[l.src].span.location}"
                          for l in links)
            self.report(error(
                "U0102", "dependency cycle: " + " -> ".join(names), labels[0].span,
                labels=tuple(labels[1:]), notes=notes,
                help="break the cycle: one of these libraries must not require the next"))
        return None

    # ------------------------------------------------------------ conflicts, backends
    def conflicts(self, selected: dict[str, Selected]) -> None:
        seen: set[tuple[str, str]] = set()
        for name in sorted(selected):
            lib = selected[name].library
            for c in lib.conflicts:
                if c.name not in selected:
                    continue
                pair = tuple(sorted((name, c.name)))
                if pair in seen:
                    continue
                seen.add(pair)  # type: ignore[arg-type]
                other = selected[c.name]
                self.report(error(
                    "U0103", f"libraries `{name}` and `{c.name}` conflict but both are selected",
                    c.span,
                    notes=(f"`{name}` is selected by: {chain_str(selected[name].chain)}",
                           f"`{c.name}` is selected by: {chain_str(other.chain)}"),
                    help="choose other providers with `use LIBRARY for CONSTRUCT;`"))

    # ------------------------------------------------------------ parameters
    def params(self, selected: dict[str, Selected]) -> tuple[ParamValue, ...]:
        overrides = {(o.library.name, o.param.name): o for o in self.app.overrides}
        out: list[ParamValue] = []
        for name in sorted(selected):
            lib = selected[name].library
            for p in lib.params:
                o = overrides.get((name, p.name))
                if o is not None:
                    if o.value == p.default and type(o.value) is type(p.default):
                        self.report(warning(
                            "U0151", f"`{name}.{p.name}` is set to its default value {o.text}",
                            o.span, labels=(Label(p.span, "declared here"),),
                            help="remove the line, or keep it to pin the value"))
                    out.append(ParamValue(name, p.name, p.type, o.value,
                                          "override", o.span))
                else:
                    assert p.default is not None
                    out.append(ParamValue(name, p.name, p.type, p.default,
                                          "default", p.span))
        for o in self.app.overrides:
            if o.library.name not in selected:
                if not self.p.libraries[o.library.name].supports(self.backend):
                    # a library of other backends, as the shipped backend libraries are:
                    # the value applies where the library exists
                    continue
                reason = self.prune_reason(o.library.name)
                help_ = "remove the override, or require a construct that selects the library"
                if o.library.name in self.lost:  # it lost a provider choice: say how to win it
                    c, _winner = self.lost[o.library.name]
                    help_ = f"to use it, choose it: `use {o.library.name} for {c};`"
                self.report(error(
                    "U0112", f"`{o.library.name}.{o.param.name}` is set, but `{o.library.name}` "
                    f"is not in the image for backend `{self.backend}`", o.library.span,
                    notes=(f"`{o.library.name}` is {reason}",), help=help_))
        return tuple(out)

    def prune_reason(self, name: str) -> str:
        lib = self.p.libraries[name]
        if not lib.supports(self.backend):
            return f"unsupported on backend `{self.backend}` (supports {', '.join(lib.backends)})"
        if name in self.lost:
            c, winner = self.lost[name]
            return f"not chosen: `{winner}` provides `{c}` instead"
        return "not reached from the app"

    def pruned(self, selected: dict[str, Selected]) -> tuple[Pruned, ...]:
        return tuple(Pruned(n, self.prune_reason(n)) for n in sorted(self.p.libraries)
                     if n not in selected)

    def run(self) -> Resolution:
        selected, edges = self.walk()
        # by name from here on: every step below visits the libraries in that order
        selected = {name: selected[name] for name in sorted(selected)}
        order = self.order(selected, edges)
        self.conflicts(selected)
        params = self.params(selected)
        self.unused_imports(selected)
        for choice in self.app.choices:
            if choice.construct.name not in self.chosen:
                self.report(warning(
                    "U0153", f"`use {choice.library.name} for {choice.construct.name};` has no "
                    f"effect: nothing requires `{choice.construct.name}` on backend "
                    f"`{self.backend}`", choice.span,
                    help=f"remove it, or add `{choice.construct.name}` to the app's `requires`"))
        ok = not any(d.severity is Severity.ERROR for d in self.diags)
        self.sink.extend(self.diags)
        return Resolution(
            backend=self.backend, app=self.app, order=order or tuple(sorted(selected)),
            selected=selected, providers={k: v for k, v in sorted(
                self.chosen.items()) if v is not None},
            edges=tuple(edges), params=params, pruned=self.pruned(selected),
            ok=ok and order is not None,
            lost={k: v for k, v in sorted(self.lost.items()) if k not in selected})

    # ------------------------------------------------------------ warnings
    def unused_imports(self, selected: dict[str, Selected]) -> None:
        used: set[str] = {f"library:{n}" for n in selected}
        used |= {f"construct:{c}" for c in self.chosen}
        used |= {f"construct:{r.construct.name}" for r in self.app.requires}
        for s in selected.values():
            used |= {f"capability:{c.name}" for c in s.library.exercises}
        for pol in M.policy_closure(self.p, [r.name for r in self.app.policies]):
            used.add(f"policy:{pol.name}")
            used |= {f"capability:{r.capability.name}" for r in pol.rules}
            used |= {f"construct:{r.name}" for r in pol.require}
        mods = {m.name: m for m in self.p.modules}
        unused: dict[str, bool] = {}  # per imported module: none of its definitions used
        for m in self.p.modules:
            if m.root != "project":
                continue
            for target, span in m.imports:
                imported = mods.get(target)
                if imported is None or imported.root != "project" or imported.name == m.name:
                    continue
                idle = unused.get(imported.name)
                if idle is None:
                    idle = unused[imported.name] = used.isdisjoint(imported.defines)
                if idle:
                    self.report(warning(
                        "U0150", f"module `{imported.name}` is imported but none of its "
                        "definitions is used", span, help="remove the import"))


def resolve(program: M.Program, sink: Sink) -> Resolution:
    return Resolver(program, sink).run()
